#!/usr/bin/env bash
# Enterprise-Managed Authorization (the MCP ext-auth extension, ID-JAG) with the official MCP
# Python SDK's IdentityAssertionOAuthProvider, run inside scripts/demo.sh: the demo stack's
# Tollgate is the MCP server's authorization server (scripts/client-matrix.sh starts it with
# a client ras-client and a [[id_jag.trust]] entry for the IdP below); this script starts a
# second Tollgate as the enterprise IdP (e2e/python/enterprise/idp.toml, an in-memory
# database, DEMO_IDP_PORT or 9001), runs test_enterprise.py, and stops the IdP.
#
#   e2e/python/enterprise.sh [PYTEST ARGS...]   (needs DEMO_MCP_URL and DEMO_ISSUER)
set -euo pipefail
cd "$(dirname "$0")/../.."

: "${DEMO_MCP_URL:?run this inside scripts/demo.sh (scripts/client-matrix.sh enterprise)}"
: "${DEMO_ISSUER:?run this inside scripts/demo.sh}"
idp_port="${DEMO_IDP_PORT:-9001}"
host="$(sed -E 's#^https?://([^/:]+|\[[^]]+\]).*#\1#' <<<"$DEMO_ISSUER")"
export DEMO_IDP_ISSUER="http://${host}:${idp_port}"
tollgate_bin="${CARGO_TARGET_DIR:-target}/debug/tollgate"
log=target/demo/idp.log
mkdir -p target/demo

# The authorization server's settings, which the matrix exports for demo.sh, are not the IdP's.
env -u TOLLGATE_CLIENTS -u TOLLGATE_ID_JAG__TRUST -u TOLLGATE_RESOURCES \
  TOLLGATE_ISSUER="$DEMO_IDP_ISSUER" TOLLGATE_ALLOW_INSECURE_ISSUER=true \
  TOLLGATE_BIND="127.0.0.1:${idp_port}" TOLLGATE_DATABASE_URL="sqlite::memory:" \
  TOLLGATE_CONFIG=e2e/python/enterprise/idp.toml \
  TOLLGATE_ID_JAG__ISSUE="[{client = \"idp-client\", audience = \"${DEMO_ISSUER}\", resource = \"${DEMO_MCP_URL}\", client_id = \"ras-client\", scopes = [\"mcp:tools\"]}]" \
  "$tollgate_bin" serve >"$log" 2>&1 &
idp_pid=$!
trap 'kill "$idp_pid" 2>/dev/null || true; wait "$idp_pid" 2>/dev/null || true' EXIT
deadline=$((SECONDS + 30))
until "$tollgate_bin" healthcheck --url "http://127.0.0.1:${idp_port}/healthz" >/dev/null 2>&1; do
  if ! kill -0 "$idp_pid" 2>/dev/null || ((SECONDS > deadline)); then
    echo "enterprise.sh: the IdP did not start; its log:" >&2
    tail -n 40 "$log" >&2
    exit 1
  fi
  sleep 0.25
done
echo "enterprise.sh: the IdP is $DEMO_IDP_ISSUER (log $log)" >&2
e2e/python/run.sh --install
target/e2e-python/venv/bin/python -m pytest -p no:cacheprovider e2e/python/test_enterprise.py "$@"
