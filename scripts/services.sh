# shellcheck shell=bash
# Sourced by scripts/run and scripts/test: makes sure Redis, RabbitMQ and NGINX are installed
# (Debian packages) and that Redis and RabbitMQ answer on their ports, starting them when they
# do not. Servers already running (system services, CI service containers) are used as they are
# and never stopped.

REDIS_PORT=${REDIS_PORT:-6379}
RABBITMQ_PORT=${RABBITMQ_PORT:-5672}

log() { printf '\033[1m==>\033[0m %s\n' "$*" >&2; }

port_open() { # host port
    (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null
}

wait_for_port() { # name port seconds
    local deadline=$((SECONDS + $3))
    until port_open 127.0.0.1 "$2"; do
        if ((SECONDS > deadline)); then
            log "$1 did not open port $2 within $3 s"
            return 1
        fi
        sleep 0.5
    done
}

as_root() {
    if [[ $(id -u) -eq 0 ]]; then "$@"; else sudo "$@"; fi
}

apt_updated=false
apt_install() { # packages...
    if [[ $apt_updated == false ]]; then
        log "apt-get update"
        as_root apt-get update -qq
        apt_updated=true
    fi
    log "installing $*"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

ensure_installed() {
    local missing=()
    command -v nginx >/dev/null || [[ -x /usr/sbin/nginx ]] || missing+=(nginx)
    command -v openssl >/dev/null || missing+=(openssl)
    command -v curl >/dev/null || missing+=(curl)
    if ! port_open 127.0.0.1 "$REDIS_PORT"; then
        command -v redis-server >/dev/null || missing+=(redis-server)
    fi
    if ! port_open 127.0.0.1 "$RABBITMQ_PORT"; then
        command -v rabbitmq-server >/dev/null || [[ -x /usr/sbin/rabbitmq-server ]] || missing+=(rabbitmq-server)
    fi
    if ((${#missing[@]})); then
        apt_install "${missing[@]}"
    fi
}

ensure_redis() {
    port_open 127.0.0.1 "$REDIS_PORT" && return 0
    log "starting redis-server on 127.0.0.1:$REDIS_PORT"
    as_root mkdir -p /var/lib/redis /var/log/redis
    as_root redis-server --daemonize yes --bind 127.0.0.1 -::1 --port "$REDIS_PORT" \
        --save "" --appendonly no --dir /var/lib/redis --logfile /var/log/redis/noillin.log
    wait_for_port redis "$REDIS_PORT" 30
}

ensure_rabbitmq() {
    port_open 127.0.0.1 "$RABBITMQ_PORT" && return 0
    log "starting rabbitmq-server (takes a few seconds)"
    # The Erlang port mapper listens on loopback only.
    as_root env ERL_EPMD_ADDRESS=127.0.0.1 RABBITMQ_NODE_IP_ADDRESS=127.0.0.1 \
        rabbitmq-server -detached
    wait_for_port rabbitmq "$RABBITMQ_PORT" 120
}

# Debian installs nginx into /usr/sbin, which is not on an unprivileged user's PATH.
nginx_bin() {
    if [[ -n ${NGINX_BIN:-} ]]; then
        printf '%s' "$NGINX_BIN"
    elif command -v nginx >/dev/null; then
        command -v nginx
    else
        printf '%s' /usr/sbin/nginx
    fi
}

ensure_services() {
    ensure_installed
    ensure_redis
    ensure_rabbitmq
}

# Node.js and npm run the official Socket.IO client in the end-to-end tests.
ensure_node() {
    local missing=()
    command -v node >/dev/null || missing+=(nodejs)
    command -v npm >/dev/null || missing+=(npm)
    if ((${#missing[@]})); then
        apt_install "${missing[@]}"
    fi
}

# Installs tests/e2e/js's packages from its lock when they are missing or the lock changed
# since the last install: a copy of the lock installed is kept in node_modules (which `npm ci`
# empties first).
ensure_e2e_js_packages() {
    local dir=tests/e2e/js
    local stamp=$dir/node_modules/.installed-package-lock.json
    if cmp -s "$dir/package-lock.json" "$stamp"; then
        return 0
    fi
    log "installing $dir's packages (npm ci)"
    npm ci --prefix "$dir" --no-audit --no-fund --loglevel=error >/dev/null
    cp "$dir/package-lock.json" "$stamp"
}
