#!/usr/bin/env bash
# Soak test (issue 20): mixed load against `tollgate serve` for a few minutes; prints the
# database size, the SQLite WAL size and the server's RSS at the start, every 30 s and at
# the end. See scripts/soak.py for the load and the settings it serves with.
#
#   scripts/soak.sh [--minutes 3] [--workers 8] [--database-url URL] [--binary PATH]
#
# Without --binary it uses target/debug/tollgate, building it first when it is missing.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
if [[ " $* " != *" --binary "* && ! -x "$root/target/debug/tollgate" ]]; then
    (cd "$root" && cargo build --bin tollgate)
fi
exec python3 "$root/scripts/soak.py" "$@"
