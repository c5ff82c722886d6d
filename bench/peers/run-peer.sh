#!/usr/bin/env bash
# run-peer.sh: start one server, measure it with liveroom-bench, stop it.
# It owns the start/wait/stop around a run so that every server gets the same
# treatment (fresh process, the bench sampling the process that does the
# work); it must never measure a server it did not start, so it refuses a
# port that already answers.
#
#   bench/peers/run-peer.sh PEER [liveroom-bench args...]
#
# PEER: node-ws   bench/peers/node-ws/server.mjs (npm ws), --target ws-relay
#       nchan     nginx + Nchan from bench/peers/nchan/nginx.conf.in, one
#                 worker; the bench samples the worker, --target ws-relay
#       liveroom  liveroomd (engine protocol, --secret benchkey)
# The rest of the arguments go to liveroom-bench, for example
#   bench/peers/run-peer.sh nchan --scenario stadium --conns 10000 --rate 40 --duration 20
#
# Environment:
#   BUILD=DIR            build dir holding liveroom-bench (and liveroomd);
#                        default: the newest build*/liveroom-bench of the repo
#   PORT=N               server port (default 7390; liveroom also uses N+1 for
#                        admin, N+2 for raw TCP)
#   LIVEROOMD_ARGS="..." extra liveroomd flags, e.g. "--rate 100000 --user-rate 100000"
#   NCHAN_BUFFER=N       nchan_message_buffer_length (default 16)
#   KEEP=1               keep the temporary directory (logs) after the run
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
peer=${1:-}
[ -n "$peer" ] || {
    sed -n '2,24p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2
    exit 2
}
shift
port=${PORT:-7390}

if [ -z "${BUILD:-}" ]; then
    newest=$(find "$root" -maxdepth 2 -path "$root/build*/liveroom-bench" -type f \
        -printf '%T@ %h\n' 2>/dev/null | sort -rn | head -n1)
    BUILD=${newest#* }
fi
bench="${BUILD:-}/liveroom-bench"
[ -x "$bench" ] || { echo "run-peer: no liveroom-bench in BUILD=${BUILD:-?}" >&2; exit 2; }

answers() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

if answers "$port"; then
    echo "run-peer: something already listens on 127.0.0.1:$port; pick another PORT" >&2
    exit 2
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/run-peer-$peer.XXXXXX")
server=""   # the process we started and stop
sample=""   # the process the bench samples (nginx: the worker)

# shellcheck disable=SC2317  # called by the EXIT trap
stop() {
    if [ -n "$server" ] && kill -0 "$server" 2>/dev/null; then
        kill -TERM "$server" 2>/dev/null || true
        for _ in $(seq 50); do kill -0 "$server" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$server" 2>/dev/null || true
    fi
    wait 2>/dev/null || true
    if [ -n "${KEEP:-}" ]; then echo "run-peer: kept $tmp" >&2; else rm -rf "$tmp"; fi
}
trap stop EXIT
trap 'exit 130' INT TERM

target=(--target ws-relay --port "$port")
case "$peer" in
node-ws)
    dir="$here/node-ws"
    if [ ! -d "$dir/node_modules/ws" ]; then
        # the lock file pins ws; npm ci installs exactly that
        (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error) >&2
    fi
    node "$dir/server.mjs" "$port" 2>"$tmp/server.log" &
    server=$!
    sample=$server
    ;;
nchan)
    module=/usr/lib/nginx/modules/ngx_nchan_module.so
    if ! command -v nginx >/dev/null || [ ! -f "$module" ]; then
        echo "run-peer: needs nginx and Nchan: apt-get install nginx-light libnginx-mod-nchan" >&2
        exit 2
    fi
    mkdir -p "$tmp/logs" "$tmp/tmp"
    sed -e "s|@PREFIX@|$tmp|g" -e "s|@PORT@|$port|g" \
        -e "s|@USER@|$(id -un)|g" -e "s|@GROUP@|$(id -gn)|g" \
        -e "s|@NCHAN_MODULE@|$module|g" -e "s|@BUFFER_LENGTH@|${NCHAN_BUFFER:-16}|g" \
        "$here/nchan/nginx.conf.in" >"$tmp/nginx.conf"
    nginx -p "$tmp" -c "$tmp/nginx.conf" -g 'daemon off;' 2>"$tmp/server.log" &
    server=$!
    ;;
liveroom)
    liveroomd="$BUILD/liveroomd"
    [ -x "$liveroomd" ] || { echo "run-peer: no liveroomd in $BUILD" >&2; exit 2; }
    # LIVEROOMD_ARGS is split on spaces on purpose: it is a list of flags
    # shellcheck disable=SC2086
    "$liveroomd" --port "$port" --admin-port $((port + 1)) --tcp-port $((port + 2)) \
        --data-dir "$tmp/data" --secret benchkey --log-level warn ${LIVEROOMD_ARGS:-} \
        2>"$tmp/server.log" &
    server=$!
    sample=$server
    target=(--port "$port" --admin-port $((port + 1)) --secret benchkey)
    ;;
*)
    echo "run-peer: unknown peer '$peer' (node-ws | nchan | liveroom)" >&2
    exit 2
    ;;
esac

for _ in $(seq 100); do
    answers "$port" && break
    kill -0 "$server" 2>/dev/null || break
    sleep 0.1
done
if ! answers "$port"; then
    echo "run-peer: $peer did not start on port $port:" >&2
    tail -n 20 "$tmp/server.log" "$tmp"/logs/error.log 2>/dev/null >&2
    exit 1
fi
if [ "$peer" = nchan ]; then
    sample=$(pgrep -P "$server" | head -n1)
    [ -n "$sample" ] || { echo "run-peer: no nginx worker under $server" >&2; exit 1; }
fi

echo "run-peer: $peer pid $sample on 127.0.0.1:$port, bench $bench;$(uptime)" >&2
rc=0
"$bench" "${target[@]}" --server-pid "$sample" "$@" || rc=$?
if ! kill -0 "$server" 2>/dev/null; then
    echo "run-peer: $peer exited during the run:" >&2
    tail -n 20 "$tmp/server.log" "$tmp"/logs/error.log 2>/dev/null >&2
    [ "$rc" -ne 0 ] || rc=1
fi
exit "$rc"
