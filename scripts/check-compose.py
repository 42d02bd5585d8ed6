#!/usr/bin/env python3
"""Checks docker-compose.yml without a Docker engine.

1. It must validate against the Compose specification's JSON schema (ci/compose-spec.json).
2. scripts/demo.sh runs the same services as local processes. For several values of the
   demo's settings (DEMO_HOST, DEMO_TOLLGATE_PORT, DEMO_MCP_PORT), the compose file is
   interpolated as Compose does and compared with what `scripts/demo.sh --print-env` gives
   the services: the same variables, and the same values except where a value says how a
   process is run locally (LOCAL below).
3. In both, the values fit together: the issuer and the MCP server's URL are on DEMO_HOST
   and on the published ports, the MCP server requires the issuer Tollgate has, Tollgate
   issues tokens for the URL the MCP server has (their `aud`), and an http issuer on a host
   other than loopback comes with TOLLGATE_ALLOW_INSECURE_ISSUER (Tollgate refuses to start
   otherwise).

Needs PyYAML and jsonschema (CI installs them into a virtual environment).
"""
import json
import os
import pathlib
import re
import subprocess
import sys
import tomllib
import urllib.parse

import jsonschema
import yaml

root = pathlib.Path(__file__).resolve().parent.parent
compose_text = (root / "docker-compose.yml").read_text()
schema = json.loads((root / "ci" / "compose-spec.json").read_text())
SERVICES = ("tollgate", "mcp-server")

# Variables whose values legitimately differ: they say how a process is run, not what
# browsers, clients or tokens see.
LOCAL = {
    "TOLLGATE_BIND": "containers listen on 0.0.0.0, local processes on loopback",
    "TOLLGATE_DATABASE_URL": "the compose postgres service vs the machine's PostgreSQL",
    "TOLLGATE_JWKS_URL": "the compose network name vs loopback",
    "MCP_BIND": "containers listen on 0.0.0.0, local processes on loopback",
    "RUST_LOG": "the script passes on the caller's RUST_LOG",
}

# The settings to try: the defaults, a machine on the LAN, a name with other ports.
CASES = [
    {},
    {"DEMO_HOST": "192.168.1.20"},
    {"DEMO_HOST": "demo.example", "DEMO_TOLLGATE_PORT": "19000", "DEMO_MCP_PORT": "18000"},
]

problems = []

validator = jsonschema.Draft7Validator(schema)
for error in sorted(validator.iter_errors(yaml.safe_load(compose_text)), key=lambda e: list(e.path)):
    where = "/".join(str(p) for p in error.path) or "(top level)"
    problems.append(f"docker-compose.yml: {where}: {error.message}")

# Compose interpolation (compose-spec "Interpolation"): $$ is a literal $, $NAME and ${NAME}
# substitute, ${NAME:-default} and ${NAME-default} give a default when NAME is unset (or, with
# the colon, empty). Other forms are not used here; meeting one is an error.
INTERPOLATION = re.compile(r"\$(?:(\$)|([A-Za-z_][A-Za-z0-9_]*)|\{([^}]*)\})")
BRACED = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)(?:(:?-)(.*))?", re.S)


def interpolate(text, env):
    def substitute(match):
        dollar, bare, braced = match.groups()
        if dollar:
            return "$"
        if bare:
            return env.get(bare, "")
        parts = BRACED.fullmatch(braced)
        if not parts:
            raise ValueError(f"interpolation this check does not know: ${{{braced}}}")
        name, operator, default = parts.groups()
        value = env.get(name)
        if operator == ":-" and not value:
            return default
        if operator == "-" and value is None:
            return default
        return value or ""

    return INTERPOLATION.sub(substitute, text)


def compose_env(case):
    # Compose interpolates the parsed values (on the text it would also touch comments).
    def walk(node):
        if isinstance(node, dict):
            return {key: walk(value) for key, value in node.items()}
        if isinstance(node, list):
            return [walk(value) for value in node]
        if isinstance(node, str):
            return interpolate(node, case)
        return node

    compose = walk(yaml.safe_load(compose_text))
    services = {}
    for service in SERVICES:
        definition = compose["services"][service]
        environment = definition.get("environment", {})
        if isinstance(environment, list):
            environment = dict(item.split("=", 1) for item in environment)
        published = {}
        for port in definition.get("ports", []):
            host_port, _, container_port = str(port).rpartition(":")
            published[container_port] = host_port.rpartition(":")[2]
        services[service] = ({k: str(v) for k, v in environment.items()}, published)
    return services


