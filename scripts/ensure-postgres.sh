#!/usr/bin/env bash
# Makes sure the PostgreSQL server named by TOLLGATE_TEST_POSTGRES_URL answers, starting
# the local cluster if it does not. Fails loudly if it cannot: CI must not silently skip
# the PostgreSQL half of the tests.
set -euo pipefail
url="${TOLLGATE_TEST_POSTGRES_URL:?set TOLLGATE_TEST_POSTGRES_URL}"

answers() { psql "$url" -qAtc 'select 1' >/dev/null 2>&1; }

if ! answers; then
  echo "PostgreSQL does not answer at $url; starting the local cluster"
  version="$(ls /etc/postgresql 2>/dev/null | head -n1 || true)"
  if [ -n "$version" ]; then
    pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
  fi
  for _ in $(seq 60); do
    answers && break
    sleep 0.5
  done
fi
if ! answers; then
  echo "FATAL: PostgreSQL is not reachable at $url and could not be started" >&2
  exit 1
fi
echo "PostgreSQL answers at $url"
