#!/usr/bin/env bash
# setup.sh: installs what building and testing liveroom needs, and nothing
# that is already there. Safe to run again and again: it is silent when the
# machine is complete, runs `apt-get update` only when a package is missing,
# and never prompts (CI has no stdin).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

pkgs=(build-essential cmake pkg-config liburing-dev libjemalloc-dev libxxhash-dev
      libmsgpack-dev libssl-dev zlib1g-dev libsqlite3-dev libjansson-dev
      libcurl4-openssl-dev libhiredis-dev libcmocka-dev python3 python3-websockets
      redis-server nodejs npm clang libclang-rt-14-dev prometheus chromium iproute2)

missing=()
for p in "${pkgs[@]}"; do
    # A nodejs build from another source may ship node and npm itself and
    # "Provide" npm; installing Debian's npm over it would fight that build.
    case "$p" in
    nodejs) command -v node >/dev/null 2>&1 && continue ;;
    npm) command -v npm >/dev/null 2>&1 && continue ;;
    esac
    st="$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)"
    [ "$st" = "install ok installed" ] || missing+=("$p")
done

if [ "${#missing[@]}" -gt 0 ]; then
    echo "setup: installing ${missing[*]}" >&2
    sudo=()
    if [ "$(id -u)" -ne 0 ]; then
        if command -v sudo >/dev/null 2>&1; then
            sudo=(sudo -n)
        else
            echo "setup: missing ${missing[*]} and not root (no sudo)" >&2
            exit 1
        fi
    fi
    export DEBIAN_FRONTEND=noninteractive
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq </dev/null
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
        --no-install-recommends "${missing[@]}" </dev/null >/dev/null
fi

# Node's `ws` for the integration tests written against a third-party client;
# playwright-core (and `ws`) for the browser tests, which drive Debian's
# chromium above: never let npm fetch a browser of its own.
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1
for nodedir in "$root/tests/integration/node" "$root/tests/browser"; do
    if [ -f "$nodedir/package.json" ] && [ ! -d "$nodedir/node_modules" ]; then
        echo "setup: installing node test dependencies in ${nodedir#"$root"/}" >&2
        if [ -f "$nodedir/package-lock.json" ]; then
            (cd "$nodedir" && npm ci --no-audit --no-fund --loglevel=error </dev/null >/dev/null)
        else
            (cd "$nodedir" && npm install --no-audit --no-fund --loglevel=error </dev/null >/dev/null)
        fi
    fi
done
