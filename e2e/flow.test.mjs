// End to end: the official MCP TypeScript SDK client completes the MCP authorization flow
// (RFC 9728 discovery, RFC 8414 metadata, RFC 7591 registration, authorization code + PKCE
// with an RFC 8707 resource, refresh) against a real Tollgate process, to reach a real MCP
// server (mcp-server.mjs) that validates Tollgate's JWTs.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { UnauthorizedError, auth } from '@modelcontextprotocol/sdk/client/auth.js';
import { startMcpServer } from './mcp-server.mjs';
import { CALLBACK, InMemoryOAuthProvider, approveInBrowser } from './sdk.mjs';
import { startTollgate, stopProcess } from './tollgate.mjs';

describe('the MCP TypeScript SDK client against Tollgate', { timeout: 120_000 }, () => {
  let workDir, tollgate, mcp, asMetadata, jwks;
  const provider = new InMemoryOAuthProvider();
  /** Every request the SDK makes, in order: { method, url, body }. */
  const requests = [];
  const recordingFetch = (url, init) => {
    requests.push({ method: init?.method ?? 'GET', url: String(url), body: init?.body ? String(init.body) : undefined });
    return fetch(url, init);
  };
  const indexOfRequest = (method, url, from = 0) =>
    requests.findIndex((r, i) => i >= from && r.method === method && r.url === url);
  let firstTransport, firstCode, firstAccessToken, firstRefreshToken;

  before(async () => {
    workDir = mkdtempSync(join(tmpdir(), 'tollgate-e2e-'));
    tollgate = await startTollgate(join(workDir, 'tollgate.db'));
    mcp = await startMcpServer({ issuer: tollgate.issuer });
    asMetadata = await (await fetch(`${tollgate.issuer}/.well-known/oauth-authorization-server`)).json();
    jwks = createRemoteJWKSet(new URL(asMetadata.jwks_uri));
  });

  after(async () => {
    await mcp?.close();
    await stopProcess(tollgate?.child);
    if (workDir) rmSync(workDir, { recursive: true, force: true });
  });

  /** Verifies an access token as an independent resource server would, and returns its claims. */
  async function verifiedClaims(accessToken) {
    const { payload, protectedHeader } = await jwtVerify(accessToken, jwks, { issuer: tollgate.issuer, algorithms: ['RS256'] });
    assert.equal(protectedHeader.typ, 'at+jwt');
    return payload;
  }

  /** A raw MCP request, as a client without the SDK would send it. */
  const ping = (accessToken) =>
    fetch(mcp.url, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        accept: 'application/json, text/event-stream',
        ...(accessToken && { authorization: `Bearer ${accessToken}` }),
      },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'ping' }),
    });

  async function callWhoami() {
    const transport = new StreamableHTTPClientTransport(new URL(mcp.url), { authProvider: provider, fetch: recordingFetch });
    const client = new Client({ name: 'tollgate-e2e', version: '1.0.0' });
    try {
      await client.connect(transport);
      const { tools } = await client.listTools();
      assert.deepEqual(tools.map((t) => t.name), ['whoami']);
      const result = await client.callTool({ name: 'whoami', arguments: {} });
      assert.ok(!result.isError, JSON.stringify(result));
      return JSON.parse(result.content[0].text);
    } finally {
      await client.close();
    }
  }

  it('the MCP server and Tollgate publish what the MCP authorization spec asks for', async () => {
    const origin = new URL(mcp.url).origin;
    const prmUrl = `${origin}/.well-known/oauth-protected-resource/mcp`;
    const anonymous = await ping();
    assert.equal(anonymous.status, 401);
    const challenge = anonymous.headers.get('www-authenticate');
    assert.match(challenge ?? '', /^Bearer /);
    assert.ok(challenge.includes(`resource_metadata="${prmUrl}"`), challenge);
    assert.ok(challenge.includes('scope="mcp:tools"'), challenge);

    for (const url of [prmUrl, `${origin}/.well-known/oauth-protected-resource`]) {
      const prm = await (await fetch(url)).json();
      assert.equal(prm.resource, `${origin}/mcp`, url);
      assert.deepEqual(prm.authorization_servers, [tollgate.issuer], url);
      assert.deepEqual(prm.scopes_supported, ['mcp:tools'], url);
    }

    assert.equal(asMetadata.issuer, tollgate.issuer, 'RFC 8414 §3.3: metadata issuer is the issuer, exactly');
    assert.equal(asMetadata.registration_endpoint, `${tollgate.issuer}/register`);
    assert.ok(asMetadata.code_challenge_methods_supported.includes('S256'));
    assert.ok(asMetadata.token_endpoint_auth_methods_supported.includes('none'));
    assert.equal(asMetadata.authorization_response_iss_parameter_supported, true);
  });

  it('the first connect discovers, registers, sends the user to consent, and throws UnauthorizedError', async () => {
    firstTransport = new StreamableHTTPClientTransport(new URL(mcp.url), { authProvider: provider, fetch: recordingFetch });
    const client = new Client({ name: 'tollgate-e2e', version: '1.0.0' });
    await assert.rejects(client.connect(firstTransport), UnauthorizedError);

    // 401 from the MCP server → its PRM → Tollgate's metadata → registration, in this order.
    const steps = [
      ['POST', mcp.url],
      ['GET', mcp.resourceMetadataUrl],
      ['GET', `${tollgate.issuer}/.well-known/oauth-authorization-server`],
      ['POST', asMetadata.registration_endpoint],
    ];
    let at = 0;
    for (const [method, url] of steps) {
      at = indexOfRequest(method, url, at);
      assert.ok(at >= 0, `the SDK sent ${method} ${url} after the previous step; it sent:\n${requests.map((r) => `${r.method} ${r.url}`).join('\n')}`);
    }
    assert.equal(requests.filter((r) => r.url === asMetadata.token_endpoint).length, 0, 'no token request yet');

    const registered = provider.clientInformation();
    assert.ok(registered?.client_id, 'the client was registered');
    assert.equal(registered.client_secret, undefined, 'a public client gets no secret');
    assert.equal(registered.token_endpoint_auth_method, 'none');
    assert.deepEqual(registered.redirect_uris, [CALLBACK]);

    assert.equal(provider.authorizationUrls.length, 1, 'redirectToAuthorization was called once');
    const request = provider.authorizationUrls[0];
    assert.equal(`${request.origin}${request.pathname}`, asMetadata.authorization_endpoint);
    assert.equal(request.searchParams.get('client_id'), registered.client_id);
    assert.equal(request.searchParams.get('resource'), mcp.url, 'RFC 8707 resource = the MCP server URL');
    assert.equal(request.searchParams.get('scope'), 'mcp:tools', 'scope from the WWW-Authenticate challenge');
    assert.equal(request.searchParams.get('code_challenge_method'), 'S256');
    assert.equal(request.searchParams.get('redirect_uri'), CALLBACK);

    assert.equal(provider.callbacks.length, 1, 'the browser came back');
    const callback = provider.callbacks[0];
    assert.equal(`${callback.origin}${callback.pathname}`, CALLBACK);
    assert.equal(callback.searchParams.get('error'), null, callback.href);
    assert.equal(callback.searchParams.get('state'), provider.savedStates[0], 'state comes back unchanged');
    assert.equal(callback.searchParams.get('iss'), tollgate.issuer, 'RFC 9207 iss is the issuer');
    firstCode = callback.searchParams.get('code');
    assert.ok(firstCode, 'there is a code');
  });

  it('finishAuth redeems the code for a JWT whose audience is the MCP server', async () => {
    assert.ok(firstCode, 'the previous step got a code');
    const tokenRequestsBefore = requests.filter((r) => r.url === asMetadata.token_endpoint).length;
    await firstTransport.finishAuth(firstCode);

    const tokenRequests = requests.filter((r) => r.method === 'POST' && r.url === asMetadata.token_endpoint);
    assert.equal(tokenRequests.length, tokenRequestsBefore + 1);
    const sent = new URLSearchParams(tokenRequests.at(-1).body);
    assert.equal(sent.get('grant_type'), 'authorization_code');
    assert.equal(sent.get('resource'), mcp.url);
    assert.ok(sent.get('code_verifier'));

    const tokens = provider.tokens();
    assert.equal(tokens?.token_type?.toLowerCase(), 'bearer');
    assert.ok(tokens.refresh_token, 'a refresh token was issued (the client registered the refresh_token grant)');
    const claims = await verifiedClaims(tokens.access_token);
    assert.equal(claims.aud, mcp.url, 'aud is the resource exactly as the SDK sent it');
    assert.equal(claims.iss, tollgate.issuer);
    assert.equal(claims.sub, 'dev');
    assert.equal(claims.client_id, provider.clientInformation().client_id);
    assert.ok(claims.scope.split(' ').includes('mcp:tools'), claims.scope);
    assert.ok(claims.exp > Date.now() / 1000, 'not expired');
    firstAccessToken = tokens.access_token;
    firstRefreshToken = tokens.refresh_token;
  });

  it('a new connection lists the tools and whoami says dev', async () => {
    assert.ok(firstAccessToken, 'the previous step got tokens');
    const me = await callWhoami();
    assert.deepEqual(me, { sub: 'dev', client_id: provider.clientInformation().client_id });
    assert.equal(provider.authorizationUrls.length, 1, 'no second trip to the consent page');

    // The MCP server really checks the signature: the same token with a broken one is refused.
    const [header, payload, signature] = firstAccessToken.split('.');
    const forged = `${header}.${payload}.${signature[0] === 'A' ? 'B' : 'A'}${signature.slice(1)}`;
    assert.equal((await ping(firstAccessToken)).status, 200, 'the genuine token is accepted');
    const refused = await ping(forged);
    assert.equal(refused.status, 401);
    assert.match(refused.headers.get('www-authenticate') ?? '', /error="invalid_token"/);
  });

  it("the SDK's auth() refreshes the token; the refresh token rotates", async () => {
    assert.ok(firstRefreshToken, 'an earlier step got a refresh token');
    provider.allowRedirect = false; // a refresh must not need the user again
    const result = await auth(provider, { serverUrl: mcp.url, fetchFn: recordingFetch });
    assert.equal(result, 'AUTHORIZED');

    const sent = new URLSearchParams(requests.filter((r) => r.url === asMetadata.token_endpoint).at(-1).body);
    assert.equal(sent.get('grant_type'), 'refresh_token');
    assert.equal(sent.get('refresh_token'), firstRefreshToken);

    const tokens = provider.tokens();
    assert.notEqual(tokens.access_token, firstAccessToken, 'a new access token');
    assert.ok(tokens.refresh_token, 'a new refresh token came with it');
    assert.notEqual(tokens.refresh_token, firstRefreshToken, 'the refresh token rotated');
    const claims = await verifiedClaims(tokens.access_token);
    assert.equal(claims.aud, mcp.url);
    assert.equal(claims.sub, 'dev');

    const me = await callWhoami();
    assert.equal(me.sub, 'dev', 'the refreshed token works at the MCP server');

    // The spent refresh token is refused (OAuth 2.1 §4.3.1: rotation invalidates it).
    const replay = await fetch(asMetadata.token_endpoint, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        grant_type: 'refresh_token',
        refresh_token: firstRefreshToken,
        client_id: provider.clientInformation().client_id,
      }),
    });
    assert.equal(replay.status, 400);
    assert.equal((await replay.json()).error, 'invalid_grant');
  });

  it('a Tollgate token without the mcp:tools scope is refused with 403 insufficient_scope', async () => {
    // A plain OAuth client, outside the SDK, asks for another scope for the same MCP server.
    const registration = await fetch(asMetadata.registration_endpoint, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        client_name: 'no tools',
        redirect_uris: [CALLBACK],
        grant_types: ['authorization_code'],
        response_types: ['code'],
        token_endpoint_auth_method: 'none',
      }),
    });
    assert.equal(registration.status, 201);
    const { client_id } = await registration.json();
    const verifier = randomBytes(32).toString('base64url');
    const authorization = new URL(asMetadata.authorization_endpoint);
    authorization.search = new URLSearchParams({
      response_type: 'code',
      client_id,
      redirect_uri: CALLBACK,
      code_challenge: createHash('sha256').update(verifier).digest('base64url'),
      code_challenge_method: 'S256',
      state: 'no-tools',
      resource: mcp.url,
      scope: 'mcp:prompts',
    });
    const code = (await approveInBrowser(authorization)).searchParams.get('code');
    const response = await fetch(asMetadata.token_endpoint, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'authorization_code', code, code_verifier: verifier, client_id, redirect_uri: CALLBACK, resource: mcp.url }),
    });
    const tokens = await response.json();
    assert.equal(response.status, 200, JSON.stringify(tokens));
    const claims = await verifiedClaims(tokens.access_token);
    assert.equal(claims.aud, mcp.url);
    assert.equal(claims.scope, 'mcp:prompts');

    const refused = await ping(tokens.access_token);
    assert.equal(refused.status, 403);
    const challenge = refused.headers.get('www-authenticate') ?? '';
    assert.match(challenge, /^Bearer .*error="insufficient_scope"/);
    assert.ok(challenge.includes('scope="mcp:tools"'), challenge);
  });

  it('Tollgate printed exactly one line on stdout', () => {
    assert.deepEqual(tollgate.stdoutLines, [`tollgate listening on ${tollgate.issuer.replace('http://', '')} with issuer ${tollgate.issuer}`]);
  });
});
