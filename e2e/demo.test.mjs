// The demo stack, driven as a user would: the official MCP TypeScript SDK client (`Client` +
// `StreamableHTTPClientTransport` with an `OAuthClientProvider`) pointed at the example MCP
// server in Rust (examples/mcp-server: rmcp, sessions, SSE responses), protected by Tollgate on
// PostgreSQL. Nothing is started here: the stack is the one scripts/demo.sh runs, given by
// DEMO_MCP_URL (and DEMO_ISSUER, checked when set):
//
//   scripts/demo.sh npm --prefix e2e run demo
//
// Covered: 401 → protected resource metadata → Tollgate's metadata → dynamic registration →
// consent → code + PKCE → tools; a refresh through the SDK's auth() (rotated refresh token),
// then tools again; a tool whose scope the token lacks gets 403 insufficient_scope; step-up
// authorization to "mcp:tools mcp:admin" makes it work. This is the TypeScript row of the
// client matrix (scripts/client-matrix.sh).

import { before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport, StreamableHTTPError } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { UnauthorizedError, auth } from '@modelcontextprotocol/sdk/client/auth.js';
import { CALLBACK, InMemoryOAuthProvider, recordingFetch } from './sdk.mjs';

const MCP_URL = process.env.DEMO_MCP_URL;
const EXPECTED_ISSUER = process.env.DEMO_ISSUER;
const skip = MCP_URL ? false : 'DEMO_MCP_URL is not set; run this against the demo stack: scripts/demo.sh npm --prefix e2e run demo';

const TOOLS_SCOPE = 'mcp:tools';
const ADMIN_SCOPE = 'mcp:admin';
// A fine-grained scope: Tollgate's resource declares mcp:weather, which covers it.
const FORECAST_SCOPE = 'mcp:weather:forecast';

/** A client on a new transport, connected (throws what connect throws). */
async function connect(provider, fetchFn) {
  const transport = new StreamableHTTPClientTransport(new URL(MCP_URL), { authProvider: provider, fetch: fetchFn });
  const client = new Client({ name: 'tollgate-demo-e2e', version: '1.0.0' });
  await client.connect(transport);
  return { client, transport };
}

/** The JSON a tool returned, from its structured content or its first text block. */
function toolJson(result) {
  assert.ok(!result.isError, `the tool failed: ${JSON.stringify(result)}`);
  return result.structuredContent ?? JSON.parse(result.content[0].text);
}

/** tools/call of `name` straight over HTTP with `accessToken`, as a client without the SDK would. */
const rawToolCall = (accessToken, name, args = {}) =>
  fetch(MCP_URL, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
      authorization: `Bearer ${accessToken}`,
    },
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name, arguments: args } }),
  });

