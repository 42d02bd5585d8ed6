"""What the official MCP Python SDK client does when the authorization server fails (issue 14).

Each scenario of e2e/faults/scenarios.json runs on a fresh Tollgate state (the control API's
reset), with the same application around the SDK: `mcp.Client` over `streamable_http_client`
with an `httpx2` client whose auth is the SDK's `OAuthClientProvider`, a scripted browser that
approves on the consent page, and a call of `whoami`. What the client did (its outcome and its
requests to Tollgate, read from the event log) must be what e2e/faults/observed.json records,
so that a change in the SDK shows up here. FAULTS_RECORD=1 writes what was observed instead.

The test starts its own `tollgate serve` (TOLLGATE_BIN, default target/debug/tollgate) and the
Node MCP server e2e/mcp-server.mjs (which needs `npm ci` in e2e/). Run it with
`e2e/python/run.sh test_faults.py`.
"""

import json
import os
import subprocess
import tempfile
import time
from pathlib import Path
from urllib.parse import parse_qs, urljoin, urlsplit

import anyio
import httpx2
import pytest
from mcp.client import Client
from mcp.client.auth import AuthorizationCodeResult, OAuthClientProvider
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.auth import OAuthClientInformationFull, OAuthClientMetadata, OAuthToken
from pydantic import AnyUrl
from test_flow import ConsentPage

E2E = Path(__file__).resolve().parent.parent
SCENARIOS = json.loads((E2E / "faults" / "scenarios.json").read_text())["scenarios"]
OBSERVED = E2E / "faults" / "observed.json"
RECORD = os.environ.get("FAULTS_RECORD") == "1"
TOLLGATE_BIN = os.environ.get("TOLLGATE_BIN", str(E2E.parent / "target" / "debug" / "tollgate"))
CALLBACK = "http://127.0.0.1:53682/callback"
# How long a client may take before it counts as hanging.
PATIENCE_S = 20
# Not jwks.fetch: MCP clients do not fetch the JWKS (the MCP server does, to check tokens).
STEPS = {
    "metadata.fetch": "metadata",
    "client.register": "register",
    "authorization.request": "authorize",
    "consent.decision": "consent",
    "token.revoke": "revoke",
    "token.introspect": "introspect",
}

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def started(command: list[str], workdir: str, name: str) -> tuple[subprocess.Popen, str]:
    """Starts a process that prints one line once it listens; returns it and that line."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TOLLGATE_")}
    log = open(Path(workdir) / f"{name}.log", "w")  # noqa: SIM115 (closed with the process)
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=log, env=env, text=True)
    line = process.stdout.readline().strip()
    assert line, f"{name} exited before it listened; see {log.name}"
    return process, line


@pytest.fixture(scope="module")
def stack():
    """Tollgate (no registration limit: every scenario registers) and the MCP server."""
    with tempfile.TemporaryDirectory() as workdir:
        config = Path(workdir) / "tollgate.toml"
        config.write_text("[registration]\nper_minute = 0\n")
        database = f"sqlite://{workdir}/tollgate.db"
        tollgate, line = started(
            [TOLLGATE_BIN, "serve", "--bind", "127.0.0.1:0", "--database-url", database, "--config", str(config)],
            workdir,
            "tollgate",
        )
        issuer = line.rsplit(" ", 1)[1]
        mcp, line = started(["node", str(E2E / "mcp-server.mjs"), "--issuer", issuer], workdir, "mcp-server")
        try:
            yield {"issuer": issuer, "mcp_url": line.rsplit(" ", 1)[1]}
        finally:
            for process in (mcp, tollgate):
                process.terminate()
                process.wait(timeout=10)


@pytest.fixture(scope="module")
def observed():
    """What each scenario did; written to observed.json at the end when recording."""
    found: dict = {}
    yield found
    if RECORD:
        everything = json.loads(OBSERVED.read_text())
        everything["python"] = found
        OBSERVED.write_text(json.dumps(everything, indent=2) + "\n")


async def control(stack: dict, method: str, path: str, body=None):
    async with httpx2.AsyncClient() as http:
        response = await http.request(method, f"{stack['issuer']}/_tollgate/api{path}", json=body)
        assert response.is_success, f"{method} {path}: {response.status_code} {response.text}"
        return response.json() if response.content else None


async def events_after(stack: dict, seq: int = 0) -> list[dict]:
    async with httpx2.AsyncClient() as http:
        response = await http.get(f"{stack['issuer']}/_tollgate/events", params={"after": seq, "limit": 10000})
        return response.json()["events"]


def requests_of(events: list[dict]) -> list[str]:
    """The requests a client made to Tollgate, in order, as e2e/faults/observe.mjs reads them."""
    steps = []
    for event in events:
        details = event.get("details", {})
        if event["type"] == "token.request":
            step = f"token {details.get('grant_type', '?')}"
        elif event["type"] in STEPS:
            step = STEPS[event["type"]]
        else:
            continue
        steps.append(f"{step} (fault)" if "fault" in details else step)
    return steps


class NoCode(Exception):
    """The redirect back carried no code: what the application tells the SDK."""


class Storage:
    """The SDK's `TokenStorage` protocol, in memory."""

    def __init__(self) -> None:
        self.tokens: OAuthToken | None = None
        self.client_info: OAuthClientInformationFull | None = None

    async def get_tokens(self) -> OAuthToken | None:
        return self.tokens

    async def set_tokens(self, tokens: OAuthToken) -> None:
        self.tokens = tokens

    async def get_client_info(self) -> OAuthClientInformationFull | None:
        return self.client_info

    async def set_client_info(self, client_info: OAuthClientInformationFull) -> None:
        self.client_info = client_info


