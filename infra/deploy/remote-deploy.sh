#!/usr/bin/env bash
# Activates one release on the server; run there by .github/workflows/deploy.yml over SSH:
#
#   remote-deploy.sh <release> [tarball]
#
#   release  directory name under /srv/noillin/releases (the commit sha)
#   tarball  the uploaded release, default /srv/noillin/uploads/noillin-<release>.tar.gz;
#            it holds bin/{core-api,realtime,worker}, infra/ and scripts/ and is removed once
#            unpacked
#
# Steps: unpack into releases/<release> (a release already there is reused); render the gateway
# into a scratch directory and `nginx -t` it (a bad config stops here, before anything changed);
# point `current` at the release (atomic rename); reload the PM2 processes one at a time, waiting
# until each answers /readyz (60 s each), so the other instance keeps serving; if one does not,
# point `current` back at the previous release, reload what was reloaded, and exit 1. Then save
# the PM2 process list, keep the 5 newest releases, render the gateway into
# /etc/nginx/noillin.conf, `nginx -t` it and reload NGINX only if the test passes.
#
# Configuration is read from /srv/noillin/shared/noillin.env (never printed): the process ports
# (CORE_API_PORTS, REALTIME_PORTS, WORKER_PORTS; see infra/pm2/ecosystem.config.js) and the
# gateway (SERVER_NAME, TLS_CERT, TLS_KEY, NGINX_PREFIX). Runs as the deploy user, which owns
# /srv/noillin and the PM2 daemon; NGINX steps use `sudo -n` unless run as root.
#
# Environment overrides (for tests of this script): NOILLIN_ROOT, NOILLIN_ENV_FILE,
# NOILLIN_NGINX_CONF, READY_TIMEOUT, KEEP_RELEASES.
set -euo pipefail

ROOT=${NOILLIN_ROOT:-/srv/noillin}
ENV_FILE=${NOILLIN_ENV_FILE:-$ROOT/shared/noillin.env}
NGINX_CONF=${NOILLIN_NGINX_CONF:-/etc/nginx/noillin.conf}
READY_TIMEOUT=${READY_TIMEOUT:-60}
KEEP_RELEASES=${KEEP_RELEASES:-5}
# The process file reads these too.
export NOILLIN_ROOT=$ROOT NOILLIN_ENV_FILE=$ENV_FILE

