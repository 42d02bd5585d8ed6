#!/usr/bin/env bash
# The official MCP Python SDK client against a running demo stack (test_flow.py).
#
#   e2e/python/run.sh --install   create target/e2e-python/venv and install requirements.txt
#                                 (again only when requirements.txt changed)
#   e2e/python/run.sh [ARGS...]   install if needed, then pytest test_flow.py [ARGS...] with
#                                 DEMO_MCP_URL and DEMO_ISSUER from the environment
#   e2e/python/run.sh test_faults.py [ARGS...]
#                                 the fault suite instead (it starts its own Tollgate and MCP
#                                 server: target/debug/tollgate, node and e2e/node_modules)
#
# scripts/client-matrix.sh python runs it inside scripts/demo.sh, with Tollgate issuing access
# tokens for 3 s so that the SDK's own refresh is exercised.
set -euo pipefail
cd "$(dirname "$0")/../.."

venv=target/e2e-python/venv
requirements=e2e/python/requirements.txt
stamp="$venv/.requirements.sha256"

install() {
  local want
  want="$(sha256sum "$requirements" | cut -d' ' -f1)"
  if [[ -x $venv/bin/python && -f $stamp && $(cat "$stamp") == "$want" ]]; then
    return
  fi
  command -v python3 >/dev/null || {
    echo "e2e/python/run.sh: python3 is needed (3.10 or later)" >&2
    exit 1
  }
  rm -rf "$venv"
  python3 -m venv "$venv"
  # Every dependency is pinned in the file; pip check proves none is missing.
  "$venv/bin/pip" install --quiet --disable-pip-version-check --no-deps -r "$requirements"
  "$venv/bin/pip" check --disable-pip-version-check >/dev/null
  printf '%s\n' "$want" >"$stamp"
}

install
if [[ ${1:-} == --install ]]; then
  exit 0
fi
test=test_flow.py
if [[ ${1:-} == test_*.py ]]; then
  test=$1
  shift
fi
exec "$venv/bin/python" -m pytest -p no:cacheprovider "e2e/python/$test" "$@"
