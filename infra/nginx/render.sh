#!/usr/bin/env bash
# Renders the gateway configuration: OUT (nginx.conf) and, beside it, the snippets it includes.
# The same routing serves production (MODE=prod: TLS, HTTP->HTTPS redirect) and local runs and
# tests (MODE=local: plain HTTP on 127.0.0.1:LISTEN). Run the result with `nginx -c "$OUT"`.
#
#   OUT                 path of the nginx.conf to write (required)
#   CORE_API_UPSTREAMS  core-api addresses, space-separated host:port (required)
#   REALTIME_UPSTREAMS  realtime addresses, space-separated host:port (required)
#   PREFIX              directory for pid, logs and temp files (default: OUT's directory)
#   MODE                local (default) or prod
#   LISTEN              local mode: port on 127.0.0.1 (default 8080)
#   SERVER_NAME, TLS_CERT, TLS_KEY   prod mode: the site name and certificate paths (required)
#   RATE_API, RATE_AUTH per-client-address request rates (default 50r/s and 10r/m); RATE_AUTH
#                       covers login, register and password reset
#   BURST_API           requests allowed above RATE_API in a burst (default 200)
#   BURST_AUTH          requests allowed above RATE_AUTH in a burst (default 10)
#   RATE_AUTH_SESSION   per-client-address rate of token refresh and logout (default 60r/m: an
#                       office of a few hundred users behind one address, each refreshing every
#                       15 minutes, stays far below it)
#   BURST_AUTH_SESSION  requests allowed above RATE_AUTH_SESSION in a burst (default 60: that
#                       office coming back online at once)
#   RATE_WEBHOOKS       per-sender-address rate of payment webhooks (default 100r/s: Stripe sends
#                       from a handful of addresses, in bursts after an outage)
#   BURST_WEBHOOKS      webhooks allowed above RATE_WEBHOOKS in a burst (default 1000)
#   WORKER_PROCESSES    default auto
set -euo pipefail

die() { echo "render.sh: $*" >&2; exit 2; }

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
: "${OUT:?OUT is required}"
: "${CORE_API_UPSTREAMS:?CORE_API_UPSTREAMS is required}"
: "${REALTIME_UPSTREAMS:?REALTIME_UPSTREAMS is required}"
MODE=${MODE:-local}
LISTEN=${LISTEN:-8080}
RATE_API=${RATE_API:-50r/s}
RATE_AUTH=${RATE_AUTH:-10r/m}
BURST_API=${BURST_API:-200}
BURST_AUTH=${BURST_AUTH:-10}
RATE_AUTH_SESSION=${RATE_AUTH_SESSION:-60r/m}
BURST_AUTH_SESSION=${BURST_AUTH_SESSION:-60}
RATE_WEBHOOKS=${RATE_WEBHOOKS:-100r/s}
BURST_WEBHOOKS=${BURST_WEBHOOKS:-1000}
WORKER_PROCESSES=${WORKER_PROCESSES:-auto}

conf_dir=$(mkdir -p "$(dirname "$OUT")" && cd "$(dirname "$OUT")" && pwd)
PREFIX=${PREFIX:-$conf_dir}
mkdir -p "$PREFIX/tmp"
PREFIX=$(cd "$PREFIX" && pwd)

[[ $RATE_API =~ ^[0-9]+r/[sm]$ ]] || die "RATE_API must look like 50r/s"
[[ $RATE_AUTH =~ ^[0-9]+r/[sm]$ ]] || die "RATE_AUTH must look like 10r/m"
[[ $BURST_API =~ ^[0-9]+$ ]] || die "BURST_API must be a number"
[[ $BURST_AUTH =~ ^[0-9]+$ ]] || die "BURST_AUTH must be a number"
[[ $RATE_AUTH_SESSION =~ ^[0-9]+r/[sm]$ ]] || die "RATE_AUTH_SESSION must look like 60r/m"
[[ $BURST_AUTH_SESSION =~ ^[0-9]+$ ]] || die "BURST_AUTH_SESSION must be a number"
[[ $RATE_WEBHOOKS =~ ^[0-9]+r/[sm]$ ]] || die "RATE_WEBHOOKS must look like 100r/s"
[[ $BURST_WEBHOOKS =~ ^[0-9]+$ ]] || die "BURST_WEBHOOKS must be a number"
[[ $WORKER_PROCESSES =~ ^(auto|[0-9]+)$ ]] || die "WORKER_PROCESSES must be auto or a number"

