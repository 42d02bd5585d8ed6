"""The official MCP Python SDK client completes the MCP authorization flow against Tollgate.

`mcp.Client` over `streamable_http_client`, with an `httpx2.AsyncClient` whose auth is the
SDK's `OAuthClientProvider` (in-memory `TokenStorage`), pointed at the Rust example MCP server
of the demo stack: the first request gets the server's 401, and the SDK discovers the
protected resource metadata and Tollgate's metadata, registers, sends the user to the
authorization URL (the redirect handler below is the browser: it approves on Tollgate's
consent page as `dev`), redeems the code with its PKCE verifier and retries; `whoami` answers.
Tollgate runs with a short access token lifetime (scripts/client-matrix.sh sets it), so once
the token has expired the SDK refreshes it by itself before the next request, and `whoami`
answers again with the new token.

Run through `scripts/client-matrix.sh python`; without DEMO_MCP_URL and DEMO_ISSUER (which
scripts/demo.sh exports) it is skipped.
"""

import json
import os
import time
from dataclasses import dataclass, field
from html.parser import HTMLParser
from urllib.parse import parse_qs, urljoin, urlsplit

import anyio
import httpx2
import pytest
from mcp.client import Client
from mcp.client.auth import AuthorizationCodeResult, OAuthClientProvider
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.auth import OAuthClientInformationFull, OAuthClientMetadata, OAuthToken
from pydantic import AnyUrl

MCP_URL = os.environ.get("DEMO_MCP_URL")
ISSUER = os.environ.get("DEMO_ISSUER")
# Nothing listens here: the scripted browser reads the redirect instead of following it.
CALLBACK = "http://127.0.0.1:53682/callback"
USER = "dev"
SCOPE = "mcp:tools"
# How long past the access token's lifetime the SDK may take to consider it expired.
EXPIRY_SLACK_S = 5

pytestmark = [
    pytest.mark.anyio,
    pytest.mark.skipif(not (MCP_URL and ISSUER), reason="no demo stack: run scripts/client-matrix.sh python"),
]


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


class InMemoryTokenStorage:
    """The SDK's `TokenStorage` protocol, in memory."""

    def __init__(self) -> None:
        self.tokens: OAuthToken | None = None
        self.client_info: OAuthClientInformationFull | None = None
        self.saved_tokens: list[OAuthToken] = []

    async def get_tokens(self) -> OAuthToken | None:
        return self.tokens

    async def set_tokens(self, tokens: OAuthToken) -> None:
        self.tokens = tokens
        self.saved_tokens.append(tokens)

    async def get_client_info(self) -> OAuthClientInformationFull | None:
        return self.client_info

    async def set_client_info(self, client_info: OAuthClientInformationFull) -> None:
        self.client_info = client_info


class ConsentPage(HTMLParser):
    """The POST form of Tollgate's consent page: its action, hidden inputs and offered users."""

    def __init__(self) -> None:
        super().__init__()
        self.action: str | None = None
        self.hidden: dict[str, str] = {}
        self.users: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {name: value or "" for name, value in attrs}
        if tag == "form" and a.get("method", "").lower() == "post":
            self.action = a.get("action")
        elif tag == "input" and a.get("type") == "hidden":
            self.hidden[a.get("name", "")] = a.get("value", "")
        elif tag == "input" and a.get("name") == "user":
            self.users.append(a.get("value", ""))


@dataclass
class Browser:
    """What a person's browser does with the authorization URL the SDK hands over: load the
    consent page (keeping its cookie), approve as `dev`, and read the 303 back to the client."""

    authorization_urls: list[str] = field(default_factory=list)
    callbacks: list[str] = field(default_factory=list)

    async def redirect_handler(self, authorization_url: str) -> None:
        self.authorization_urls.append(authorization_url)
        async with httpx2.AsyncClient(follow_redirects=False) as browser:
            page = await browser.get(authorization_url)
            assert page.status_code == 200, f"the consent page, for {authorization_url}:\n{page.text}"
            assert "tollgate-browser" in page.cookies, "the consent page sets the tollgate-browser cookie"
            form = ConsentPage()
            form.feed(page.text)
            assert form.action, "the consent page has a POST form"
            assert USER in form.users, f"the user {USER} is offered: {form.users}"
            assert form.hidden.get("request_id") and form.hidden.get("csrf_token"), form.hidden
            decision = await browser.post(
                urljoin(authorization_url, form.action),
                data={**form.hidden, "user": USER, "decision": "approve"},
            )
            assert decision.status_code == 303, f"the decision is answered with 303: {decision.text}"
            self.callbacks.append(decision.headers["location"])

    async def callback_handler(self) -> AuthorizationCodeResult:
        callback = urlsplit(self.callbacks[-1])
        assert f"{callback.scheme}://{callback.netloc}{callback.path}" == CALLBACK, self.callbacks[-1]
        query = {name: values[0] for name, values in parse_qs(callback.query).items()}
        assert "error" not in query, self.callbacks[-1]
        return AuthorizationCodeResult(code=query["code"], state=query.get("state"), iss=query.get("iss"))


