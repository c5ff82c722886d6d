#!/usr/bin/env bash
# check-format.sh: fail when a tracked C file differs from clang-format's
# output (the repository's .clang-format). Run by ctest as style.clang_format.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
fmt="${CLANG_FORMAT:-clang-format}"
command -v "$fmt" >/dev/null || { echo "check-format: $fmt not found" >&2; exit 1; }
bad=0
while IFS= read -r f; do
    if ! "$fmt" --dry-run -Werror "$f" >/dev/null 2>&1; then
        echo "not clang-formatted: $f"
        bad=1
    fi
done < <(git ls-files '*.c' '*.h' 2>/dev/null || find engine include bench tests tools -name '*.[ch]')
[ "$bad" = 0 ] && echo "check-format: every C file is formatted"
exit "$bad"