servers() { # upstream server lines from a space-separated address list
    local addr lines=""
    for addr in $1; do
        [[ $addr =~ ^[A-Za-z0-9.:_-]+:[0-9]+$|^\[[0-9a-fA-F:]+\]:[0-9]+$ ]] || die "bad upstream address: $addr"
        lines+="        server $addr max_fails=3 fail_timeout=5s;"$'\n'
    done
    [[ -n $lines ]] || die "empty upstream list"
    printf '%s' "${lines%$'\n'}"
}

case $MODE in
local)
    [[ $LISTEN =~ ^[0-9]+$ ]] || die "LISTEN must be a port number"
    server_blocks="    server {
        listen 127.0.0.1:$LISTEN;
        include $conf_dir/routes.conf;
    }"
    ;;
prod)
    : "${SERVER_NAME:?SERVER_NAME is required in prod mode}"
    : "${TLS_CERT:?TLS_CERT is required in prod mode}"
    : "${TLS_KEY:?TLS_KEY is required in prod mode}"
    [[ $SERVER_NAME =~ ^[A-Za-z0-9.-]+$ ]] || die "bad SERVER_NAME"
    server_blocks="    server {
        listen 80;
        listen [::]:80;
        server_name $SERVER_NAME;
        include $conf_dir/errors.conf;
        location / {
            return 301 https://$SERVER_NAME\$request_uri;
        }
    }

    server {
        listen 443 ssl http2;
        listen [::]:443 ssl http2;
        server_name $SERVER_NAME;
        ssl_certificate $TLS_CERT;
        ssl_certificate_key $TLS_KEY;
        ssl_protocols TLSv1.2 TLSv1.3;
        ssl_prefer_server_ciphers off;
        ssl_session_cache shared:noillin_tls:10m;
        ssl_session_timeout 1d;
        ssl_session_tickets off;
        add_header Strict-Transport-Security \"max-age=63072000; includeSubDomains\" always;
        include $conf_dir/routes.conf;
    }"
    ;;
*) die "MODE must be local or prod" ;;
esac

core_servers=$(servers "$CORE_API_UPSTREAMS")
realtime_servers=$(servers "$REALTIME_UPSTREAMS")

render() { # template -> output, substituting every placeholder
    local text
    text=$(<"$1")
    text=${text//@CONF_DIR@/$conf_dir}
    text=${text//@PREFIX@/$PREFIX}
    text=${text//@WORKER_PROCESSES@/$WORKER_PROCESSES}
    text=${text//@RATE_API@/$RATE_API}
    text=${text//@RATE_AUTH@/$RATE_AUTH}
    text=${text//@BURST_API@/$BURST_API}
    text=${text//@BURST_AUTH@/$BURST_AUTH}
    text=${text//@RATE_AUTH_SESSION@/$RATE_AUTH_SESSION}
    text=${text//@BURST_AUTH_SESSION@/$BURST_AUTH_SESSION}
    text=${text//@RATE_WEBHOOKS@/$RATE_WEBHOOKS}
    text=${text//@BURST_WEBHOOKS@/$BURST_WEBHOOKS}
    text=${text//@CORE_API_SERVERS@/$core_servers}
    text=${text//@REALTIME_SERVERS@/$realtime_servers}
    text=${text//@SERVERS@/$server_blocks}
    printf '%s\n' "$text" >"$2"
}

for snippet in gateway.conf errors.conf proxy.conf routes.conf; do
    render "$here/$snippet" "$conf_dir/$snippet"
done
render "$here/nginx.conf.in" "$OUT"
