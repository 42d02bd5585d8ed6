#!/usr/bin/env python3
"""Soak test (issue 20): runs a mixed load against `tollgate serve` for some minutes and prints
the database size, the SQLite write-ahead log size and the server's resident set size at the
start, every 30 seconds and at the end. With the sweeper on they should stay flat.

The load, from WORKERS threads, each on its own keep-alive connection:
  55 %  client_credentials token requests (a confidential client)
  35 %  authorization code flows: GET /authorize (consent mode auto) and code redemption,
        and every other time a refresh of the new refresh token
  10 %  dynamic registrations (the default limit of 60 a minute per address applies: the
        429s past it are counted as "limited", not as errors)

Lifetimes are shortened so that the steady state arrives within minutes: access tokens
30 s, refresh tokens 60 s, events kept 60 s, the sweeper every 10 s with a 10 s grace.
TOLLGATE_* variables in the environment override these (for example
TOLLGATE_SWEEP__WAL_CHECKPOINT_MIB=8).

Usage: scripts/soak.py [--minutes 3] [--workers 8] [--database-url URL] [--binary PATH]
(scripts/soak.sh builds the debug binary first when there is none.)
"""
import argparse
import base64
import http.client
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CALLBACK = "http://127.0.0.1:53682/callback"
VERIFIER = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
CHALLENGE = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"


def start_server(binary, database_url):
    # The soak's settings, unless the caller's TOLLGATE_* variables say otherwise.
    env = {
        "RUST_LOG": "tollgate=warn",
        "TOLLGATE_CONSENT__MODE": "auto",
        "TOLLGATE_ACCESS_TOKEN_TTL": "30s",
        "TOLLGATE_REFRESH_TOKEN_TTL": "60s",
        "TOLLGATE_EVENTS__RETENTION": "60s",
        "TOLLGATE_SWEEP__INTERVAL": "10s",
        "TOLLGATE_SWEEP__GRACE": "10s",
    }
    env.update(os.environ)
    env.pop("TOLLGATE_DATABASE_URL", None)
    process = subprocess.Popen(
        [binary, "serve", "--bind", "127.0.0.1:0", "--database-url", database_url],
        stdout=subprocess.PIPE,
        env=env,
        text=True,
    )
    # "tollgate listening on 127.0.0.1:PORT with issuer ..."
    line = process.stdout.readline()
    if not line:
        sys.exit("tollgate exited before listening")
    host, port = line.split()[3].rsplit(":", 1)
    return process, host, int(port)


class Client:
    """One keep-alive connection; reconnects when the server closed it."""

    def __init__(self, host, port):
        self.host, self.port = host, port
        self.conn = None

    def request(self, method, path, body=None, headers=None):
        for attempt in range(2):
            if self.conn is None:
                self.conn = http.client.HTTPConnection(self.host, self.port, timeout=60)
            try:
                self.conn.request(method, path, body=body, headers=headers or {})
                response = self.conn.getresponse()
                data = response.read()
                return response.status, response.getheader("Location"), data
            except (http.client.HTTPException, ConnectionError, OSError):
                self.conn.close()
                self.conn = None
                if attempt == 1:
                    raise
        raise AssertionError("unreachable")


FORM = {"Content-Type": "application/x-www-form-urlencoded"}


def form(**fields):
    return urllib.parse.urlencode(fields)


def register(client, metadata):
    status, _, body = client.request(
        "POST", "/register", json.dumps(metadata), {"Content-Type": "application/json"}
    )
    return status, json.loads(body) if status == 201 else None


def setup(host, port):
    client = Client(host, port)
    _, machine = register(
        client,
        {
            "grant_types": ["client_credentials"],
            "response_types": [],
            "token_endpoint_auth_method": "client_secret_basic",
        },
    )
    _, public = register(
        client,
        {
            "redirect_uris": [CALLBACK],
            "grant_types": ["authorization_code", "refresh_token"],
            "token_endpoint_auth_method": "none",
        },
    )
    basic = base64.b64encode(
        f"{machine['client_id']}:{machine['client_secret']}".encode()
    ).decode()
    return basic, public["client_id"]


class Counts:
    def __init__(self):
        self.lock = threading.Lock()
        self.by_kind = {}

    def add(self, kind, outcome):
        with self.lock:
            key = (kind, outcome)
            self.by_kind[key] = self.by_kind.get(key, 0) + 1

    def snapshot(self):
        with self.lock:
            return dict(self.by_kind)