/** The parameters of a `WWW-Authenticate: Bearer k="v", …` challenge. */
function challengeParams(header) {
  assert.match(header ?? '', /^Bearer /, 'a Bearer challenge');
  return Object.fromEntries([...header.matchAll(/(\w+)="([^"]*)"/g)].map(([, k, v]) => [k, v]));
}

describe('the MCP TypeScript SDK client against the demo stack (Rust example MCP server, Tollgate, PostgreSQL)', { skip, timeout: 120_000 }, () => {
  let issuer, asMetadata, jwks, prmUrl;
  const requests = [];
  const fetchFn = recordingFetch(requests);
  const provider = new InMemoryOAuthProvider({ clientName: 'Tollgate demo e2e (MCP TypeScript SDK)' });
  let firstTransport;

  before(async () => {
    // Only to check what the SDK does below; the SDK discovers all this itself.
    const challenge = (await fetch(MCP_URL, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' })).headers.get('www-authenticate');
    prmUrl = challengeParams(challenge).resource_metadata;
    const prm = await (await fetch(prmUrl)).json();
    [issuer] = prm.authorization_servers;
    if (EXPECTED_ISSUER) assert.equal(issuer, EXPECTED_ISSUER, 'the MCP server names the demo issuer');
    asMetadata = await (await fetch(`${issuer}/.well-known/oauth-authorization-server`)).json();
    jwks = createRemoteJWKSet(new URL(asMetadata.jwks_uri));
  });

  async function verifiedClaims(accessToken) {
    const { payload } = await jwtVerify(accessToken, jwks, { issuer, audience: MCP_URL, algorithms: ['RS256'], typ: 'at+jwt' });
    return payload;
  }

  it('the first connect discovers (401 → PRM → Tollgate metadata → registration), sends the user to consent, and throws UnauthorizedError', async () => {
    firstTransport = new StreamableHTTPClientTransport(new URL(MCP_URL), { authProvider: provider, fetch: fetchFn });
    const client = new Client({ name: 'tollgate-demo-e2e', version: '1.0.0' });
    await assert.rejects(client.connect(firstTransport), UnauthorizedError);

    const steps = [
      ['POST', MCP_URL],
      ['GET', prmUrl],
      ['GET', `${issuer}/.well-known/oauth-authorization-server`],
      ['POST', asMetadata.registration_endpoint],
    ];
    let at = 0;
    for (const [method, url] of steps) {
      at = requests.findIndex((r, i) => i >= at && r.method === method && r.url === url);
      assert.ok(at >= 0, `the SDK sent ${method} ${url} after the previous step; it sent:\n${requests.map((r) => `${r.method} ${r.url}`).join('\n')}`);
    }

    const registered = provider.clientInformation();
    assert.ok(registered?.client_id, 'the client registered itself');
    assert.deepEqual(registered.redirect_uris, [CALLBACK]);
    assert.equal(provider.authorizationUrls.length, 1);
    const request = provider.authorizationUrls[0];
    assert.equal(`${request.origin}${request.pathname}`, asMetadata.authorization_endpoint);
    assert.equal(request.searchParams.get('resource'), MCP_URL, 'RFC 8707 resource = the MCP server URL');
    assert.equal(request.searchParams.get('scope'), TOOLS_SCOPE, "the scope of the MCP server's 401 challenge");
    assert.equal(provider.callbacks[0].searchParams.get('iss'), issuer, 'RFC 9207 iss');
  });

  it('finishAuth gets a token for the MCP server with the scope mcp:tools only', async () => {
    await firstTransport.finishAuth(provider.lastCode());
    const claims = await verifiedClaims(provider.tokens().access_token);
    assert.equal(claims.sub, 'dev');
    assert.equal(claims.scope, TOOLS_SCOPE);
    assert.ok(provider.tokens().refresh_token, 'a refresh token too');
  });

  it('a new connection lists whoami, add, admin_stats, call_backend and forecast; whoami says dev, add adds', async () => {
    const { client } = await connect(provider, fetchFn);
    try {
      const { tools } = await client.listTools();
      assert.deepEqual(tools.map((t) => t.name).sort(), ['add', 'admin_stats', 'call_backend', 'forecast', 'whoami']);
      const me = toolJson(await client.callTool({ name: 'whoami', arguments: {} }));
      assert.deepEqual(me, { sub: 'dev', client_id: provider.clientInformation().client_id, scope: TOOLS_SCOPE });
      const sum = await client.callTool({ name: 'add', arguments: { a: 40, b: 2 } });
      assert.ok(!sum.isError, JSON.stringify(sum));
      assert.equal(sum.content[0].text, '42');
    } finally {
      await client.close();
    }
    assert.equal(provider.authorizationUrls.length, 1, 'no second trip to the consent page');
  });

  it("the SDK's auth() refreshes the token, the refresh token rotates, and whoami works with the new one", async () => {
    const before = provider.tokens();
    const tokenRequestsBefore = requests.filter((r) => r.url === asMetadata.token_endpoint).length;
    provider.allowRedirect = false; // a refresh must not need the user again
    try {
      assert.equal(await auth(provider, { serverUrl: MCP_URL, fetchFn }), 'AUTHORIZED');
    } finally {
      provider.allowRedirect = true;
    }
    const sent = requests.filter((r) => r.url === asMetadata.token_endpoint).slice(tokenRequestsBefore);
    assert.deepEqual(sent.map((r) => new URLSearchParams(r.body).get('grant_type')), ['refresh_token']);
    assert.equal(new URLSearchParams(sent[0].body).get('refresh_token'), before.refresh_token);
    const after = provider.tokens();
    assert.notEqual(after.access_token, before.access_token, 'a new access token');
    assert.ok(after.refresh_token, 'a new refresh token came with it');
    assert.notEqual(after.refresh_token, before.refresh_token, 'the refresh token rotated');

    const { client } = await connect(provider, fetchFn);
    try {
      const me = toolJson(await client.callTool({ name: 'whoami', arguments: {} }));
      assert.deepEqual(me, { sub: 'dev', client_id: provider.clientInformation().client_id, scope: TOOLS_SCOPE });
    } finally {
      await client.close();
    }
  });

  it('admin_stats with a token that has only mcp:tools: 403 insufficient_scope naming mcp:admin', async () => {
    const response = await rawToolCall(provider.tokens().access_token, 'admin_stats');
    assert.equal(response.status, 403);
    const challenge = challengeParams(response.headers.get('www-authenticate'));
    assert.equal(challenge.error, 'insufficient_scope');
    assert.deepEqual(challenge.scope.split(' ').sort(), [ADMIN_SCOPE, TOOLS_SCOPE], 'the granted scope plus the missing one');
    assert.equal(challenge.resource_metadata, prmUrl);
  });

  it('through the SDK, with a refresh token on hand: its own step-up only refreshes, and the call fails with 403', async () => {
    // SDK 1.32.2 answers a 403 insufficient_scope by calling auth() with the challenge's
    // scope; auth() prefers the refresh token, which cannot add a scope (RFC 6749 §6), so the
    // retry gets the same 403 and the SDK gives up without sending the user to the consent
    // page (modelcontextprotocol/typescript-sdk#2255). Should an SDK upgrade make this test
    // fail because the call succeeds, the SDK's own step-up has been fixed: expect success.
    const { client } = await connect(provider, fetchFn);
    const tokenRequestsBefore = requests.filter((r) => r.url === asMetadata.token_endpoint).length;
    try {
      await assert.rejects(client.callTool({ name: 'admin_stats', arguments: {} }), (error) => {
        assert.ok(error instanceof StreamableHTTPError, `${error}`);
        assert.equal(error.code, 403);
        return true;
      });
    } finally {
      await client.close();
    }
    assert.equal(provider.authorizationUrls.length, 1, 'no new authorization request');
    const tokenRequests = requests.filter((r) => r.url === asMetadata.token_endpoint).slice(tokenRequestsBefore);
    assert.deepEqual(tokenRequests.map((r) => new URLSearchParams(r.body).get('grant_type')), ['refresh_token']);
    assert.equal((await verifiedClaims(provider.tokens().access_token)).scope, TOOLS_SCOPE, 'still mcp:tools only');
  });

  it('step-up: auth() with the scope "mcp:tools mcp:admin" after dropping the tokens; then admin_stats works on the same connection', async () => {
    const { client } = await connect(provider, fetchFn);
    try {
      // The refresh token would win again (see above), so the client forgets its tokens (not
      // its registration) and authorizes anew with the scope of the 403 challenge.
      const scope = `${TOOLS_SCOPE} ${ADMIN_SCOPE}`;
      provider.invalidateCredentials('tokens');
      assert.equal(await auth(provider, { serverUrl: MCP_URL, scope, fetchFn }), 'REDIRECT');
      assert.equal(provider.authorizationUrls.length, 2, 'the user went to the consent page again');
      const request = provider.authorizationUrls[1];
      assert.equal(request.searchParams.get('scope'), scope);
      assert.equal(request.searchParams.get('client_id'), provider.clientInformation().client_id, 'the same client');
      assert.equal(await auth(provider, { serverUrl: MCP_URL, scope, authorizationCode: provider.lastCode(), fetchFn }), 'AUTHORIZED');
      const claims = await verifiedClaims(provider.tokens().access_token);
      assert.equal(claims.scope, scope);

      // The transport reads the token for every request: the session goes on with the new one.
      const stats = toolJson(await client.callTool({ name: 'admin_stats', arguments: {} }));
      assert.equal(typeof stats.uptime_seconds, 'number');
      const me = toolJson(await client.callTool({ name: 'whoami', arguments: {} }));
      assert.equal(me.scope, scope);
    } finally {
      await client.close();
    }
  });

  it("the SDK's own step-up works for a client without refresh tokens: consent for mcp:tools mcp:admin, finishAuth, retry", async () => {
    // A second client, registered without the refresh_token grant.
    const noRefresh = new InMemoryOAuthProvider({ clientName: 'Tollgate demo e2e (no refresh)', grantTypes: ['authorization_code'] });
    const mine = [];
    const fetchMine = recordingFetch(mine);
    const first = new StreamableHTTPClientTransport(new URL(MCP_URL), { authProvider: noRefresh, fetch: fetchMine });
    await assert.rejects(new Client({ name: 'tollgate-demo-e2e', version: '1.0.0' }).connect(first), UnauthorizedError);
    await first.finishAuth(noRefresh.lastCode());
    assert.equal(noRefresh.tokens().refresh_token, undefined, 'no refresh token');
    assert.equal((await verifiedClaims(noRefresh.tokens().access_token)).scope, TOOLS_SCOPE);

    const { client, transport } = await connect(noRefresh, fetchMine);
    try {
      // The 403 makes the SDK send the user to the consent page for the challenge's scope;
      // the call then ends with UnauthorizedError, as any call that needs the user does.
      await assert.rejects(client.callTool({ name: 'admin_stats', arguments: {} }), UnauthorizedError);
      assert.equal(noRefresh.authorizationUrls.length, 2);
      assert.deepEqual(noRefresh.authorizationUrls[1].searchParams.get('scope').split(' ').sort(), [ADMIN_SCOPE, TOOLS_SCOPE]);
      await transport.finishAuth(noRefresh.lastCode());
      assert.ok((await verifiedClaims(noRefresh.tokens().access_token)).scope.split(' ').includes(ADMIN_SCOPE));

      const stats = toolJson(await client.callTool({ name: 'admin_stats', arguments: {} }));
      assert.equal(typeof stats.uptime_seconds, 'number');
    } finally {
      await client.close();
    }
  });

  it('forecast needs the fine-grained mcp:weather:forecast: 403 names it, step-up with the union, granted as asked', async () => {
    const granted = (await verifiedClaims(provider.tokens().access_token)).scope.split(' ');
    const response = await rawToolCall(provider.tokens().access_token, 'forecast', { city: 'Oslo' });
    assert.equal(response.status, 403);
    const challenge = challengeParams(response.headers.get('www-authenticate'));
    assert.equal(challenge.error, 'insufficient_scope');
    assert.ok(challenge.scope.split(' ').includes(FORECAST_SCOPE), challenge.scope);
    const { client } = await connect(provider, fetchFn);
    try {
      // MCP 2026-07-28: re-authorize with the union of what was granted and what the
      // challenge names. Tollgate's resource declares mcp:weather; the token carries
      // mcp:weather:forecast exactly as asked, not the mcp:weather that covered it.
      const scope = [...new Set([...granted, ...challenge.scope.split(' ')])].join(' ');
      provider.invalidateCredentials('tokens');
      assert.equal(await auth(provider, { serverUrl: MCP_URL, scope, fetchFn }), 'REDIRECT');
      assert.equal(await auth(provider, { serverUrl: MCP_URL, scope, authorizationCode: provider.lastCode(), fetchFn }), 'AUTHORIZED');
      assert.equal((await verifiedClaims(provider.tokens().access_token)).scope, scope);
      const forecast = toolJson(await client.callTool({ name: 'forecast', arguments: { city: 'Oslo' } }));
      assert.deepEqual(forecast, { city: 'Oslo', forecast: 'sunny, 21 °C' });
    } finally {
      await client.close();
    }
  });
});
