// The pages a newcomer meets (issue 19, "Proof"), in Debian's Chromium driven headless by
// playwright-core, at 1280 and at 390 px wide: approve, deny, a wrong password then the
// right one, a step-up with the new scope marked, the device page, the dead-end pages.
// axe-core must report no violation at all on the consent, device and error pages; every
// control is at least 44 px high and nothing scrolls sideways. Screenshots go to
// e2e/artifacts/ (git-ignored), for a person to look at.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { createServer } from 'node:http';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { startTollgate, stopProcess } from './tollgate.mjs';

const CHROMIUM = process.env.CHROMIUM_BIN ?? '/usr/bin/chromium';
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
  '--disable-component-update', '--disable-sync', '--no-first-run'];
const ARTIFACTS = fileURLToPath(new URL('./artifacts/', import.meta.url));
const AXE = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');
const RESOURCE = 'http://127.0.0.1:8000/mcp';
const PASSWORD = 'pages-e2e-wonderland';
const CONFIG = `
[[users]]
subject = "alice"
name = "Alice Example"
password = "${PASSWORD}"

[[users]]
subject = "bob"

[[resources]]
url = "${RESOURCE}"
scopes = ["mcp:tools", "mcp:admin"]
default_scopes = ["mcp:tools"]
default = true
scope_descriptions = { "mcp:tools" = "List and call the server's tools", "mcp:admin" = "Change the server's settings" }
`;
const WIDTHS = [1280, 390];

/** axe-core on the page (every <details> open): no violation of any impact. */
async function assertAccessible(page, name) {
  await page.$$eval('details', (all) => all.forEach((d) => { d.open = true; }));
  // Evaluated through the DevTools protocol: the pages' CSP allows no script.
  await page.evaluate(AXE);
  const { violations } = await page.evaluate(() => window.axe.run(document, { resultTypes: ['violations'] }));
  assert.deepEqual(
    violations.map((v) => `${v.impact} ${v.id}: ${v.help}\n${v.nodes.map((n) => `  ${n.target.join(' ')}: ${n.failureSummary}`).join('\n')}`),
    [],
    `axe-core on the ${name} page`,
  );
  await page.$$eval('details', (all) => all.forEach((d) => { d.open = false; }));
}

/** Buttons, radios' rows and the summary are at least 44 px high; no sideways scrolling. */
async function assertUsable(page, name, width) {
  const small = await page.$$eval('button, label.user, summary, input[type=password], input[name=user_code]', (all) =>
    all.filter((e) => e.offsetParent !== null)
      .map((e) => [e.outerHTML.slice(0, 60), e.getBoundingClientRect().height])
      .filter(([, height]) => height < 44));
  assert.deepEqual(small, [], `touch targets under 44 px on the ${name} page`);
  const scrollWidth = await page.evaluate(() => document.documentElement.scrollWidth);
  assert.ok(scrollWidth <= width, `the ${name} page is ${scrollWidth} px wide at ${width} px`);
  const fonts = await page.$$eval('h1, p, button, label', (all) => [...new Set(all.map((e) => getComputedStyle(e).fontFamily))]);
  assert.equal(fonts.length, 1, `one font on the ${name} page: ${fonts}`);
}

