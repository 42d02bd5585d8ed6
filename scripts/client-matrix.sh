#!/usr/bin/env bash
# The client matrix: each official MCP client completes the whole MCP authorization flow
# (401 → protected resource metadata → Tollgate's metadata → dynamic registration → consent →
# code + PKCE → token → tools/call whoami → refresh → tools/call again) against the Rust
# example MCP server and Tollgate, each on a stack of its own started by scripts/demo.sh
# (PostgreSQL, a fresh database per client).
#
#   scripts/client-matrix.sh [CLIENT...]   install what each client needs, run it, report
#
# Clients (all by default, in this order):
#   typescript  the MCP TypeScript SDK: e2e/demo.test.mjs (npm ci in e2e/ if needed)
#   python      the MCP Python SDK: e2e/python (a venv in target/e2e-python)
#   rust        rmcp with its auth feature: e2e/rmcp-client (built into target/e2e-rmcp-client)
#   inspector   the MCP Inspector 2.x CLI on Node 22 from npm: e2e/inspector (npm ci there)
#   enterprise  the MCP Python SDK's IdentityAssertionOAuthProvider (Enterprise-Managed
#               Authorization, ID-JAG): e2e/python/enterprise.sh starts a second Tollgate
#               as the IdP (DEMO_IDP_PORT, 9001 unless set); the stack's Tollgate trusts it
#
# Each client prints its own result and timing; the summary at the end lists them all, and
# the script exits non-zero when any failed. The stacks use DEMO_TOLLGATE_PORT and
# DEMO_MCP_PORT (9000 and 8000 unless set), one after the other.
# shellcheck disable=SC2034 # test_* and env_* are read through namerefs (declare -n) below
set -euo pipefail
cd "$(dirname "$0")/.."

all_clients=(typescript python rust inspector enterprise)
say() { printf 'client-matrix: %s\n' "$*"; }

# ---------------------------------------------------------------------------- the clients
# Each client has a setup (install or build; outside the stack) and a test command (run by
# scripts/demo.sh with DEMO_MCP_URL and DEMO_ISSUER exported), plus the extra environment of
# its stack.

setup_typescript() {
  # .ci/run's end-to-end step has run npm ci in e2e/ already.
  [[ -d e2e/node_modules/@modelcontextprotocol/sdk ]] || (cd e2e && npm ci --no-audit --no-fund)
}
test_typescript=(npm --prefix e2e run demo)
env_typescript=()

setup_python() {
  e2e/python/run.sh --install
}
test_python=(e2e/python/run.sh -v)
# The SDK refreshes by itself once its token has expired; test_flow.py polls (bounded) until
# then, so keep the lifetime short.
env_python=(TOLLGATE_ACCESS_TOKEN_TTL=3s)

rmcp_target_dir=target/e2e-rmcp-client
setup_rust() {
  # Not a workspace member (rmcp's client features would reach the workspace's builds), so
  # `cargo fmt --all` does not see it.
  cargo fmt --manifest-path e2e/rmcp-client/Cargo.toml -- --check
  cargo build --locked --manifest-path e2e/rmcp-client/Cargo.toml --target-dir "$rmcp_target_dir"
}
test_rust=("$rmcp_target_dir/debug/tollgate-e2e-rmcp-client")
env_rust=()

setup_inspector() {
  # Installs the Inspector and Node 22 (the npm registry's node package) from the lock file.
  (cd e2e/inspector && npm ci --no-audit --no-fund --loglevel=error)
}
test_inspector=(npm --prefix e2e/inspector test)
env_inspector=()

setup_enterprise() {
  e2e/python/run.sh --install
}
test_enterprise=(e2e/python/enterprise.sh -v)
# The stack's Tollgate is the MCP server's authorization server: the client the SDK
# authenticates as, and the IdP whose ID-JAGs it accepts.
idp_issuer="http://${DEMO_HOST:-localhost}:${DEMO_IDP_PORT:-9001}"
env_enterprise=(
  'TOLLGATE_CLIENTS=[{client_id = "ras-client", secret = "ras-secret", grant_types = ["urn:ietf:params:oauth:grant-type:jwt-bearer"]}]'
  "TOLLGATE_ID_JAG__TRUST=[{issuer = \"${idp_issuer}\"}]"
)

# ---------------------------------------------------------------------------- run
clients=("$@")
((${#clients[@]} > 0)) || clients=("${all_clients[@]}")
for client in "${clients[@]}"; do
  [[ " ${all_clients[*]} " == *" $client "* ]] ||
    { printf 'client-matrix: error: unknown client %s (one of: %s)\n' "$client" "${all_clients[*]}" >&2; exit 2; }
done

results=()
passed=0
failed=0
for client in "${clients[@]}"; do
  printf '\n'
  say "--- $client: setup"
  start=$SECONDS
  status=0
  "setup_$client" || status=$?
  setup_seconds=$((SECONDS - start))
  if ((status != 0)); then
    say "--- $client: FAIL in setup (${setup_seconds}s, status $status)"
    results+=("$(printf '%-11s FAIL  setup %4ss  (setup failed)' "$client" "$setup_seconds")")
    failed=$((failed + 1))
    continue
  fi

  say "--- $client: flow against the example MCP server and Tollgate"
  declare -n command="test_$client" extra_env="env_$client"
  start=$SECONDS
  status=0
  env "${extra_env[@]}" DEMO_DATABASE="tollgate_matrix_$client" DEMO_RESET=1 \
    scripts/demo.sh "${command[@]}" || status=$?
  run_seconds=$((SECONDS - start))
  unset -n command extra_env
  if ((status == 0)); then
    verdict=PASS
    passed=$((passed + 1))
  else
    verdict=FAIL
    failed=$((failed + 1))
  fi
  say "--- $client: $verdict in ${run_seconds}s (setup ${setup_seconds}s)"
  results+=("$(printf '%-11s %s  setup %4ss  flow %4ss' "$client" "$verdict" "$setup_seconds" "$run_seconds")")
done

printf '\nclient matrix (wall time; the flow includes starting and stopping the stack):\n'
printf '  %s\n' "${results[@]}"
printf 'client-matrix: %d passed, %d failed\n' "$passed" "$failed"
((failed == 0))
