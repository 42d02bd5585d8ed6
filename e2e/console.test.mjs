// The developer console in a real browser (issue 12, "Proof"): Debian's Chromium, driven
// headless with playwright-core, runs a flow with a deliberate mistake (a token request
// whose redirect_uri says localhost where 127.0.0.1 was registered), finds the flow in the
// console and reads the rule, the expected and received values and the hint on the page.
// axe-core checks every console page, the consent page and the authorization error page
// for serious or critical accessibility violations. Screenshots (1280 px wide) go to
// target/screenshots/ for a person to look at.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { createServer } from 'node:http';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { TOLLGATE_BIN, startTollgate, stopProcess } from './tollgate.mjs';

const CHROMIUM = process.env.CHROMIUM_BIN ?? '/usr/bin/chromium';
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
  '--disable-component-update', '--disable-sync', '--no-first-run'];
const SCREENSHOTS = fileURLToPath(new URL('../target/screenshots/', import.meta.url));
const AXE = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');
const RESOURCE = 'http://127.0.0.1:8000/mcp';
const CLIENT_NAME = 'Console Demo Client';
const XSS_NAME = '<script>window.__xss = 1</script><img src=x onerror="window.__xss = 2">';
// Secrets the configuration holds: no page may show them, nor their hashes.
const SECRETS = ['alice-wonderland-password', 'console-e2e-client-secret'];
const CONFIG = `
[[users]]
subject = "alice"
name = "Alice Example"
password = "${SECRETS[0]}"
claims = { email = "alice@example.com", groups = ["admins"] }

[[users]]
subject = "bob"

[[resources]]
url = "${RESOURCE}"
scopes = ["mcp:tools", "mcp:admin"]
default_scopes = ["mcp:tools"]
default = true

[[clients]]
client_id = "ci-pipeline"
name = "CI pipeline"
secret = "${SECRETS[1]}"
scopes = ["mcp:tools"]
`;

/** Runs axe-core on the page; fails on a serious or critical violation, logs the others. */
async function assertAccessible(page, name) {
  // Evaluated through the DevTools protocol: the pages' CSP does not allow inline scripts.
  await page.evaluate(AXE);
  const { violations } = await page.evaluate(() => window.axe.run(document, { resultTypes: ['violations'] }));
  for (const v of violations) {
    console.log(`axe ${name}: ${v.impact} ${v.id}: ${v.help} (${v.nodes.length} nodes)`);
  }
  const blocking = violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  assert.deepEqual(
    blocking.map((v) => `${v.impact} ${v.id}: ${v.help}\n${v.nodes.map((n) => `  ${n.target.join(' ')}: ${n.failureSummary}`).join('\n')}`),
    [],
    `axe-core on the ${name} page`,
  );
}

async function screenshot(page, name) {
  await page.screenshot({ path: join(SCREENSHOTS, `${name}.png`), fullPage: true });
}

/** The page must show no secret, no hash and no private key anywhere in its HTML. */
async function assertNoSecrets(page, name) {
  const html = await page.content();
  for (const secret of [...SECRETS, '$argon2', 'PRIVATE KEY', 'secret_digest', 'private_key']) {
    assert.ok(!html.includes(secret), `the ${name} page shows ${secret}`);
  }
}

