#!/usr/bin/env bash
# The demo stack of docker-compose.yml (PostgreSQL, Tollgate, the example MCP server) as
# local processes, for machines without Docker. The two services get the same environment
# variables as in docker-compose.yml, with the same values where they are seen from outside
# (issuer, MCP URL, resources) and local ones where they say how a process is run (listening
# address, database, where the MCP server fetches the keys); scripts/check-compose.py
# compares the two.
#
#   scripts/demo.sh                 start the stack, print what to do, wait for Ctrl-C
#   scripts/demo.sh CMD [ARGS...]   start the stack, run CMD with DEMO_MCP_URL, DEMO_ISSUER
#                                   and DEMO_DATABASE_URL (Tollgate's database) exported,
#                                   stop the stack, exit with CMD's status
#   scripts/demo.sh --print-env     print each service's environment, start nothing
#
# Settings (environment variables):
#   DEMO_HOST                the host name under which browsers and MCP clients reach both
#                            services, as in docker-compose.yml; the issuer is
#                            http://DEMO_HOST:DEMO_TOLLGATE_PORT and the MCP server
#                            http://DEMO_HOST:DEMO_MCP_PORT/mcp. A host other than localhost,
#                            127.x.x.x or [::1] makes both listen on every interface, for a
#                            demo to another machine [localhost]
#   DEMO_POSTGRES_ADMIN_URL  a PostgreSQL URL allowed to create databases
#                            [postgres://postgres@127.0.0.1:5432/postgres]
#   DEMO_DATABASE            the database Tollgate uses, created if missing [tollgate_demo]
#   DEMO_RESET               1: drop that database first, for a stack without history
#                            (registered clients, grants, keys) [0]
#   DEMO_TOLLGATE_PORT       Tollgate's port [9000]
#   DEMO_MCP_PORT            the MCP server's port [8000]
#   DEMO_PROFILE             debug or release, the cargo build profile [debug]
#   DEMO_LOG_DIR             where the two logs go [target/demo]
set -euo pipefail
cd "$(dirname "$0")/.."

host="${DEMO_HOST:-localhost}"
admin_url="${DEMO_POSTGRES_ADMIN_URL:-postgres://postgres@127.0.0.1:5432/postgres}"
database="${DEMO_DATABASE:-tollgate_demo}"
reset="${DEMO_RESET:-0}"
tollgate_port="${DEMO_TOLLGATE_PORT:-9000}"
mcp_port="${DEMO_MCP_PORT:-8000}"
profile="${DEMO_PROFILE:-debug}"
log_dir="${DEMO_LOG_DIR:-target/demo}"
target_dir="${CARGO_TARGET_DIR:-target}"
startup_timeout=30 # seconds, for each of the two services

say() { printf 'demo: %s\n' "$*" >&2; }
die() {
  printf 'demo: error: %s\n' "$*" >&2
  exit 1
}

usage() {
  sed -n '2,/^set -euo pipefail$/p' "$0" | sed -e '$d' -e 's/^# \{0,1\}//'
}

# `wait -n` with process ids, below, came with bash 5.1.
if ((BASH_VERSINFO[0] < 5 || (BASH_VERSINFO[0] == 5 && BASH_VERSINFO[1] < 1))); then
  die "this script needs bash 5.1 or newer, not $BASH_VERSION (macOS: brew install bash)"
fi