@dataclass
class Flow:
    """What the tests share, in order: one client, registered once, like a real application."""

    storage: InMemoryTokenStorage = field(default_factory=InMemoryTokenStorage)
    browser: Browser = field(default_factory=Browser)
    # Every HTTP request the SDK sent, in order: (method, URL, form body).
    requests: list[tuple[str, str, dict[str, str]]] = field(default_factory=list)
    provider: OAuthClientProvider | None = None
    first_tokens: OAuthToken | None = None

    def __post_init__(self) -> None:
        assert MCP_URL
        self.provider = OAuthClientProvider(
            server_url=MCP_URL,
            client_metadata=OAuthClientMetadata(
                client_name="Tollgate client matrix (MCP Python SDK)",
                redirect_uris=[AnyUrl(CALLBACK)],
                grant_types=["authorization_code", "refresh_token"],
                response_types=["code"],
            ),
            storage=self.storage,
            redirect_handler=self.browser.redirect_handler,
            callback_handler=self.browser.callback_handler,
        )

    async def _record(self, request: httpx2.Request) -> None:
        form: dict[str, str] = {}
        if request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
            form = {k: v[0] for k, v in parse_qs(request.content.decode()).items()}
        self.requests.append((request.method, str(request.url), form))

    def token_grants(self) -> list[str]:
        return [form.get("grant_type", "") for method, url, form in self.requests if url.endswith("/token")]

    async def whoami(self) -> dict:
        """A new connection: tools/list and tools/call whoami; the JSON of its text."""
        async with httpx2.AsyncClient(auth=self.provider, event_hooks={"request": [self._record]}) as http:
            async with Client(streamable_http_client(MCP_URL, http_client=http)) as client:
                tools = await client.list_tools()
                names = sorted(tool.name for tool in tools.tools)
                assert "whoami" in names, names
                result = await client.call_tool("whoami", {})
        assert not result.is_error, result
        # The tool's answer as text (its JSON), and the same as structured content.
        me = json.loads(result.content[0].text)
        assert result.structured_content in (None, me), result
        return me


flow: Flow | None = None


async def test_the_first_connection_discovers_registers_gets_consent_and_calls_whoami() -> None:
    global flow
    flow = Flow()
    me = await flow.whoami()

    # 401 from the MCP server → its protected resource metadata → Tollgate's metadata →
    # registration → (consent) → token, in this order.
    sent = [(method, url) for method, url, _ in flow.requests]
    origin = "{0.scheme}://{0.netloc}".format(urlsplit(MCP_URL))
    steps = [
        ("POST", MCP_URL),
        ("GET", f"{origin}/.well-known/oauth-protected-resource/mcp"),
        ("GET", f"{ISSUER}/.well-known/oauth-authorization-server"),
        ("POST", f"{ISSUER}/register"),
        ("POST", f"{ISSUER}/token"),
    ]
    at = 0
    for step in steps:
        assert step in sent[at:], f"the SDK sent {step} after the previous step; it sent: {sent}"
        at = sent.index(step, at) + 1
    assert flow.token_grants() == ["authorization_code"], flow.token_grants()

    client_info = flow.storage.client_info
    assert client_info and client_info.client_id, "the SDK registered a client"
    assert len(flow.browser.authorization_urls) == 1, "one trip to the consent page"
    request = {k: v[0] for k, v in parse_qs(urlsplit(flow.browser.authorization_urls[0]).query).items()}
    assert request["client_id"] == client_info.client_id
    assert request["resource"] == MCP_URL, "RFC 8707 resource = the MCP server URL"
    assert request["scope"] == SCOPE, "the scope of the MCP server's 401 challenge"
    assert request["code_challenge_method"] == "S256"
    assert request["redirect_uri"] == CALLBACK

    assert me == {"sub": USER, "client_id": client_info.client_id, "scope": SCOPE}, me
    tokens = flow.storage.tokens
    assert tokens and tokens.refresh_token, "an access token and a refresh token"
    flow.first_tokens = tokens


async def test_once_the_access_token_expired_the_sdk_refreshes_it_and_whoami_works_again() -> None:
    assert flow and flow.first_tokens, "the first test got tokens"
    lifetime = flow.first_tokens.expires_in
    assert lifetime is not None and lifetime <= 10, (
        f"Tollgate issued tokens for {lifetime} s; the matrix starts it with a short "
        "--access-token-ttl (TOLLGATE_ACCESS_TOKEN_TTL) so that they expire here"
    )
    # Poll, bounded, until the SDK itself considers the token expired.
    deadline = time.monotonic() + lifetime + EXPIRY_SLACK_S
    while flow.provider.context.is_token_valid():
        assert time.monotonic() < deadline, "the SDK still considers the token valid"
        await anyio.sleep(0.1)

    grants_before = len(flow.token_grants())
    me = await flow.whoami()

    assert flow.token_grants()[grants_before:][:1] == ["refresh_token"], (
        f"the SDK refreshed before its first request: {flow.token_grants()}"
    )
    refresh = next(form for method, url, form in reversed(flow.requests) if form.get("grant_type") == "refresh_token")
    assert refresh["refresh_token"] == flow.first_tokens.refresh_token
    assert refresh["resource"] == MCP_URL, "RFC 8707 resource on the refresh too"
    assert len(flow.browser.authorization_urls) == 1, "a refresh needs no consent"

    tokens = flow.storage.tokens
    assert tokens.access_token != flow.first_tokens.access_token, "a new access token"
    assert tokens.refresh_token and tokens.refresh_token != flow.first_tokens.refresh_token, "the refresh token rotated"
    assert me == {"sub": USER, "client_id": flow.storage.client_info.client_id, "scope": SCOPE}, me
