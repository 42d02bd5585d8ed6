#!/usr/bin/env bash
# Makes sure the PostgreSQL database named by TOLLGATE_TEST_POSTGRES_URL answers: starts the
# local cluster if the server does not answer, and creates the database if the server
# answers but the database does not exist (a fresh cluster has no `test` database). Fails
# loudly, saying which of the two it is, if it cannot: CI must not silently skip the
# PostgreSQL half of the tests.
set -euo pipefail
url="${TOLLGATE_TEST_POSTGRES_URL:?set TOLLGATE_TEST_POSTGRES_URL}"

# postgres://USER@HOST:PORT/DATABASE?QUERY -> the server part, the database and the query.
if [[ ! "$url" =~ ^([a-z]+://[^/?]*)(/([^?]*))?(\?.*)?$ ]]; then
  echo "FATAL: TOLLGATE_TEST_POSTGRES_URL is not a postgres:// URL: $url" >&2
  exit 1
fi
server="${BASH_REMATCH[1]}"
database="${BASH_REMATCH[3]}"
query="${BASH_REMATCH[4]}"

answers() { psql "$url" -qAtc 'select 1' >/dev/null 2>&1; }
# The server answers if its maintenance database does (postgres, else template1).
admin_url=""
server_answers() {
  local candidate
  for candidate in postgres template1; do
    if psql "$server/$candidate$query" -qAtc 'select 1' >/dev/null 2>&1; then
      admin_url="$server/$candidate$query"
      return 0
    fi
  done
  return 1
}

# pg_isready: the server accepts connections, whatever it then says to this user.
running() { pg_isready -q -d "$url" >/dev/null 2>&1; }

if ! answers && ! server_answers && ! running; then
  echo "PostgreSQL does not answer at $server; starting the local cluster"
  version="$(ls /etc/postgresql 2>/dev/null | head -n1 || true)"
  if [ -n "$version" ]; then
    pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
  fi
  for _ in $(seq 60); do
    server_answers && break
    sleep 0.5
  done
fi
if ! answers && [ -n "$database" ] && server_answers; then
  echo "PostgreSQL answers, but has no database '$database'; creating it"
  # \gexec runs the statement the query yields, if any: create only when missing.
  psql "$admin_url" -qAt -v ON_ERROR_STOP=1 -v db="$database" <<'SQL' || true
SELECT format('CREATE DATABASE %I', :'db')
WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = :'db') \gexec
SQL
fi
if ! answers; then
  reason="$(psql "$url" -qAtc 'select 1' 2>&1 >/dev/null | head -n1 || true)"
  if server_answers; then
    echo "FATAL: the PostgreSQL server at $server answers, but not database '$database'" \
      "(and it could not be created): $reason" >&2
  elif running; then
    echo "FATAL: the PostgreSQL server at $server is running but refuses the connection:" \
      "$reason" >&2
  else
    echo "FATAL: PostgreSQL is not reachable at $server and could not be started: $reason" >&2
  fi
  exit 1
fi
echo "PostgreSQL answers at $url"