print_env=0
case "${1:-}" in
  -h | --help)
    usage
    exit 0
    ;;
  --print-env)
    (($# == 1)) || die "--print-env takes no arguments"
    print_env=1
    ;;
esac

# ---------------------------------------------------------------------------- settings
for port in "$tollgate_port" "$mcp_port"; do
  if ! [[ $port =~ ^[0-9]+$ ]] || ((10#$port < 1 || 10#$port > 65535)); then
    die "not a TCP port: $port"
  fi
done
[[ $tollgate_port != "$mcp_port" ]] || die "DEMO_TOLLGATE_PORT and DEMO_MCP_PORT are both $mcp_port"
# A DNS name, an IPv4 address or a bracketed IPv6 address, written as URLs need it: the
# issuer is compared character for character, so Tollgate refuses upper case.
[[ $host =~ ^([a-z0-9]([a-z0-9-]*[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$ || $host =~ ^\[[0-9a-f:.]+\]$ ]] ||
  die "DEMO_HOST must be a lower-case host name or IP address (IPv6 in brackets), not '$host'"
# Where the processes listen (another machine must reach a host other than loopback), and
# the loopback address by which this script reaches them.
case "$host" in
  localhost | 127.*) listen=127.0.0.1 loopback=127.0.0.1 ;;
  "[::1]") listen="[::1]" loopback="::1" ;;
  "["*) listen="[::]" loopback="::1" ;;
  *) listen=0.0.0.0 loopback=127.0.0.1 ;;
esac
loopback_url_host=$loopback
[[ $loopback != *:* ]] || loopback_url_host="[$loopback]"
[[ $reset == 0 || $reset == 1 ]] || die "DEMO_RESET must be 0 or 1, not '$reset'"
[[ $database =~ ^[a-z_][a-z0-9_]*$ ]] ||
  die "DEMO_DATABASE must be a plain lower-case identifier ([a-z_][a-z0-9_]*), not '$database'"
case "$profile" in
  debug) cargo_profile=() ;;
  release) cargo_profile=(--release) ;;
  *) die "DEMO_PROFILE must be debug or release, not '$profile'" ;;
