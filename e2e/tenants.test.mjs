// Several issuers in one Tollgate process (issue 17 item 3), as an MCP client meets them: one
// `tollgate serve` with two tenants, an MCP server per tenant trusting only its tenant's issuer,
// and the official MCP TypeScript SDK completing the whole authorization flow with each
// (RFC 9728 discovery, RFC 8414 path-inserted metadata (checklist MD-2, MD-9), registration,
// consent as the tenant's own user, code + PKCE, tools). Then what one tenant issued is tried
// at the other: its token at the other's MCP server, its client at the other's endpoints.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { UnauthorizedError } from '@modelcontextprotocol/sdk/client/auth.js';
import { startMcpServer } from './mcp-server.mjs';
import { InMemoryOAuthProvider, recordingFetch } from './sdk.mjs';
import { startTollgate, stopProcess } from './tollgate.mjs';

// Each tenant has a user of its own, who approves its consent page.
const CONFIG = `
[[tenants]]
name = "acme"
users = ["carol"]

[[tenants]]
name = "beta"
path = "/teams/beta"
users = ["bob"]
`;
const TENANTS = [
  { name: 'acme', path: '/t/acme', user: 'carol' },
  { name: 'beta', path: '/teams/beta', user: 'bob' },
];

describe('the MCP TypeScript SDK client against two tenants of one Tollgate', { timeout: 120_000 }, () => {
  let workDir, tollgate;
  const tenants = {};

  before(async () => {
    workDir = mkdtempSync(join(tmpdir(), 'tollgate-e2e-tenants-'));
    const config = join(workDir, 'tollgate.toml');
    writeFileSync(config, CONFIG);
    tollgate = await startTollgate(join(workDir, 'tollgate.db'), ['--config', config]);
    for (const { name, path, user } of TENANTS) {
      const issuer = `${tollgate.issuer}${path}`;
      const mcp = await startMcpServer({ issuer });
      const requests = [];
      tenants[name] = { name, user, issuer, mcp, requests, fetch: recordingFetch(requests), provider: new InMemoryOAuthProvider({ user }) };
    }
  });

  after(async () => {
    for (const tenant of Object.values(tenants)) await tenant.mcp.close();
    await stopProcess(tollgate?.child);
    if (workDir) rmSync(workDir, { recursive: true, force: true });
  });

  it('tollgate serve names every tenant and its issuer on stdout', () => {
    assert.deepEqual(tollgate.stdoutLines.slice(1), TENANTS.map(({ name, path }) => `tollgate tenant ${name} with issuer ${tollgate.issuer}${path}`));
  });

  for (const { name, path, user } of TENANTS) {
    it(`${name}: the SDK discovers the tenant, registers, gets consent from ${user} and calls a tool`, async () => {
      const tenant = tenants[name];
      const connect = async () => {
        const transport = new StreamableHTTPClientTransport(new URL(tenant.mcp.url), { authProvider: tenant.provider, fetch: tenant.fetch });
        const client = new Client({ name: `tollgate-e2e-${name}`, version: '1.0.0' });
        await client.connect(transport);
        return { client, transport };
      };
      let transport;
      await assert.rejects(async () => {
        transport = new StreamableHTTPClientTransport(new URL(tenant.mcp.url), { authProvider: tenant.provider, fetch: tenant.fetch });
        await new Client({ name: `tollgate-e2e-${name}`, version: '1.0.0' }).connect(transport);
      }, UnauthorizedError);

      // MD-2: the SDK found the tenant's metadata at the path-inserted URL, and registered at
      // the tenant's registration endpoint.
      const origin = tollgate.issuer;
      const urls = tenant.requests.map((r) => `${r.method} ${r.url}`);
      assert.ok(urls.includes(`GET ${origin}/.well-known/oauth-authorization-server${path}`), urls.join('\n'));
      assert.ok(urls.includes(`POST ${tenant.issuer}/register`), urls.join('\n'));
      const authorization = tenant.provider.authorizationUrls[0];
      assert.equal(`${authorization.origin}${authorization.pathname}`, `${tenant.issuer}/authorize`);
      const callback = tenant.provider.callbacks[0];
      assert.equal(callback.searchParams.get('iss'), tenant.issuer, 'RFC 9207 iss is the tenant issuer');

      await transport.finishAuth(tenant.provider.lastCode());
      const { access_token: accessToken } = tenant.provider.tokens();
      const metadata = await (await fetch(`${origin}/.well-known/oauth-authorization-server${path}`)).json();
      assert.equal(metadata.issuer, tenant.issuer, 'MD-3: the metadata names the tenant issuer exactly');
      const { payload } = await jwtVerify(accessToken, createRemoteJWKSet(new URL(metadata.jwks_uri)), { issuer: tenant.issuer, audience: tenant.mcp.url });
      assert.equal(payload.sub, user);
      tenant.accessToken = accessToken;
      tenant.clientId = tenant.provider.clientInformation().client_id;

      const { client } = await connect();
      try {
        const result = await client.callTool({ name: 'whoami', arguments: {} });
        assert.ok(!result.isError, JSON.stringify(result));
        assert.deepEqual(JSON.parse(result.content[0].text), { sub: user, client_id: tenant.clientId });
      } finally {
        await client.close();
      }
    });
  }

  it("what one tenant issued is refused by the other: its token at the other's MCP server, its client at the other's token endpoint", async () => {
    const [acme, beta] = [tenants.acme, tenants.beta];
    assert.ok(acme.accessToken && beta.accessToken, 'both flows got tokens');
    for (const [from, to] of [[acme, beta], [beta, acme]]) {
      const call = await fetch(to.mcp.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', authorization: `Bearer ${from.accessToken}` },
        body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'ping' }),
      });
      assert.equal(call.status, 401, `${from.name}'s token at ${to.name}'s MCP server`);
      assert.match(call.headers.get('www-authenticate') ?? '', /error="invalid_token"/);

      const refresh = await fetch(`${to.issuer}/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: from.provider.tokens().refresh_token, client_id: from.clientId }),
      });
      assert.equal(refresh.status, 401, `${from.name}'s client at ${to.name}`);
      assert.equal((await refresh.json()).error, 'invalid_client');
    }
  });
});