def demo_env(case):
    env = {"PATH": os.environ["PATH"], **case}
    result = subprocess.run(
        ["bash", str(root / "scripts" / "demo.sh"), "--print-env"],
        env=env, capture_output=True, text=True, check=False, timeout=60,
    )
    if result.returncode != 0:
        raise RuntimeError(f"scripts/demo.sh --print-env failed: {result.stderr.strip()}")
    services = {service: {} for service in SERVICES}
    for line in result.stdout.splitlines():
        service, _, assignment = line.partition(" ")
        name, _, value = assignment.partition("=")
        services[service][name] = value
    return services


def is_loopback(host):
    return host == "localhost" or host.startswith("127.") or host == "[::1]"


def check_consistency(where, env, case, published=None):
    """The values of one way of running the demo fit together."""
    tollgate, mcp = env["tollgate"], env["mcp-server"]
    host = case.get("DEMO_HOST", "localhost")
    issuer = urllib.parse.urlsplit(tollgate["TOLLGATE_ISSUER"])
    mcp_url = urllib.parse.urlsplit(mcp["MCP_PUBLIC_URL"])
    expected = {
        "the issuer": (tollgate["TOLLGATE_ISSUER"],
                       f"http://{host}:{case.get('DEMO_TOLLGATE_PORT', '9000')}"),
        "the MCP server's URL": (mcp["MCP_PUBLIC_URL"],
                                 f"http://{host}:{case.get('DEMO_MCP_PORT', '8000')}/mcp"),
        "the issuer the MCP server requires": (mcp["TOLLGATE_ISSUER"], tollgate["TOLLGATE_ISSUER"]),
    }
    resources = tomllib.loads("r = " + tollgate["TOLLGATE_RESOURCES"])["r"]
    expected["the resource Tollgate issues tokens for (their aud)"] = (
        [r["url"] if isinstance(r, dict) else r for r in resources], [mcp["MCP_PUBLIC_URL"]])
    if published is not None:
        # The ports browsers use are the ones published for the ports the services bind.
        for what, url, service, bind in (
            ("the issuer's port", issuer, "tollgate", tollgate["TOLLGATE_BIND"]),
            ("the MCP server URL's port", mcp_url, "mcp-server", mcp["MCP_BIND"]),
        ):
            inner = bind.rpartition(":")[2]
            expected[what] = (str(url.port), published[service].get(inner, f"(port {inner} not published)"))
    else:
        expected["the port Tollgate listens on"] = (tollgate["TOLLGATE_BIND"].rpartition(":")[2], str(issuer.port))
        expected["the port the MCP server listens on"] = (mcp["MCP_BIND"].rpartition(":")[2], str(mcp_url.port))
    if not is_loopback(host):
        expected["TOLLGATE_ALLOW_INSECURE_ISSUER for an http issuer on another host"] = (
            tollgate.get("TOLLGATE_ALLOW_INSECURE_ISSUER"), "true")
    for what, (actual, wanted) in expected.items():
        if actual != wanted:
            problems.append(f"{where}, {case or 'defaults'}: {what} is {actual!r}, not {wanted!r}")


for case in CASES:
    try:
        composed = compose_env(case)
        demo = demo_env(case)
    except (ValueError, RuntimeError) as error:
        problems.append(f"{case or 'defaults'}: {error}")
        continue
    check_consistency("docker-compose.yml", {s: composed[s][0] for s in SERVICES}, case,
                      {s: composed[s][1] for s in SERVICES})
    check_consistency("scripts/demo.sh", demo, case)
    for service in SERVICES:
        compose_vars, demo_vars = composed[service][0], demo[service]
        for name in sorted(compose_vars.keys() - demo_vars.keys()):
            problems.append(f"scripts/demo.sh does not set {name}, which docker-compose.yml gives {service}")
        for name in sorted(demo_vars.keys() - compose_vars.keys()):
            problems.append(f"docker-compose.yml does not set {name}, which scripts/demo.sh gives {service}")
        for name in sorted(compose_vars.keys() & demo_vars.keys()):
            if name not in LOCAL and compose_vars[name] != demo_vars[name]:
                problems.append(
                    f"{service} {name}, {case or 'defaults'}: docker-compose.yml gives "
                    f"{compose_vars[name]!r}, scripts/demo.sh {demo_vars[name]!r}"
                )

for problem in problems:
    print(problem, file=sys.stderr)
if problems:
    sys.exit(1)
print(
    "docker-compose.yml is valid against the Compose specification; with "
    f"{len(CASES)} settings of DEMO_HOST and the ports, it and scripts/demo.sh give the "
    "services the same variables with consistent values"
)
