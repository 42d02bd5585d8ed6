#!/usr/bin/env python3
"""Measures how fast `tollgate serve` is ready and how much memory it holds once it is.

Method: for each run, start the release binary on an existing SQLite database (key and
schema already there) and poll GET /.well-known/oauth-authorization-server over a raw
socket every millisecond; "ready" is the first 200. The resident set size (VmRSS) is read
from /proc right after, then the process is stopped with SIGTERM. The first run on an empty
database (schema creation and RSA key generation) is reported separately.

Two configurations are measured, each on its own database: none (the defaults), and
tollgate.example.toml (declared users and clients, among them a confidential client with
a secret in clear, whose argon2 check must not delay readiness); --bind and
--database-url override the file's.

Usage: scripts/measure-startup.py [RUNS]   (builds the release binary first)
"""
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BINARY = os.path.join(ROOT, "target", "release", "tollgate")
PATH = "/.well-known/oauth-authorization-server"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def answers(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as s:
            s.sendall(f"GET {PATH} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".encode())
            return s.recv(32).startswith(b"HTTP/1.1 200")
    except OSError:
        return False


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


EXAMPLE = os.path.join(ROOT, "tollgate.example.toml")


def run_once(database, extra_args):
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("TOLLGATE_")}
    env["RUST_LOG"] = "warn"
    start = time.perf_counter()
    process = subprocess.Popen(
        [BINARY, "serve", *extra_args, "--bind", f"127.0.0.1:{port}",
         "--database-url", f"sqlite://{database}"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        deadline = start + 10
        while not answers(port):
            if time.perf_counter() > deadline or process.poll() is not None:
                raise SystemExit("tollgate did not become ready")
            time.sleep(0.001)
        ready_ms = (time.perf_counter() - start) * 1000
        return ready_ms, rss_kib(process.pid)
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=10)


def measure(label, extra_args, runs):
    with tempfile.TemporaryDirectory() as directory:
        database = os.path.join(directory, "tollgate.db")
        first_ms, first_rss = run_once(database, extra_args)
        times, memory = [], []
        for _ in range(runs):
            ready_ms, rss = run_once(database, extra_args)
            times.append(ready_ms)
            memory.append(rss)
    print(f"[{label}]")
    print(f"  first start (empty database: schema and RSA-2048 key): {first_ms:.1f} ms, {first_rss / 1024:.1f} MiB RSS")
    print(f"  start on an existing database, {runs} runs: median {statistics.median(times):.1f} ms, "
          f"min {min(times):.1f} ms, max {max(times):.1f} ms (process start to first 200 on the metadata)")
    print(f"  memory once ready: median {statistics.median(memory) / 1024:.1f} MiB RSS, max {max(memory) / 1024:.1f} MiB")


def main():
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 20
    subprocess.run(["cargo", "build", "--release", "--quiet", "--bin", "tollgate"], cwd=ROOT, check=True)
    measure("no configuration file", [], runs)
    measure("tollgate.example.toml", ["--config", EXAMPLE], runs)


if __name__ == "__main__":
    main()