describe('the developer console in Chromium', { timeout: 60_000 }, () => {
  let workDir, tollgate, browser, context, callbackServer;
  // The client's redirect URI, served by the test on a free port, and the same URI with
  // localhost: the deliberate mistake.
  let CALLBACK, MISTAKE;
  const problems = [];
  let client, verifier, code, errorUri;

  before(async () => {
    mkdirSync(SCREENSHOTS, { recursive: true });
    callbackServer = createServer((_, response) => {
      response.writeHead(200, { 'content-type': 'text/html' }).end('<!doctype html><title>Callback</title><p>Back at the client.</p>');
    }).listen(0, '127.0.0.1');
    await once(callbackServer, 'listening');
    const { port } = callbackServer.address();
    CALLBACK = `http://127.0.0.1:${port}/callback`;
    MISTAKE = `http://localhost:${port}/callback`;
    workDir = mkdtempSync(join(tmpdir(), 'tollgate-console-'));
    const database = join(workDir, 'tollgate.db');
    const config = join(workDir, 'tollgate.toml');
    writeFileSync(config, CONFIG);
    // A rotation before start: the keys page then has an active and a published key.
    execFileSync(TOLLGATE_BIN, ['keys', 'rotate', '--database-url', `sqlite://${database}`, '--config', config], { stdio: 'pipe' });
    [tollgate, browser] = await Promise.all([
      startTollgate(database, ['--config', config]),
      chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS }),
    ]);
    context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    // Script errors and CSP refusals on any page fail the run.
    context.on('page', (page) => {
      page.on('pageerror', (error) => problems.push(`${page.url()}: ${error.message}`));
      page.on('console', (message) => {
        if (message.type() === 'error' && !message.text().startsWith('Failed to load resource')) {
          problems.push(`${page.url()}: ${message.text()}`);
        }
      });
    });
  });

  after(async () => {
    await browser?.close();
    await stopProcess(tollgate?.child);
    callbackServer?.close();
    if (workDir) rmSync(workDir, { recursive: true, force: true });
  });

  const url = (path) => `${tollgate.issuer}${path}`;
  const register = async (name) => {
    const response = await fetch(url('/register'), {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ client_name: name, redirect_uris: [CALLBACK], token_endpoint_auth_method: 'none' }),
    });
    assert.equal(response.status, 201);
    return response.json();
  };
  const authorizeUrl = (clientId, challenge) => {
    const query = new URLSearchParams({
      response_type: 'code', client_id: clientId, redirect_uri: CALLBACK, code_challenge: challenge,
      code_challenge_method: 'S256', state: 'console-e2e', resource: RESOURCE, scope: 'mcp:tools',
    });
    return url(`/authorize?${query}`);
  };
  const redeem = (redirectUri) =>
    fetch(url('/token'), {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        grant_type: 'authorization_code', code, code_verifier: verifier, client_id: client.client_id,
        redirect_uri: redirectUri, resource: RESOURCE,
      }),
    });

  it('approves on the consent page in the browser, then makes a token request with a mistake', async () => {
    client = await register(CLIENT_NAME);
    verifier = randomBytes(32).toString('base64url');
    const challenge = createHash('sha256').update(verifier).digest('base64url');
    const page = await context.newPage();
    const consent = await page.goto(authorizeUrl(client.client_id, challenge));
    assert.equal(consent.status(), 200);
    assert.match(await page.locator('h1').innerText(), new RegExp(CLIENT_NAME));
    await screenshot(page, 'consent');
    await assertAccessible(page, 'consent');
    await Promise.all([page.waitForURL((u) => u.href.startsWith(CALLBACK)), page.getByRole('button', { name: 'Approve' }).click()]);
    code = new URL(page.url()).searchParams.get('code');
    assert.ok(code, `a code in ${page.url()}`);
    await page.close();

    const refused = await redeem(MISTAKE);
    const body = await refused.json();
    assert.equal(refused.status, 400, JSON.stringify(body));
    assert.equal(body.error, 'invalid_grant');
    errorUri = body.error_uri;
    assert.ok(errorUri?.startsWith(url('/_tollgate/events/')), `error_uri: ${errorUri}`);
  });

  it('finds the flow on the index and reads the rule, the values compared and the hint', async () => {
    const event = await (await fetch(errorUri, { headers: { accept: 'application/json' } })).json();
    assert.equal(event.rule.id, 'TK-7');
    assert.ok(event.hint?.includes('localhost'), `the hint names the mistake: ${event.hint}`);

    const page = await context.newPage();
    await page.goto(url('/_tollgate/'));
    await page.locator('#live:has-text("Live")').waitFor({ timeout: 10_000 });
    const row = page.locator('#flows tbody tr', { hasText: CLIENT_NAME });
    assert.equal(await row.count(), 1, 'one flow of the client on the index');
    assert.match(await row.innerText(), /1 rejected/);
    await screenshot(page, 'console-index');
    await assertAccessible(page, 'console index');

    await Promise.all([page.waitForURL(/\/_tollgate\/flows\//), row.getByRole('link').click()]);
    const rejected = page.locator('#timeline li.rejected');
    assert.equal(await rejected.count(), 1, 'one rejected step');
    const step = await rejected.innerText();
    assert.match(step, /token\.request/);
    assert.match(step, /invalid_grant/);
    assert.match(step, /TK-7/);
    assert.match(step, /redirect_uri at the token endpoint matches the authorization request/);
    assert.equal(await rejected.locator('.expected p').innerText(), CALLBACK);
    assert.equal(await rejected.locator('.received p').innerText(), MISTAKE);
    assert.equal(await rejected.locator('.hint').innerText(), `Hint: ${event.hint}`);
    assert.equal(await rejected.locator('.rule a').getAttribute('href'), event.rule.url);
    assert.equal(await rejected.locator('details').getAttribute('open'), null, 'details start collapsed');
    await screenshot(page, 'console-flow');
    await page.$$eval('details', (all) => all.forEach((d) => { d.open = true; }));
    await assertAccessible(page, 'console flow');

    // The flow page follows the stream: the corrected request appears without a reload.
    const steps = await page.locator('#timeline > li').count();
    const corrected = await redeem(CALLBACK);
    assert.equal(corrected.status, 200, await corrected.text());
    await page.waitForFunction((n) => document.querySelectorAll('#timeline > li').length > n, steps, { timeout: 10_000 });
    assert.match(await page.locator('#timeline').innerText(), /token\.issued/);
    await page.close();
  });

  it('opens the event that error_uri names, which links to its flow', async () => {
    const page = await context.newPage();
    assert.equal((await page.goto(errorUri)).status(), 200);
    assert.match(await page.locator('main').innerText(), /TK-7/);
    const flow = page.getByRole('link', { name: 'The whole flow' });
    assert.match(await flow.getAttribute('href'), /\/_tollgate\/flows\//);
    await screenshot(page, 'console-event');
    await assertAccessible(page, 'console event');
    await page.close();
  });

  it('shows clients, users, keys and resources, never a secret, and escapes client input', async () => {
    await register(XSS_NAME);
    const jwks = await (await fetch(url('/jwks.json'))).json();
    const pages = {
      clients: [CLIENT_NAME, client.client_id, 'CI pipeline', XSS_NAME, '"token_endpoint_auth_method": "none"'],
      users: ['dev', 'alice', 'Alice Example', 'bob', 'alice@example.com'],
      keys: jwks.keys.map((key) => key.kid).concat(['active', 'published']),
      resources: [RESOURCE, 'mcp:admin', 'default audience'],
    };
    const page = await context.newPage();
    for (const [name, expected] of Object.entries(pages)) {
      assert.equal((await page.goto(url(`/_tollgate/${name}`))).status(), 200);
      const shown = await page.locator('main').evaluate((main) => main.textContent);
      for (const value of expected) assert.ok(shown.includes(value), `the ${name} page shows ${value}`);
      await assertNoSecrets(page, name);
      await screenshot(page, `console-${name}`);
      if (name === 'clients') await page.$$eval('details', (all) => all.forEach((d) => { d.open = true; }));
      await assertAccessible(page, `console ${name}`);
    }
    assert.equal(await page.evaluate(() => window.__xss), undefined, 'a client name runs no script');
    await page.close();
  });

  it('shows the authorization error page accessibly', async () => {
    const page = await context.newPage();
    const response = await page.goto(url(`/authorize?${new URLSearchParams({ response_type: 'code', client_id: 'no-such-client', redirect_uri: CALLBACK })}`));
    assert.equal(response.status(), 400);
    await screenshot(page, 'authorization-error');
    await assertAccessible(page, 'authorization error');
    await page.close();
  });

  it('had no script errors and no CSP refusals, and the server stops while a page follows the stream', async () => {
    const page = await context.newPage();
    await page.goto(url('/_tollgate/'));
    await page.locator('#live:has-text("Live")').waitFor({ timeout: 10_000 });
    assert.deepEqual(problems, []);
    await stopProcess(tollgate.child);
    assert.equal(tollgate.child.exitCode, 0, `tollgate stopped by itself, not killed (${tollgate.child.signalCode})`);
  });
});
