#!/usr/bin/env python3
"""Checks docker-compose.yml without a Docker engine.

1. It must validate against the Compose specification's JSON schema (ci/compose-spec.json).
2. scripts/demo.sh runs the same services as local processes; it must set every
   environment variable the compose file gives the tollgate and mcp-server services, so
   the two ways of running the demo cannot drift apart.

Needs PyYAML and jsonschema (CI installs them into a virtual environment).
"""
import json
import pathlib
import re
import sys

import jsonschema
import yaml

root = pathlib.Path(__file__).resolve().parent.parent
compose = yaml.safe_load((root / "docker-compose.yml").read_text())
schema = json.loads((root / "ci" / "compose-spec.json").read_text())

problems = []
validator = jsonschema.Draft7Validator(schema)
for error in sorted(validator.iter_errors(compose), key=lambda e: list(e.path)):
    where = "/".join(str(p) for p in error.path) or "(top level)"
    problems.append(f"docker-compose.yml: {where}: {error.message}")

demo = (root / "scripts" / "demo.sh").read_text()
for service in ("tollgate", "mcp-server"):
    for name in compose["services"][service].get("environment", {}):
        if name == "RUST_LOG":
            continue
        if not re.search(rf"\b{re.escape(name)}=", demo):
            problems.append(
                f"scripts/demo.sh does not set {name}, which docker-compose.yml gives {service}"
            )

for problem in problems:
    print(problem, file=sys.stderr)
if problems:
    sys.exit(1)
print("docker-compose.yml is valid against the Compose specification; scripts/demo.sh sets the same variables")