esac
# The database URL is the admin URL with the database name replaced; the query stays.
if [[ $admin_url =~ ^(postgres(ql)?://[^/?]*)(/[^?]*)?(\?.*)?$ ]]; then
  database_url="${BASH_REMATCH[1]}/${database}${BASH_REMATCH[4]}"
else
  die "DEMO_POSTGRES_ADMIN_URL is not a postgres:// URL: $admin_url"
fi

issuer="http://${host}:${tollgate_port}"
mcp_url="http://${host}:${mcp_port}/mcp"
# The processes are local; the health checks and the MCP server's key fetches use the
# loopback address, as the containers use service names.
tollgate_local="http://${loopback_url_host}:${tollgate_port}"
mcp_local_metadata_url="http://${loopback_url_host}:${mcp_port}/.well-known/oauth-protected-resource/mcp"
mcp_metadata_url="http://${host}:${mcp_port}/.well-known/oauth-protected-resource/mcp"
tollgate_bin="${target_dir}/${profile}/tollgate"
mcp_bin="${target_dir}/${profile}/tollgate-example-mcp-server"
tollgate_log="${log_dir}/tollgate.log"
mcp_log="${log_dir}/mcp-server.log"

# The environments of the compose services `tollgate` and `mcp-server`.
tollgate_env=(
  TOLLGATE_ISSUER="$issuer"
  # The issuer is plain http, which Tollgate allows on loopback hosts only unless this is
  # set; docker-compose.yml cannot tell whether DEMO_HOST is loopback and always sets it,
  # and so does this script (it changes nothing for localhost).
  TOLLGATE_ALLOW_INSECURE_ISSUER=true
  TOLLGATE_BIND="${listen}:${tollgate_port}"
  TOLLGATE_DATABASE_URL="$database_url"
  TOLLGATE_RESOURCES="[{url = \"${mcp_url}\", scopes = [\"mcp:tools\", \"mcp:admin\", \"mcp:weather\"]}]"
  RUST_LOG="${RUST_LOG:-tollgate=info}"
)
mcp_env=(
  MCP_BIND="${listen}:${mcp_port}"
  MCP_PUBLIC_URL="$mcp_url"
  TOLLGATE_ISSUER="$issuer"
  TOLLGATE_JWKS_URL="${tollgate_local}/jwks.json"
)
if ((print_env)); then
  printf 'tollgate %s\n' "${tollgate_env[@]}"
  printf 'mcp-server %s\n' "${mcp_env[@]}"
  exit 0
fi
# The issuer comes from DEMO_HOST and DEMO_TOLLGATE_PORT, as in docker-compose.yml; a
# different TOLLGATE_ISSUER in the environment would be silently overridden.
if [[ -n ${TOLLGATE_ISSUER:-} && $TOLLGATE_ISSUER != "$issuer" ]]; then
  die "TOLLGATE_ISSUER is set to $TOLLGATE_ISSUER, but the demo's issuer is $issuer; the demo derives it from DEMO_HOST (and DEMO_TOLLGATE_PORT): unset TOLLGATE_ISSUER and set DEMO_HOST instead"
fi

# Something answering on the port would take the requests meant for the demo, and the
# health checks below would believe it.
port_in_use() { (: <>"/dev/tcp/${loopback}/$1") 2>/dev/null; }
refuse_if_in_use() {
  local port=$1 what=$2 variable=$3
  if port_in_use "$port"; then
    die "port $port (for $what) is already in use on $loopback; stop what listens there (ss -ltnp 'sport = :$port' shows it) or choose another port with $variable=..."
  fi
}
refuse_if_in_use "$tollgate_port" "Tollgate" DEMO_TOLLGATE_PORT
refuse_if_in_use "$mcp_port" "the MCP server" DEMO_MCP_PORT

# ---------------------------------------------------------------------------- PostgreSQL
command -v psql >/dev/null ||
  die "psql is not installed; it is needed to create the database (Debian/Ubuntu: apt-get install postgresql-client)"
postgres_answers() { psql "$admin_url" -qAtc 'select 1' >/dev/null 2>&1; }
if ! postgres_answers; then
  say "PostgreSQL does not answer at $admin_url; trying to start the local cluster"
  if ! TOLLGATE_TEST_POSTGRES_URL="$admin_url" scripts/ensure-postgres.sh >&2; then
    die "PostgreSQL is not reachable at $admin_url. Start it (Debian/Ubuntu: sudo pg_ctlcluster <version> main start; or with Docker: docker run -d -p 5432:5432 -e POSTGRES_HOST_AUTH_METHOD=trust postgres:16) or point DEMO_POSTGRES_ADMIN_URL at a server where you may create databases"
  fi
fi
if [[ $reset == 1 ]]; then
  psql "$admin_url" -q -c "set client_min_messages = warning" \
    -c "drop database if exists \"${database}\" with (force)" >/dev/null ||
    die "cannot drop the database $database at $admin_url"
  say "dropped the database $database (DEMO_RESET=1)"
fi
exists="$(psql "$admin_url" -qAtc "select 1 from pg_database where datname = '${database}'")" ||
  die "cannot query $admin_url (see psql's message above)"
if [[ $exists != 1 ]]; then
  psql "$admin_url" -qc "create database \"${database}\"" >/dev/null ||
    die "cannot create the database $database at $admin_url"
  say "created the database $database"
fi

# ---------------------------------------------------------------------------- build
say "building tollgate and tollgate-example-mcp-server ($profile)"
cargo build "${cargo_profile[@]}" -p tollgate -p tollgate-example-mcp-server

# ---------------------------------------------------------------------------- processes
mkdir -p "$log_dir"
tollgate_pid=""
mcp_pid=""

# Stops the two processes: SIGTERM, then SIGKILL after 5 seconds.
# shellcheck disable=SC2317 # called from the EXIT trap
stop_all() {
  local pid
  for pid in $mcp_pid $tollgate_pid; do
    kill -TERM "$pid" 2>/dev/null || true
  done
  for pid in $mcp_pid $tollgate_pid; do
    for _ in $(seq 50); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
      say "process $pid did not stop on SIGTERM; killing it"
      kill -KILL "$pid" 2>/dev/null || true
    fi
    wait "$pid" 2>/dev/null || true
  done
  mcp_pid=""
  tollgate_pid=""
}
# shellcheck disable=SC2317 # the EXIT trap
on_exit() {
  local status=$?
  trap - EXIT INT TERM
  if [[ -n $tollgate_pid$mcp_pid ]]; then
    stop_all
    say "stopped (logs in $log_dir/)"
  fi
  exit "$status"
}
trap on_exit EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Fails with the end of the log, and a hint when there is one.
fail_with_log() {
  local message=$1 log=$2 hint=${3:-}
  printf 'demo: error: %s\n--- last lines of %s ---\n' "$message" "$log" >&2
  tail -n 40 "$log" >&2 || true
  printf -- '---\n' >&2
  [[ -z $hint ]] || say "$hint"
  exit 1
}

# Polls `tollgate healthcheck --url URL` (exit 0 on any 2xx) until it succeeds, the process
# dies, or the time is up.
wait_until_healthy() {
  local what=$1 pid=$2 url=$3 log=$4 deadline=$((SECONDS + startup_timeout))
  until "$tollgate_bin" healthcheck --url "$url" >/dev/null 2>&1; do
    kill -0 "$pid" 2>/dev/null || fail_with_log "$what exited while starting" "$log"
    ((SECONDS < deadline)) || fail_with_log "$what did not answer at $url within ${startup_timeout}s" "$log"
    sleep 0.25
  done
  # The answer must have come from our process, not from one that took the port meanwhile.
  kill -0 "$pid" 2>/dev/null || fail_with_log "$what exited while starting" "$log"
}

# Tollgate, as the compose service `tollgate`. `serve` migrates the database itself;
# `migrate` first makes a wrong database URL fail here, with its own message.
env "${tollgate_env[@]}" "$tollgate_bin" migrate >"$tollgate_log" 2>&1 ||
  fail_with_log "tollgate migrate failed for $database_url" "$tollgate_log" \
    "if another version of Tollgate made this database, DEMO_RESET=1 starts from an empty one"
env "${tollgate_env[@]}" "$tollgate_bin" serve >>"$tollgate_log" 2>&1 &
tollgate_pid=$!
wait_until_healthy "Tollgate" "$tollgate_pid" "${tollgate_local}/healthz" "$tollgate_log"

# The example MCP server, as the compose service `mcp-server`.

env "${mcp_env[@]}" "$mcp_bin" >"$mcp_log" 2>&1 &
mcp_pid=$!
wait_until_healthy "the MCP server" "$mcp_pid" "$mcp_local_metadata_url" "$mcp_log"

export DEMO_MCP_URL="$mcp_url" DEMO_ISSUER="$issuer" DEMO_DATABASE_URL="$database_url"

# ---------------------------------------------------------------------------- run
if (($# > 0)); then
  say "running: $*"
  status=0
  "$@" || status=$?
  exit "$status"
fi

cat <<EOF

The Tollgate demo stack is running:

  Tollgate (authorization server)  ${issuer}       pid ${tollgate_pid}, log ${tollgate_log}
  MCP server (Rust example)        ${mcp_url}   pid ${mcp_pid}, log ${mcp_log}
  PostgreSQL database              ${database_url}

Point an MCP client at ${mcp_url}, for example the MCP Inspector:

  npx @modelcontextprotocol/inspector@latest      (Node 22.19 or later)

  Inspector 2.x: Add Servers, Add manually, transport streamable-http, URL ${mcp_url},
  Add, then switch the server on. Inspector 1.x: Transport Type "Streamable HTTP", the
  URL, Connect.
  Your browser goes to Tollgate's consent page (${issuer}/authorize?...): choose the
  user "dev" and click Approve; the Inspector then lists the tools.

  whoami and add need the scope mcp:tools, which the first consent grants. admin_stats
  needs mcp:admin: the server answers 403 insufficient_scope, and a client that supports
  step-up authorization sends you to the consent page again for "mcp:tools mcp:admin".

Metadata: ${mcp_metadata_url}
          ${issuer}/.well-known/oauth-authorization-server

Press Ctrl-C to stop both processes.
EOF

# Wait for Ctrl-C, or for one of the two processes to die.
status=0
wait -n "$tollgate_pid" "$mcp_pid" || status=$?
kill -0 "$tollgate_pid" 2>/dev/null ||
  fail_with_log "Tollgate stopped unexpectedly (status $status)" "$tollgate_log"
kill -0 "$mcp_pid" 2>/dev/null ||
  fail_with_log "the MCP server stopped unexpectedly (status $status)" "$mcp_log"
exit "$status"