log() { printf '%s deploy: %s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$*" >&2; }
die() {
    log "error: $*"
    exit 1
}

as_root() {
    if [[ $(id -u) -eq 0 ]]; then "$@"; else sudo -n "$@"; fi
}

usage="usage: remote-deploy.sh <release> [tarball]"
(($# >= 1 && $# <= 2)) || die "$usage"
release=$1
[[ $release =~ ^[A-Za-z0-9][A-Za-z0-9._-]*$ ]] || die "bad release name (letters, digits, . _ -)"
tarball=${2:-$ROOT/uploads/noillin-$release.tar.gz}
[[ $READY_TIMEOUT =~ ^[0-9]+$ ]] || die "READY_TIMEOUT must be a number of seconds"
if ! [[ $KEEP_RELEASES =~ ^[0-9]+$ ]] || ((KEEP_RELEASES < 2)); then
    die "KEEP_RELEASES must be 2 or more"
fi

for cmd in node pm2 curl tar flock find sort; do
    command -v "$cmd" >/dev/null || die "$cmd is not installed (see docs/operations.md)"
done
if command -v nginx >/dev/null; then
    nginx_bin=$(command -v nginx)
elif [[ -x /usr/sbin/nginx ]]; then
    nginx_bin=/usr/sbin/nginx
else
    die "nginx is not installed"
fi
[[ -r $ENV_FILE ]] || die "$ENV_FILE is missing or unreadable (see docs/operations.md)"

mkdir -p "$ROOT/releases"
exec 9>"$ROOT/.deploy.lock"
flock -n 9 || die "another deploy is running on this host"

tmp_dirs=()
cleanup() {
    local dir
    for dir in "${tmp_dirs[@]}"; do
        as_root rm -rf -- "$dir" 2>/dev/null || rm -rf -- "$dir" 2>/dev/null || true
    done
}
trap cleanup EXIT

# --- the env file ---------------------------------------------------------------------------

# Prints the value of KEY from the env file (the last assignment wins), or DEFAULT. Same rules as
# the parser in infra/pm2/ecosystem.config.js: KEY=VALUE, # comments, optional `export `, one
# pair of surrounding quotes removed.
env_get() { # KEY [DEFAULT]
    local line value found=false
    local pattern='^(export[[:space:]]+)?([A-Za-z_][A-Za-z0-9_]*)[[:space:]]*=[[:space:]]*(.*)$'
    while IFS= read -r line || [[ -n $line ]]; do
        line=${line%$'\r'}
        line=${line#"${line%%[![:space:]]*}"}
        line=${line%"${line##*[![:space:]]}"}
        [[ -z $line || $line == \#* ]] && continue
        [[ $line =~ $pattern ]] || continue
        [[ ${BASH_REMATCH[2]} == "$1" ]] || continue
        value=${BASH_REMATCH[3]}
        if ((${#value} >= 2)) && [[ ${value:0:1} == "${value: -1}" && ${value:0:1} == [\"\'] ]]; then
            value=${value:1:${#value}-2}
        fi
        found=true
    done <"$ENV_FILE"
    if [[ $found == true ]]; then printf '%s' "$value"; else printf '%s' "${2-}"; fi
}

server_name=$(env_get SERVER_NAME)
tls_cert=$(env_get TLS_CERT)
tls_key=$(env_get TLS_KEY)
nginx_prefix=$(env_get NGINX_PREFIX /var/lib/noillin/nginx)
[[ -n $server_name && -n $tls_cert && -n $tls_key ]] ||
    die "SERVER_NAME, TLS_CERT and TLS_KEY must be set in $ENV_FILE"

# "name port" per PM2 process of a release's process file (the file also validates the env file).
processes_of() { # release-dir
    node -e '
        for (const app of require(process.argv[1]).apps) console.log(app.name + " " + app.env.PORT);
    ' "$1/infra/pm2/ecosystem.config.js"
}

# --- unpack ---------------------------------------------------------------------------------

release_dir=$ROOT/releases/$release
if [[ -d $release_dir ]]; then
    log "release $release is already unpacked; using it"
    [[ -e $tarball ]] && rm -f -- "$tarball"
else
    [[ -f $tarball ]] || die "tarball $tarball not found"
    log "unpacking $(basename "$tarball") into releases/$release"
    unpack=$(mktemp -d "$ROOT/releases/.unpack-$release.XXXXXX")
    tmp_dirs+=("$unpack")
    tar -xzf "$tarball" -C "$unpack" --no-same-owner
    for binary in core-api realtime worker; do
        [[ -f $unpack/bin/$binary && -x $unpack/bin/$binary ]] || die "the tarball has no executable bin/$binary"
    done
    [[ -f $unpack/infra/pm2/ecosystem.config.js ]] || die "the tarball has no infra/pm2/ecosystem.config.js"
    [[ -f $unpack/infra/nginx/render.sh ]] || die "the tarball has no infra/nginx/render.sh"
    chmod 755 "$unpack"
    mv -T -- "$unpack" "$release_dir"
    rm -f -- "$tarball"
fi

new_list=$(processes_of "$release_dir") || die "infra/pm2/ecosystem.config.js of $release failed (env file?)"
mapfile -t new_procs <<<"$new_list"
[[ -n ${new_procs[0]-} ]] || die "no processes in the process file"

# --- gateway check --------------------------------------------------------------------------

upstreams() { # binary: "127.0.0.1:port ..." of its processes
    local entry name port list=()
    for entry in "${new_procs[@]}"; do
        read -r name port <<<"$entry"
        [[ ${name%-*} == "$1" ]] && list+=("127.0.0.1:$port")
    done
    printf '%s' "${list[*]}"
}

render() { # out prefix [as_root]
    local run=()
    [[ ${3-} == as_root ]] && run=(as_root)
    "${run[@]}" env MODE=prod SERVER_NAME="$server_name" TLS_CERT="$tls_cert" TLS_KEY="$tls_key" \
        CORE_API_UPSTREAMS="$(upstreams core-api)" REALTIME_UPSTREAMS="$(upstreams realtime)" \
        OUT="$1" PREFIX="$2" bash "$release_dir/infra/nginx/render.sh"
}

# A throwaway rendering first: a gateway config that fails `nginx -t` stops the deploy before
# anything changes, and never replaces the live one.
stage=$(mktemp -d)
tmp_dirs+=("$stage")
log "checking the gateway config"
render "$stage/noillin.conf" "$stage/run" || die "render.sh failed; the live release and gateway are unchanged"
as_root "$nginx_bin" -t -q -c "$stage/noillin.conf" || die "the gateway config does not pass nginx -t; the live release and gateway are unchanged"

# --- switch ---------------------------------------------------------------------------------

previous=
if [[ -L $ROOT/current ]]; then
    previous=$(basename "$(readlink "$ROOT/current")")
    [[ -d $ROOT/releases/$previous ]] || previous=
fi

point_current_at() { # release
    local link
    link=$ROOT/.current.$$
    ln -sfn "$ROOT/releases/$1" "$link"
    mv -T -- "$link" "$ROOT/current"
}

wait_ready() { # name port
    local deadline=$((SECONDS + READY_TIMEOUT)) status
    while true; do
        status=$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "http://127.0.0.1:$2/readyz" || true)
        if [[ $status == 200 ]]; then
            log "$1 is ready on 127.0.0.1:$2"
            return 0
        fi
        if ((SECONDS >= deadline)); then
            log "$1 is not ready on 127.0.0.1:$2 after ${READY_TIMEOUT} s (last /readyz status: ${status:-none}); see: pm2 logs $1"
            return 1
        fi
        sleep 1
    done
}

reload() { # release-dir name (PM2 reports errors on stderr; its tables are left out)
    pm2 startOrReload "$1/infra/pm2/ecosystem.config.js" --only "$2" --update-env >/dev/null
}

log "activating $release (previous: ${previous:-none})"
point_current_at "$release"
touch "$release_dir"

reloaded=()
failed=
for entry in "${new_procs[@]}"; do
    read -r name port <<<"$entry"
    reloaded+=("$name")
    log "reloading $name"
    if ! reload "$release_dir" "$name" || ! wait_ready "$name" "$port"; then
        failed=$name
        break
    fi
done

if [[ -n $failed ]]; then
    if [[ -z $previous || $previous == "$release" ]]; then
        log "$failed did not become ready and there is no other release to roll back to"
        exit 1
    fi
    log "$failed did not become ready: rolling back to $previous"
    point_current_at "$previous"
    touch "$ROOT/releases/$previous"
    old_list=$(processes_of "$ROOT/releases/$previous") ||
        die "cannot read the process file of $previous; current points at it, reload by hand: pm2 startOrReload $ROOT/current/infra/pm2/ecosystem.config.js --update-env"
    for name in "${reloaded[@]}"; do
        port=$(awk -v n="$name" '$1 == n { print $2 }' <<<"$old_list")
        if [[ -z $port ]]; then
            log "$name is not part of $previous: removing it"
            pm2 delete "$name" || true
            continue
        fi
        log "reloading $name on $previous"
        if reload "$ROOT/releases/$previous" "$name"; then
            wait_ready "$name" "$port" || true
        fi
    done
    pm2 save >/dev/null || true
    pm2 ls || true
    log "rolled back to $previous; release $release is kept in releases/ for inspection"
    exit 1
fi

pm2 save >/dev/null
pm2 ls
log "release $release is live"

# --- prune ----------------------------------------------------------------------------------

count=0
while read -r _ name; do
    count=$((count + 1))
    ((count > KEEP_RELEASES)) || continue
    [[ $name == "$release" || $name == "$previous" ]] && continue
    log "removing old release $name"
    rm -rf -- "${ROOT:?}/releases/$name"
done < <(find "$ROOT/releases" -mindepth 1 -maxdepth 1 -type d ! -name '.*' -printf '%T@ %f\n' | sort -rn)

# --- gateway --------------------------------------------------------------------------------

render "$NGINX_CONF" "$nginx_prefix" as_root || die "render.sh failed writing $NGINX_CONF"
as_root "$nginx_bin" -t -c "$NGINX_CONF" || die "$NGINX_CONF does not pass nginx -t; NGINX was not reloaded"

if as_root test -s "$nginx_prefix/nginx.pid"; then
    as_root "$nginx_bin" -c "$NGINX_CONF" -s reload || die "nginx -s reload failed"
    log "NGINX reloaded"
else
    log "warning: NGINX is not running with $NGINX_CONF (no $nginx_prefix/nginx.pid); start it: sudo systemctl restart nginx"
fi
log "done: $release"
