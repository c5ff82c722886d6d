#!/usr/bin/env bash
# run.sh: build liveroomd (Release) and run it in the foreground. Arguments
# are passed to liveroomd; without any it listens on 7070 (clients) and 7071
# (admin) and keeps its data in ./liveroom-data.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
"$root/tools/setup.sh"
mkdir -p build
if ! cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >build/configure.log 2>&1; then
    cat build/configure.log >&2
    exit 1
fi
if ! cmake --build build -j2 >build/build.log 2>&1; then
    grep -E 'error|Error' build/build.log | head -n 40 >&2
    echo "run: build failed; full log in build/build.log" >&2
    exit 1
fi
if [ "$#" -eq 0 ]; then
    set -- --port 7070 --admin-port 7071 --data-dir ./liveroom-data
fi
exec build/liveroomd "$@"
