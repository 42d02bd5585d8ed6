// The MCP Inspector 2.x CLI (`mcp-inspector --cli`) completes the MCP authorization flow against
// Tollgate and the Rust example MCP server, doing every OAuth step itself: on the MCP server's
// 401 it discovers the protected resource metadata and Tollgate's metadata, registers, starts
// its loopback callback listener and prints the authorization URL; this test is the browser
// (it approves on Tollgate's consent page as `dev` and follows the 303 back to the listener);
// the Inspector then redeems the code with its PKCE verifier and calls `whoami`. A second run
// with `--use-stored-auth` makes the Inspector refresh the stored token itself (it runs the
// refresh grant before connecting) and call `whoami` again.
//
// Runs on Node 22.19 or later (the Inspector's floor), against the stack of scripts/demo.sh:
//
//   scripts/client-matrix.sh inspector
//
// Without DEMO_MCP_URL it is skipped.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { approveInBrowser } from '../sdk.mjs';

const MCP_URL = process.env.DEMO_MCP_URL;
const skip = MCP_URL ? false : 'DEMO_MCP_URL is not set; run it against the demo stack: scripts/client-matrix.sh inspector';
const INSPECTOR = fileURLToPath(new URL('node_modules/@modelcontextprotocol/inspector/clients/launcher/build/index.js', import.meta.url));
/** How long one CLI run may take, OAuth included. */
const RUN_TIMEOUT_MS = 60_000;

/** A free TCP port on loopback, for the Inspector's callback listener (its default, 6276, may be taken). */
async function freePort() {
  const server = createServer().listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address();
  server.close();
  await once(server, 'close');
  return port;
}

/** The JSON payload of a JWT, unverified: only to tell tokens apart. */
const jwtClaims = (token) => JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString());

