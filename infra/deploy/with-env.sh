#!/usr/bin/env bash
# Runs a command on the server with the environment PM2 gives the processes, for one-off
# commands such as `core-api admin create`:
#
#   with-env.sh COMMAND [ARGS...]
#
# The variables of /srv/noillin/shared/noillin.env, read with the rules of the parser in
# infra/pm2/ecosystem.config.js (KEY=VALUE, # comments, optional `export `, one pair of
# surrounding quotes removed, no expansion: the file is not shell and is never sourced), and,
# unless the file sets it, DATA_DIR=/srv/noillin/shared/data; the working directory is
# /srv/noillin/shared. So the command opens the same store as the running processes.
#
# Overrides (as in remote-deploy.sh): NOILLIN_ROOT, NOILLIN_ENV_FILE.
set -euo pipefail

ROOT=${NOILLIN_ROOT:-/srv/noillin}
ENV_FILE=${NOILLIN_ENV_FILE:-$ROOT/shared/noillin.env}

(($# >= 1)) || { echo "usage: with-env.sh COMMAND [ARGS...]" >&2; exit 2; }
[[ -r $ENV_FILE ]] || { echo "with-env.sh: $ENV_FILE is missing or unreadable" >&2; exit 1; }

export DATA_DIR=$ROOT/shared/data
pattern='^(export[[:space:]]+)?([A-Za-z_][A-Za-z0-9_]*)[[:space:]]*=[[:space:]]*(.*)$'
number=0
while IFS= read -r line || [[ -n $line ]]; do
    number=$((number + 1))
    line=${line%$'\r'}
    line=${line#"${line%%[![:space:]]*}"}
    line=${line%"${line##*[![:space:]]}"}
    [[ -z $line || $line == \#* ]] && continue
    if ! [[ $line =~ $pattern ]]; then
        # The line itself is not shown: it may hold a secret.
        echo "with-env.sh: $ENV_FILE:$number: expected KEY=VALUE" >&2
        exit 1
    fi
    value=${BASH_REMATCH[3]}
    if ((${#value} >= 2)) && [[ ${value:0:1} == "${value: -1}" && ${value:0:1} == [\"\'] ]]; then
        value=${value:1:${#value}-2}
    fi
    export "${BASH_REMATCH[2]}=$value"
done <"$ENV_FILE"

cd "$ROOT/shared"
exec "$@"
