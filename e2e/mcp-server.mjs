// A small MCP resource server protected by Tollgate, written the way the MCP authorization
// spec (2025-06-18 / 2025-11-25) asks a resource server to behave:
// - without a valid bearer token it answers 401 with
//   `WWW-Authenticate: Bearer resource_metadata="…", scope="mcp:tools"` (RFC 9728 §5.1, RFC 6750 §3);
// - it serves RFC 9728 protected resource metadata naming Tollgate as its authorization server;
// - it accepts only RS256 `at+jwt` access tokens (RFC 9068) signed by a key in Tollgate's JWKS,
//   with iss = Tollgate's issuer, aud = this server's canonical URL (RFC 8707), an unexpired exp,
//   and the scope `mcp:tools` (else 403 insufficient_scope).
// It exposes one tool, `whoami`, which returns the token's `sub` and `client_id`.
//
// Use it from a test with `startMcpServer({ issuer })`, or run it by hand:
//   node mcp-server.mjs --issuer http://127.0.0.1:9000 [--port 8000]

import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { createMcpExpressApp } from '@modelcontextprotocol/sdk/server/express.js';

export const REQUIRED_SCOPE = 'mcp:tools';
const MCP_PATH = '/mcp';

/** RFC 8414 §3.1: the well-known segment goes between the host and the issuer's path. */
async function authorizationServerMetadata(issuer) {
  const url = new URL(issuer);
  const path = url.pathname === '/' ? '' : url.pathname.replace(/\/$/, '');
  const response = await fetch(new URL(`/.well-known/oauth-authorization-server${path}`, url));
  if (!response.ok) throw new Error(`${issuer} metadata: HTTP ${response.status}`);
  const metadata = await response.json();
  // RFC 8414 §3.3: the document must name the issuer it was fetched for, exactly.
  if (metadata.issuer !== issuer) throw new Error(`metadata names issuer ${metadata.issuer}, not ${issuer}`);
  return metadata;
}

/**
 * Starts the server on `host:port` (port 0 picks a free one). Resolves to
 * `{ url, resourceMetadataUrl, close }`, where `url` is the canonical MCP server URL.
 */
export async function startMcpServer({ issuer, port = 0, host = '127.0.0.1' }) {
  const jwks = createRemoteJWKSet(new URL((await authorizationServerMetadata(issuer)).jwks_uri));
  const app = createMcpExpressApp({ host }); // JSON bodies, Host header checks (DNS rebinding)
  const http = await new Promise((resolve, reject) => {
    const server = app.listen(port, host, () => resolve(server)).on('error', reject);
  });
  const origin = `http://${host}:${http.address().port}`;
  const resource = `${origin}${MCP_PATH}`;
  const resourceMetadataUrl = `${origin}/.well-known/oauth-protected-resource${MCP_PATH}`;

  // RFC 9728 §3: at the path-inserted URL, and at the root for clients that only try that.
  const protectedResourceMetadata = {
    resource,
    authorization_servers: [issuer],
    scopes_supported: [REQUIRED_SCOPE],
    bearer_methods_supported: ['header'],
    resource_name: 'Tollgate e2e MCP server',
  };
  for (const path of [resourceMetadataUrl, `${origin}/.well-known/oauth-protected-resource`]) {
    app.get(new URL(path).pathname, (_req, res) => res.json(protectedResourceMetadata));
  }

  // RFC 6750 §3: the challenge, with an error code only when credentials were sent (§3.1).
  function refuse(res, status, error, description) {
    const params = error ? [`error="${error}"`, `error_description="${description.replace(/["\\]/g, "'")}"`] : [];
    params.push(`scope="${REQUIRED_SCOPE}"`, `resource_metadata="${resourceMetadataUrl}"`);
    res
      .status(status)
      .set('WWW-Authenticate', `Bearer ${params.join(', ')}`)
      .json({ error: error ?? 'unauthorized', error_description: description });
  }

  async function authenticate(req, res, next) {
    const match = /^Bearer ([A-Za-z0-9\-._~+/]+=*)$/i.exec(req.get('authorization') ?? '');
    // RFC 6750 §3.1: a request without credentials gets a challenge without an error code.
    if (!match) return refuse(res, 401, undefined, 'a bearer access token from the authorization server is required');
    let payload;
    try {
      ({ payload } = await jwtVerify(match[1], jwks, {
        algorithms: ['RS256'],
        typ: 'at+jwt',
        issuer,
        audience: resource, // exactly this server's canonical URL
        requiredClaims: ['exp', 'sub', 'client_id'],
      }));
    } catch (error) {
      return refuse(res, 401, 'invalid_token', `${error.code ?? 'ERR_JWT'}: ${error.message}`);
    }
    const scopes = typeof payload.scope === 'string' ? payload.scope.split(' ') : [];
    if (!scopes.includes(REQUIRED_SCOPE)) {
      return refuse(res, 403, 'insufficient_scope', `the token lacks the scope ${REQUIRED_SCOPE}`);
    }
    req.auth = {
      token: match[1],
      clientId: payload.client_id,
      scopes,
      expiresAt: payload.exp,
      resource: new URL(resource),
      extra: { sub: payload.sub },
    };
    next();
  }

  // Stateless Streamable HTTP: a fresh server and transport for every POST.
  app.post(MCP_PATH, authenticate, async (req, res) => {
    const server = new McpServer({ name: 'tollgate-e2e', version: '1.0.0' });
    server.registerTool(
      'whoami',
      { description: "Returns the access token's subject and client" },
      ({ authInfo }) => ({
        content: [{ type: 'text', text: JSON.stringify({ sub: authInfo.extra.sub, client_id: authInfo.clientId }) }],
      }),
    );
    const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined, enableJsonResponse: true });
    res.on('close', () => {
      transport.close();
      server.close();
    });
    await server.connect(transport);
    await transport.handleRequest(req, res, req.body);
  });
  // No standalone SSE stream and no sessions to delete in stateless mode.
  app.all(MCP_PATH, authenticate, (_req, res) => res.status(405).set('Allow', 'POST').end());

  return {
    url: resource,
    resourceMetadataUrl,
    close: () =>
      new Promise((resolve) => {
        http.close(() => resolve());
        http.closeAllConnections();
      }),
  };
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const { values } = parseArgs({ options: { issuer: { type: 'string' }, port: { type: 'string', default: '0' } } });
  if (!values.issuer) {
    console.error('usage: node mcp-server.mjs --issuer URL [--port N]');
    process.exit(2);
  }
  const { url } = await startMcpServer({ issuer: values.issuer, port: Number(values.port) });
  console.log(`mcp server listening on ${url}`);
}