describe('the consent, device and error pages in Chromium', { timeout: 120_000 }, () => {
  let workDir, tollgate, browser, callbackServer, CALLBACK;

  before(async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    callbackServer = createServer((_, response) => {
      response.writeHead(200, { 'content-type': 'text/html' }).end('<!doctype html><title>Callback</title><p>Back at the client.</p>');
    }).listen(0, '127.0.0.1');
    await once(callbackServer, 'listening');
    CALLBACK = `http://127.0.0.1:${callbackServer.address().port}/callback`;
    workDir = mkdtempSync(join(tmpdir(), 'tollgate-pages-'));
    const config = join(workDir, 'tollgate.toml');
    writeFileSync(config, CONFIG);
    [tollgate, browser] = await Promise.all([
      startTollgate(join(workDir, 'tollgate.db'), ['--config', config]),
      chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS }),
    ]);
  });

  after(async () => {
    await browser?.close();
    await stopProcess(tollgate?.child);
    callbackServer?.close();
    if (workDir) rmSync(workDir, { recursive: true, force: true });
  });

  const url = (path) => `${tollgate.issuer}${path}`;
  const register = async (body) => {
    const response = await fetch(url('/register'), {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ redirect_uris: [CALLBACK], token_endpoint_auth_method: 'none', ...body }),
    });
    assert.equal(response.status, 201, await response.clone().text());
    return response.json();
  };
  const authorizeUrl = (clientId, extra = {}) => {
    const verifier = randomBytes(32).toString('base64url');
    const query = new URLSearchParams({
      response_type: 'code', client_id: clientId, redirect_uri: CALLBACK,
      code_challenge: createHash('sha256').update(verifier).digest('base64url'),
      code_challenge_method: 'S256', state: 'pages-e2e', resource: RESOURCE, scope: 'mcp:tools', ...extra,
    });
    return url(`/authorize?${query}`);
  };
  /** Clicks a button and waits for the redirect back to the client; returns its query. */
  const decide = async (page, button) => {
    await Promise.all([page.waitForURL((u) => u.href.startsWith(CALLBACK)), page.getByRole('button', { name: button }).click()]);
    return new URL(page.url()).searchParams;
  };

  for (const width of WIDTHS) {
    describe(`at ${width} px`, () => {
      let context, client;
      const shot = (page, name) => page.screenshot({ path: join(ARTIFACTS, `${name}-${width}.png`), fullPage: true });

      before(async () => {
        context = await browser.newContext({ viewport: { width, height: 900 } });
        client = await register({ client_name: `Pages Demo ${width}`, grant_types: ['authorization_code', 'refresh_token'] });
      });
      after(() => context?.close());

      it('approves: the page names the server, the client, the scopes and the resource', async () => {
        const page = await context.newPage();
        assert.equal((await page.goto(authorizeUrl(client.client_id))).status(), 200);
        assert.equal(await page.locator('.brand').innerText(), 'Tollgate');
        assert.match(await page.locator('.badge').innerText(), /development server/);
        assert.match(await page.locator('h1').innerText(), new RegExp(`Pages Demo ${width} wants`));
        assert.match(await page.locator('.scopes').innerText(), /mcp:tools\s+List and call the server's tools/);
        assert.equal(await page.locator('.new').count(), 0, 'a first request marks nothing new');
        assert.equal(await page.locator('details').getAttribute('open'), null, 'request details collapsed');
        assert.equal(await page.locator('input[type=password]').isVisible(), false, 'dev has no password');
        await shot(page, 'consent');
        await assertAccessible(page, 'consent');
        await assertUsable(page, 'consent', width);
        await page.getByText('Request details').click();
        assert.match(await page.locator('details dl').innerText(), /PKCE\s+S256/);
        await shot(page, 'consent-details');
        const query = await decide(page, 'Approve');
        assert.ok(query.get('code'), `a code: ${page.url()}`);
        assert.equal(query.get('state'), 'pages-e2e');
        await page.close();
      });

      it('denies', async () => {
        const page = await context.newPage();
        await page.goto(authorizeUrl(client.client_id));
        const query = await decide(page, 'Deny');
        assert.equal(query.get('error'), 'access_denied');
        assert.equal(query.get('code'), null);
        await page.close();
      });

      it('keeps the page after a wrong password, then approves with the right one', async () => {
        const page = await context.newPage();
        await page.goto(authorizeUrl(client.client_id, { login_hint: 'alice' }));
        const password = page.locator('input[type=password]');
        assert.equal(await password.isVisible(), true, 'alice has a password');
        await page.getByLabel('bob').check();
        assert.equal(await password.isVisible(), false, 'bob has none');
        await page.getByLabel('Alice Example').check();
        await password.fill('not-the-password');
        await page.getByRole('button', { name: 'Approve' }).click();
        await page.locator('.notice').waitFor();
        assert.match(await page.locator('.notice').innerText(), /wrong password for 'alice'/);
        assert.equal(await page.getByLabel('Alice Example').isChecked(), true, 'alice still chosen');
        await shot(page, 'consent-wrong-password');
        await assertAccessible(page, 'consent with a wrong password');
        await assertUsable(page, 'consent with a wrong password', width);
        await page.locator('input[type=password]').fill(PASSWORD);
        const query = await decide(page, 'Approve');
        assert.ok(query.get('code'), `a code: ${page.url()}`);
        await page.close();
      });

      it('marks the new scope on a step-up', async () => {
        const page = await context.newPage();
        await page.goto(authorizeUrl(client.client_id, { scope: 'mcp:tools mcp:admin' }));
        const admin = page.locator('.scopes li', { hasText: 'mcp:admin' });
        assert.equal(await admin.locator('.new').isVisible(), true, 'mcp:admin is new');
        assert.match(await admin.innerText(), /Change the server's settings/);
        assert.equal(await page.locator('.scopes li', { hasText: 'mcp:tools' }).locator('.new').count(), 0);
        await shot(page, 'consent-step-up');
        await assertAccessible(page, 'step-up consent');
        const query = await decide(page, 'Approve');
        assert.ok(query.get('code'));
        await page.close();
      });

      it('shows the device page: the code to type, then what the device asks for', async () => {
        const device = await register({
          client_name: `Device Demo ${width}`, grant_types: ['urn:ietf:params:oauth:grant-type:device_code'],
          redirect_uris: undefined, application_type: 'native',
        });
        const response = await fetch(url('/device_authorization'), {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
          body: new URLSearchParams({ client_id: device.client_id, resource: RESOURCE, scope: 'mcp:tools' }),
        });
        const codes = await response.json();
        assert.equal(response.status, 200, JSON.stringify(codes));
        const page = await context.newPage();
        await page.goto(url('/device'));
        await shot(page, 'device-entry');
        await assertAccessible(page, 'device entry');
        await assertUsable(page, 'device entry', width);
        await page.getByLabel('Code').fill(codes.user_code);
        await page.getByRole('button', { name: 'Continue' }).click();
        await page.locator('.code').waitFor();
        assert.equal(await page.locator('.code').innerText(), codes.user_code);
        assert.match(await page.locator('h1').innerText(), new RegExp(`Device Demo ${width}`));
        await shot(page, 'device-confirm');
        await assertAccessible(page, 'device confirmation');
        await assertUsable(page, 'device confirmation', width);
        await page.getByRole('button', { name: 'Approve' }).click();
        await page.locator('h1', { hasText: 'Done' }).waitFor();
        await assertAccessible(page, 'device done');
        await page.close();
      });

      it('shows the dead ends with a heading per kind, naming the client when known', async () => {
        const page = await context.newPage();
        const unknown = await page.goto(url(`/authorize?${new URLSearchParams({ response_type: 'code', client_id: 'no-such-client', redirect_uri: CALLBACK })}`));
        assert.equal(unknown.status(), 400);
        assert.equal(await page.locator('h1').innerText(), 'Tollgate does not know this application');
        await shot(page, 'error-unknown-client');
        await assertAccessible(page, 'unknown client error');
        await assertUsable(page, 'unknown client error', width);

        const wrong = await page.goto(authorizeUrl(client.client_id, { redirect_uri: 'http://127.0.0.1:9/elsewhere' }));
        assert.equal(wrong.status(), 400);
        assert.match(await page.locator('main').innerText(), new RegExp(`came from Pages Demo ${width}`));
        await shot(page, 'error-bad-request');
        await assertAccessible(page, 'bad request error');

        // A form used twice: the second submission is a dead end of its own kind.
        await page.goto(authorizeUrl(client.client_id));
        const form = await page.locator('form[method=post]').evaluate((f) => Object.fromEntries(new FormData(f)));
        await decide(page, 'Approve');
        const again = await page.request.post(url('/authorize'), { form: { ...form, user: 'dev', decision: 'approve' }, maxRedirects: 0 });
        assert.equal(again.status(), 400);
        await page.setContent(await again.text());
        assert.equal(await page.locator('h1').innerText(), 'This form can no longer be used');
        await shot(page, 'error-form-used');
        await page.close();
      });
    });
  }
});