def worker(host, port, basic, public_id, deadline, counts):
    client = Client(host, port)
    rng = random.Random()
    refresh = True
    while time.monotonic() < deadline:
        roll = rng.random()
        try:
            if roll < 0.55:
                status, _, _ = client.request(
                    "POST",
                    "/token",
                    form(grant_type="client_credentials"),
                    dict(FORM, Authorization=f"Basic {basic}"),
                )
                counts.add("client_credentials", "ok" if status == 200 else f"{status}")
            elif roll < 0.90:
                query = urllib.parse.urlencode(
                    {
                        "response_type": "code",
                        "client_id": public_id,
                        "redirect_uri": CALLBACK,
                        "code_challenge": CHALLENGE,
                        "code_challenge_method": "S256",
                        "state": "soak",
                    }
                )
                status, location, _ = client.request("GET", f"/authorize?{query}")
                if status != 302 or "code=" not in (location or ""):
                    counts.add("authorize", f"{status}")
                    continue
                code = urllib.parse.parse_qs(urllib.parse.urlparse(location).query)["code"][0]
                counts.add("authorize", "ok")
                status, _, body = client.request(
                    "POST",
                    "/token",
                    form(
                        grant_type="authorization_code",
                        code=code,
                        code_verifier=VERIFIER,
                        client_id=public_id,
                        redirect_uri=CALLBACK,
                    ),
                    FORM,
                )
                counts.add("code_redemption", "ok" if status == 200 else f"{status}")
                refresh = not refresh
                if status == 200 and refresh:
                    token = json.loads(body)["refresh_token"]
                    status, _, _ = client.request(
                        "POST",
                        "/token",
                        form(grant_type="refresh_token", refresh_token=token, client_id=public_id),
                        FORM,
                    )
                    counts.add("refresh", "ok" if status == 200 else f"{status}")
            else:
                status, _ = register(client, {"redirect_uris": [CALLBACK]})
                outcome = {201: "ok", 429: "limited"}.get(status, f"{status}")
                counts.add("registration", outcome)
        except Exception as error:  # noqa: BLE001 - counted and reported
            counts.add("transport", type(error).__name__)


def file_size(path):
    try:
        return os.path.getsize(path)
    except OSError:
        return 0


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def database_size(database_url):
    if database_url.startswith("sqlite:"):
        path = database_url.split("://", 1)[-1] if "://" in database_url else database_url[7:]
        return file_size(path), file_size(path + "-wal")
    out = subprocess.run(
        ["psql", database_url, "-Atc", "SELECT pg_database_size(current_database())"],
        capture_output=True,
        text=True,
    )
    return int(out.stdout.strip() or 0), None


def mib(n):
    return "-" if n is None else f"{n / 1048576:.1f} MiB"


def report(label, database_url, pid, counts, started):
    db, wal = database_size(database_url)
    done = counts.snapshot()
    total = sum(v for (_, outcome), v in done.items())
    elapsed = time.monotonic() - started
    rate = total / elapsed if elapsed > 0 else 0
    print(
        f"{label:>6}  database {mib(db):>10}  wal {mib(wal):>10}  rss {rss_kib(pid) / 1024:.1f} MiB"
        f"  requests {total} ({rate:.0f}/s)",
        flush=True,
    )
    return db, wal, rss_kib(pid)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--minutes", type=float, default=3)
    parser.add_argument("--workers", type=int, default=8)
    parser.add_argument("--database-url")
    parser.add_argument("--binary", default=os.path.join(ROOT, "target", "debug", "tollgate"))
    args = parser.parse_args()
    workdir = tempfile.mkdtemp(prefix="tollgate-soak-")
    database_url = args.database_url or f"sqlite://{workdir}/soak.db"
    process, host, port = start_server(args.binary, database_url)
    try:
        basic, public_id = setup(host, port)
        counts = Counts()
        started = time.monotonic()
        deadline = started + args.minutes * 60
        print(f"soak: {args.minutes} min, {args.workers} workers, {database_url}", flush=True)
        first = report("start", database_url, process.pid, counts, started)
        threads = [
            threading.Thread(
                target=worker, args=(host, port, basic, public_id, deadline, counts), daemon=True
            )
            for _ in range(args.workers)
        ]
        for thread in threads:
            thread.start()
        while time.monotonic() < deadline:
            time.sleep(min(30, max(0, deadline - time.monotonic())))
            if time.monotonic() < deadline:
                report(f"{int(time.monotonic() - started)}s", database_url, process.pid, counts, started)
        for thread in threads:
            thread.join()
        last = report("end", database_url, process.pid, counts, started)
        print("outcomes:")
        for (kind, outcome), n in sorted(counts.snapshot().items()):
            print(f"  {kind:<18} {outcome:<10} {n}")
        print(
            f"start -> end: database {mib(first[0])} -> {mib(last[0])}, "
            f"wal {mib(first[1])} -> {mib(last[1])}, "
            f"rss {first[2] / 1024:.1f} -> {last[2] / 1024:.1f} MiB"
        )
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()


if __name__ == "__main__":
    main()