describe('the MCP Inspector CLI against the demo stack (Rust example MCP server, Tollgate)', { skip, timeout: 180_000 }, () => {
  let home, env, callbackUrl;

  before(async () => {
    const [major, minor] = process.versions.node.split('.').map(Number);
    assert.ok(major > 22 || (major === 22 && minor >= 19), `the Inspector needs Node 22.19 or later, not ${process.version} (npm test uses the node package's)`);
    // A home of its own: the Inspector keeps its catalog, client settings and OAuth state
    // (~/.mcp-inspector/storage/oauth.json) there, and earlier runs must not matter.
    home = mkdtempSync(join(tmpdir(), 'tollgate-inspector-'));
    callbackUrl = `http://127.0.0.1:${await freePort()}/oauth/callback`;
    // No desktop session: the Inspector's attempt to open a browser (MCP_AUTO_OPEN_ENABLED
    // forces one) goes through xdg-open to $BROWSER, `true`, which does nothing. This test
    // is the browser.
    const desktop = ['DISPLAY', 'WAYLAND_DISPLAY', 'XDG_CURRENT_DESKTOP', 'DESKTOP_SESSION', 'KDE_FULL_SESSION', 'GNOME_DESKTOP_SESSION_ID', 'DBUS_SESSION_BUS_ADDRESS'];
    env = Object.fromEntries(Object.entries(process.env).filter(([name]) => !desktop.includes(name) && !name.startsWith('MCP_')));
    Object.assign(env, {
      HOME: home,
      // Interactive OAuth without a TTY (CI): admitted only with this.
      MCP_AUTO_OPEN_ENABLED: 'true',
      BROWSER: 'true',
      // There is no OS keychain in CI: keep the secrets (the tokens) in a plain file in `home`.
      MCP_INSPECTOR_SECRET_STORE: 'file',
      NO_COLOR: '1',
    });
  });

  after(() => {
    if (home) rmSync(home, { recursive: true, force: true });
  });

  /**
   * Runs the CLI with `args`; `onStderrLine` sees each line of its standard error as it comes.
   * Resolves with { code, stdout, stderr } once it exits; kills it after RUN_TIMEOUT_MS.
   */
  async function inspector(args, onStderrLine = () => {}) {
    const child = spawn(process.execPath, [INSPECTOR, '--cli', ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk) => (stdout += chunk));
    const failures = [];
    createInterface({ input: child.stderr }).on('line', (line) => {
      stderr += `${line}\n`;
      Promise.resolve(onStderrLine(line)).catch((error) => {
        failures.push(error);
        child.kill('SIGKILL'); // it would wait for a callback that will not come
      });
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), RUN_TIMEOUT_MS);
    const [code, signal] = await once(child, 'close');
    clearTimeout(timer);
    if (failures.length) throw failures[0];
    assert.equal(signal, null, `the Inspector was killed (${signal}) after ${RUN_TIMEOUT_MS} ms\nstderr:\n${stderr}`);
    return { code, stdout, stderr };
  }

  /** From the `{ result }` envelope of `--format json`: the JSON of the tool's text (and of its structured content). */
  function whoamiOf(run) {
    assert.equal(run.code, 0, `the Inspector exited with ${run.code}\nstdout:\n${run.stdout}\nstderr:\n${run.stderr}`);
    const { result } = JSON.parse(run.stdout);
    assert.notEqual(result.isError, true, JSON.stringify(result));
    const me = JSON.parse(result.content[0].text);
    if (result.structuredContent !== undefined) assert.deepEqual(result.structuredContent, me);
    return me;
  }

  /**
   * The tokens the Inspector stored for the MCP server. Its OAuth state file holds the
   * registration; the tokens are secrets, kept by its secret store, here the plain file
   * ~/.mcp-inspector/secrets.json (MCP_INSPECTOR_SECRET_STORE=file).
   */
  function storedTokens() {
    const path = join(home, '.mcp-inspector', 'secrets.json');
    const { secrets } = JSON.parse(readFileSync(path, 'utf8'));
    const server = encodeURIComponent(new URL(MCP_URL).href);
    const keys = Object.keys(secrets).filter((key) => key.includes(`+${server}:tokens:`));
    assert.equal(keys.length, 1, `${path} has one token entry for ${MCP_URL}: ${Object.keys(secrets)}`);
    return JSON.parse(secrets[keys[0]]);
  }

  /** `tools/call whoami`, its result as JSON on stdout. */
  const whoamiArgs = () => [MCP_URL, '--transport', 'http', '--callback-url', callbackUrl, '--method', 'tools/call', '--tool-name', 'whoami', '--format', 'json'];
  const noBrowser = (line) => assert.doesNotMatch(line, /Please navigate to/, 'no trip to the consent page');
  let firstTokens, lastTokens, clientId;

  it('first run: 401 → discovery → registration → consent in the browser → code + PKCE → tools/call whoami', async () => {
    const authorizationUrls = [];
    const callbacks = [];
    const run = await inspector(whoamiArgs(), async (line) => {
      const match = /^Please navigate to: (\S+)$/.exec(line);
      if (!match) return;
      const url = new URL(match[1]);
      authorizationUrls.push(url);
      const back = await approveInBrowser(url);
      callbacks.push(back);
      // The browser follows the redirect to the Inspector's loopback listener.
      const landing = await fetch(back, { redirect: 'manual' });
      assert.equal(landing.status, 200, `the Inspector's callback page: ${await landing.text()}`);
    });
    const me = whoamiOf(run);

    assert.equal(authorizationUrls.length, 1, `one trip to the consent page\nstderr:\n${run.stderr}`);
    const request = authorizationUrls[0];
    clientId = request.searchParams.get('client_id');
    assert.ok(clientId, 'the Inspector registered a client');
    assert.equal(request.searchParams.get('resource'), MCP_URL, 'RFC 8707 resource = the MCP server URL');
    assert.equal(request.searchParams.get('redirect_uri'), callbackUrl);
    assert.equal(request.searchParams.get('code_challenge_method'), 'S256');
    assert.ok(request.searchParams.get('scope').split(' ').includes('mcp:tools'), request.href);
    const callback = callbacks[0];
    assert.equal(`${callback.origin}${callback.pathname}`, callbackUrl);
    assert.ok(callback.searchParams.get('code'), callback.href);
    assert.ok(callback.searchParams.get('iss'), 'RFC 9207 iss');

    assert.equal(me.sub, 'dev');
    assert.equal(me.client_id, clientId, 'the token belongs to the client the Inspector registered');
    assert.ok(me.scope.split(' ').includes('mcp:tools'), me.scope);

    firstTokens = storedTokens();
    assert.ok(firstTokens?.access_token, 'the Inspector stored the access token');
    assert.ok(firstTokens.refresh_token, 'and a refresh token');
  });

  it('second run, tools/list: the stored access token is used as it is, without consent or refresh', async () => {
    assert.ok(firstTokens, 'the first run stored tokens');
    const run = await inspector(
      [MCP_URL, '--transport', 'http', '--callback-url', callbackUrl, '--method', 'tools/list', '--format', 'json'],
      noBrowser,
    );
    assert.equal(run.code, 0, `the Inspector exited with ${run.code}\nstdout:\n${run.stdout}\nstderr:\n${run.stderr}`);
    const { result } = JSON.parse(run.stdout);
    assert.deepEqual(result.tools.map((tool) => tool.name).sort(), ['add', 'admin_stats', 'call_backend', 'forecast', 'whoami']);
    assert.deepEqual(storedTokens(), firstTokens, 'the tokens are unchanged');
  });

  it('third run, the stored access token refused (401 invalid_token): the Inspector refreshes by itself, the refresh token rotates, whoami works', async () => {
    // The Inspector refreshes when the MCP server refuses its token: it keeps no expiry time
    // for it. A token past its expiry would do, but the example server allows 60 s of clock
    // skew, so instead the stored token gets a wrong signature, which the server refuses the
    // same way (401 invalid_token, and the same challenge).
    const path = join(home, '.mcp-inspector', 'secrets.json');
    const store = JSON.parse(readFileSync(path, 'utf8'));
    const [key] = Object.keys(store.secrets).filter((k) => k.includes(':tokens:'));
    const tokens = JSON.parse(store.secrets[key]);
    const [header, payload, signature] = tokens.access_token.split('.');
    const broken = `${header}.${payload}.${signature[0] === 'A' ? 'B' : 'A'}${signature.slice(1)}`;
    const refused = await fetch(MCP_URL, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', authorization: `Bearer ${broken}` },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'ping' }),
    });
    assert.equal(refused.status, 401, 'the MCP server refuses the broken token');
    assert.match(refused.headers.get('www-authenticate') ?? '', /error="invalid_token"/);
    store.secrets[key] = JSON.stringify({ ...tokens, access_token: broken });
    writeFileSync(path, JSON.stringify(store), { mode: 0o600 });

    const me = whoamiOf(await inspector(whoamiArgs(), noBrowser));
    assert.equal(me.sub, 'dev');
    assert.equal(me.client_id, clientId, 'the same client, refreshed, not registered again');

    const refreshed = storedTokens();
    assert.notEqual(refreshed.access_token, broken, 'a new access token was stored');
    assert.notEqual(jwtClaims(refreshed.access_token).jti, jwtClaims(firstTokens.access_token).jti);
    assert.ok(refreshed.refresh_token, 'with a new refresh token');
    assert.notEqual(refreshed.refresh_token, firstTokens.refresh_token, 'the refresh token rotated');
    lastTokens = refreshed;
  });

  it('known Inspector 2.12.0 issue: --use-stored-auth does not refresh tokens that the CLI stored, and silently uses the stored access token', async () => {
    // Its refresh reads `serverMetadata` from the OAuth state, which the CLI's own flow does
    // not write (it keeps `discoveryState`); without it, it takes the MCP server for its own
    // authorization server, sends the refresh grant to the MCP server's /token (401), and
    // falls back to the stored access token. Should an upgrade make this test fail because
    // the tokens changed, the Inspector refreshes here now: expect rotation instead.
    assert.ok(lastTokens, 'the previous run refreshed');
    const run = await inspector(
      ['--transport', 'http', '--server-url', MCP_URL, '--use-stored-auth', '--method', 'tools/call', '--tool-name', 'whoami', '--format', 'json'],
      noBrowser,
    );
    assert.equal(whoamiOf(run).sub, 'dev');
    assert.deepEqual(storedTokens(), lastTokens, 'no refresh happened');
  });
});
