// PM2 process file for a server deployed by infra/deploy/remote-deploy.sh.
//
//   pm2 startOrReload /srv/noillin/current/infra/pm2/ecosystem.config.js --update-env
//
// Layout (see docs/operations.md):
//   /srv/noillin/releases/<sha>/{bin,infra,scripts}   one unpacked release
//   /srv/noillin/current -> releases/<sha>             the live release
//   /srv/noillin/shared/noillin.env                    configuration and secrets (KEY=VALUE)
//
// Scripts are started through the `current` symlink, not through this file's own directory:
// PM2 keeps the script path of a running process across reloads, and Node resolves symlinks in
// __dirname, so a path derived from __dirname would keep every reload on the first release.
// Through `current`, a reload after the symlink moved starts the new binaries, and a rollback
// (symlink moved back, reload) starts the old ones.
//
// One PM2 entry per process, each with its own port (fork mode: the binaries are not Node
// programs). The ports come from the env file, so the process list, the readiness checks and
// the NGINX upstreams in remote-deploy.sh all follow the same variables:
//   CORE_API_PORTS  default "4000 4010"  -> core-api-1, core-api-2
//   REALTIME_PORTS  default "4001 4011"  -> realtime-1, realtime-2
//   WORKER_PORTS    default "4002"       -> worker-1
'use strict';

const fs = require('fs');
const path = require('path');

const ROOT = process.env.NOILLIN_ROOT || '/srv/noillin';
const ENV_FILE = process.env.NOILLIN_ENV_FILE || path.join(ROOT, 'shared', 'noillin.env');
const BIN_DIR = path.join(ROOT, 'current', 'bin');
const SHARED_DIR = path.join(ROOT, 'shared');

// KEY=VALUE lines; blank lines and lines starting with # are skipped; an optional leading
// `export ` is ignored; one pair of matching surrounding quotes is removed. No interpolation,
// no inline comments (a # inside a value is part of the value).
function readEnvFile(file) {
  let text;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw new Error(`cannot read ${file}: ${err.code || err.message}`);
  }
  const env = {};
  text.split(/\r?\n/).forEach((raw, index) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    const match = /^(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*)$/.exec(line);
    if (!match) {
      // The line itself is not shown: it may hold a secret.
      throw new Error(`${file}:${index + 1}: expected KEY=VALUE`);
    }
    let value = match[2];
    if (value.length >= 2 && (value[0] === '"' || value[0] === "'") && value.endsWith(value[0])) {
      value = value.slice(1, -1);
    }
    env[match[1]] = value;
  });
  return env;
}

function ports(shared, key, fallback) {
  const list = (shared[key] || fallback).split(/[\s,]+/).filter(Boolean);
  for (const port of list) {
    if (!/^[0-9]+$/.test(port) || Number(port) < 1 || Number(port) > 65535) {
      throw new Error(`${ENV_FILE}: ${key} must be a list of port numbers`);
    }
  }
  if (list.length === 0) throw new Error(`${ENV_FILE}: ${key} is empty`);
  return list;
}

const shared = readEnvFile(ENV_FILE);

function app(binary, index, port) {
  return {
    name: `${binary}-${index + 1}`,
    script: path.join(BIN_DIR, binary),
    interpreter: 'none',
    exec_mode: 'fork',
    instances: 1,
    cwd: SHARED_DIR,
    autorestart: true,
    // Graceful drain: on stop/reload PM2 sends SIGINT (SIGTERM when the daemon runs with
    // PM2_KILL_SIGNAL=SIGTERM; the binaries treat both alike: stop accepting, finish in-flight
    // requests and jobs, exit), then SIGKILL after 30 s.
    kill_timeout: 30000,
    // A crashing process is restarted after 100 ms, then 1.5 times longer each time, at most
    // 15 s apart; after 20 restarts that each ran less than min_uptime, PM2 gives up (errored).
    min_uptime: 10000,
    max_restarts: 20,
    exp_backoff_restart_delay: 100,
    merge_logs: true,
    time: false,
    env: {
      LOG_FORMAT: 'json',
      // Outside the release directory: releases are replaced and pruned, data is not.
      DATA_DIR: path.join(SHARED_DIR, 'data'),
      ...shared,
      PORT: port,
    },
  };
}

const groups = [
  ['core-api', ports(shared, 'CORE_API_PORTS', '4000 4010')],
  ['realtime', ports(shared, 'REALTIME_PORTS', '4001 4011')],
  ['worker', ports(shared, 'WORKER_PORTS', '4002')],
];

const apps = groups.flatMap(([binary, list]) => list.map((port, index) => app(binary, index, port)));
const seen = new Set();
for (const { name, env } of apps) {
  if (seen.has(env.PORT)) throw new Error(`${ENV_FILE}: port ${env.PORT} (${name}) is used twice`);
  seen.add(env.PORT);
}

module.exports = { apps };