class App:
    """The application around the SDK: a browser that approves as `dev`, and whoami."""

    def __init__(self, mcp_url: str, name: str) -> None:
        self.mcp_url = mcp_url
        self.callbacks: list[str] = []
        self.provider = OAuthClientProvider(
            server_url=mcp_url,
            client_metadata=OAuthClientMetadata(
                client_name=f"fault suite: {name}",
                redirect_uris=[AnyUrl(CALLBACK)],
                grant_types=["authorization_code", "refresh_token"],
                response_types=["code"],
            ),
            storage=Storage(),
            redirect_handler=self.redirect_handler,
            callback_handler=self.callback_handler,
        )

    async def redirect_handler(self, authorization_url: str) -> None:
        async with httpx2.AsyncClient(follow_redirects=False) as browser:
            page = await browser.get(authorization_url)
            assert page.status_code == 200, page.text
            form = ConsentPage()
            form.feed(page.text)
            decision = await browser.post(
                urljoin(authorization_url, form.action),
                data={**form.hidden, "user": "dev", "decision": "approve"},
            )
            assert decision.status_code == 303, decision.text
            self.callbacks.append(decision.headers["location"])

    async def callback_handler(self) -> AuthorizationCodeResult:
        query = {name: values[0] for name, values in parse_qs(urlsplit(self.callbacks[-1]).query).items()}
        if "code" not in query:
            raise NoCode(f"no code: the redirect back says error={query.get('error')}")
        return AuthorizationCodeResult(code=query["code"], state=query.get("state"), iss=query.get("iss"))

    async def connect_and_call(self) -> str:
        try:
            async with httpx2.AsyncClient(auth=self.provider) as http:
                async with Client(streamable_http_client(self.mcp_url, http_client=http)) as client:
                    result = await client.call_tool("whoami", {})
            return "whoami failed" if result.is_error else "whoami answered"
        except BaseException as error:  # noqa: BLE001 (what surfaced is the observation)
            leaf = innermost(error)
            if isinstance(leaf, NoCode):
                return str(leaf)
            return f"error: {type(leaf).__name__}"


def innermost(error: BaseException) -> BaseException:
    """The first leaf of an exception group (anyio's task groups wrap what surfaced)."""
    while isinstance(error, BaseExceptionGroup) and error.exceptions:
        error = error.exceptions[0]
    return error


@pytest.mark.parametrize("scenario", SCENARIOS, ids=[s["id"] for s in SCENARIOS])
async def test_what_the_python_sdk_does(stack: dict, observed: dict, scenario: dict) -> None:
    await control(stack, "POST", "/reset")
    app = App(stack["mcp_url"], scenario["id"])
    if scenario["path"] == "refresh":
        assert await app.connect_and_call() == "whoami answered", "the first connection"
        # The access token has expired: the resource server refuses it, and the time the
        # SDK computed from expires_in has passed.
        tokens = app.provider.context.current_tokens
        app.provider.context.current_tokens = tokens.model_copy(update={"access_token": tokens.access_token[:-4] + "AAAA"})
        app.provider.context.token_expiry_time = time.time() - 1
    before = await events_after(stack)
    mark = before[-1]["seq"] if before else 0
    await control(stack, "POST", "/faults", scenario["faults"])
    outcome = "hung"
    with anyio.move_on_after(PATIENCE_S):
        outcome = await app.connect_and_call()
    found = {"outcome": outcome, "requests": requests_of(await events_after(stack, mark))}
    observed[scenario["id"]] = found
    if not RECORD:
        recorded = json.loads(OBSERVED.read_text())["python"].get(scenario["id"])
        assert found == recorded
