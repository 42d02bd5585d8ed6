"""Enterprise-Managed Authorization (the MCP ext-auth extension; ID-JAG) with the official MCP
Python SDK, completing tools/call on the Rust example MCP server.

Two Tollgates, two issuers (draft-ietf-oauth-identity-assertion-authz-grant §8.3): the demo
stack's is the MCP server's authorization server (DEMO_ISSUER), which trusts the IdP; the IdP
(DEMO_IDP_ISSUER) is started by enterprise.sh. The user signs in at the IdP with OpenID
Connect (headless: its consent mode is auto) and the client keeps the ID token. Then the
SDK's `IdentityAssertionOAuthProvider` does the rest: the MCP server's 401, the authorization
server's metadata, the ID-JAG from our `assertion_provider` (leg 1: RFC 8693 token exchange at
the IdP, which the SDK leaves to the application), the JWT bearer grant (leg 2), and the
retried request. `whoami` then names the user and the client at the authorization server.

Run through `scripts/client-matrix.sh enterprise`; skipped without the demo stack.
"""

import base64
import hashlib
import json
import os
import secrets
from urllib.parse import parse_qs, urlsplit

import httpx2
import pytest
from mcp.client import Client
from mcp.client.auth.extensions.identity_assertion import IdentityAssertionOAuthProvider
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.auth import OAuthClientInformationFull, OAuthToken

MCP_URL = os.environ.get("DEMO_MCP_URL")
AS_ISSUER = os.environ.get("DEMO_ISSUER")
IDP_ISSUER = os.environ.get("DEMO_IDP_ISSUER")
CALLBACK = "http://127.0.0.1:53682/callback"
IDP_CLIENT, IDP_SECRET = "idp-client", "idp-secret"
RAS_CLIENT, RAS_SECRET = "ras-client", "ras-secret"
SCOPE = "mcp:tools"
ID_JAG = "urn:ietf:params:oauth:token-type:id-jag"

pytestmark = [
    pytest.mark.anyio,
    pytest.mark.skipif(
        not (MCP_URL and AS_ISSUER and IDP_ISSUER), reason="no stack: run scripts/client-matrix.sh enterprise"
    ),
]


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


class InMemoryTokenStorage:
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


def jwt_part(token: str, index: int) -> dict:
    part = token.split(".")[index]
    return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))


async def sign_in_at_the_idp() -> str:
    """OpenID Connect at the IdP: the code flow with PKCE, approved without a page; the ID
    token."""
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    async with httpx2.AsyncClient(follow_redirects=False) as http:
        redirect = await http.get(
            f"{IDP_ISSUER}/authorize",
            params={
                "response_type": "code",
                "client_id": IDP_CLIENT,
                "redirect_uri": CALLBACK,
                "code_challenge": challenge,
                "code_challenge_method": "S256",
                "scope": "openid",
                "state": "s1",
            },
        )
        assert redirect.status_code == 302, redirect.text
        query = parse_qs(urlsplit(redirect.headers["location"]).query)
        tokens = await http.post(
            f"{IDP_ISSUER}/token",
            auth=(IDP_CLIENT, IDP_SECRET),
            data={
                "grant_type": "authorization_code",
                "code": query["code"][0],
                "code_verifier": verifier,
                "redirect_uri": CALLBACK,
            },
        )
        assert tokens.status_code == 200, tokens.text
        return tokens.json()["id_token"]


async def test_an_id_jag_from_the_idp_lets_the_sdk_call_a_tool() -> None:
    id_token = await sign_in_at_the_idp()
    issued: list[str] = []
    asked: list[tuple[str, str]] = []

    async def assertion_provider(audience: str, resource: str) -> str:
        """Leg 1 (draft §4.3): exchange the ID token at the IdP for an ID-JAG for the MCP
        server's authorization server (`audience`) and the MCP server (`resource`)."""
        asked.append((audience, resource))
        async with httpx2.AsyncClient() as http:
            response = await http.post(
                f"{IDP_ISSUER}/token",
                auth=(IDP_CLIENT, IDP_SECRET),
                data={
                    "grant_type": "urn:ietf:params:oauth:grant-type:token-exchange",
                    "requested_token_type": ID_JAG,
                    "subject_token": id_token,
                    "subject_token_type": "urn:ietf:params:oauth:token-type:id_token",
                    "audience": audience,
                    "resource": resource,
                    "scope": SCOPE,
                },
            )
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["issued_token_type"] == ID_JAG and body["token_type"] == "N_A", body
        issued.append(body["access_token"])
        return body["access_token"]

    storage = InMemoryTokenStorage()
    provider = IdentityAssertionOAuthProvider(
        server_url=MCP_URL,
        storage=storage,
        client_id=RAS_CLIENT,
        client_secret=RAS_SECRET,
        issuer=AS_ISSUER,
        assertion_provider=assertion_provider,
        scope=SCOPE,
        token_endpoint_auth_method="client_secret_basic",
    )
    async with httpx2.AsyncClient(auth=provider) as http:
        async with Client(streamable_http_client(MCP_URL, http_client=http)) as client:
            result = await client.call_tool("whoami", {})
    assert not result.is_error, result
    me = json.loads(result.content[0].text)
    assert me == {"sub": "dev", "client_id": RAS_CLIENT, "scope": SCOPE}, me

    # The SDK asked for one ID-JAG, for this authorization server and MCP server.
    assert asked == [(AS_ISSUER, MCP_URL)], asked
    assert len(issued) == 1
    header, claims = jwt_part(issued[0], 0), jwt_part(issued[0], 1)
    assert header["typ"] == "oauth-id-jag+jwt", header
    assert claims["iss"] == IDP_ISSUER and claims["aud"] == AS_ISSUER, claims
    assert claims["client_id"] == RAS_CLIENT and claims["resource"] == MCP_URL, claims
    tokens = storage.tokens
    assert tokens and tokens.refresh_token is None, "no refresh token for an ID-JAG (draft §4.4.3)"

    # The same ID-JAG a second time: refused (MCP Enterprise-Managed Authorization §7.4.2).
    async with httpx2.AsyncClient() as http:
        replay = await http.post(
            f"{AS_ISSUER}/token",
            auth=(RAS_CLIENT, RAS_SECRET),
            data={"grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer", "assertion": issued[0]},
        )
    assert replay.status_code == 400 and replay.json()["error"] == "invalid_grant", replay.text
