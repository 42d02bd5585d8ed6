// What the end-to-end tests share: a scripted browser that approves on Tollgate's consent
// page, and an in-memory `OAuthClientProvider` for the official MCP TypeScript SDK that uses it.

import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';

// Nothing listens here: the "browser" reads the redirect instead of following it.
export const CALLBACK = 'http://127.0.0.1:53682/callback';

export const decodeHtml = (text) =>
  text.replace(/&(#x[0-9a-f]+|#\d+|amp|lt|gt|quot|apos);/gi, (_, entity) =>
    entity[0] === '#'
      ? String.fromCodePoint(entity[1].toLowerCase() === 'x' ? parseInt(entity.slice(2), 16) : Number(entity.slice(1)))
      : { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" }[entity.toLowerCase()],
  );

/** The value of `<input … name="NAME" … value="…">`, or undefined. */
export function inputValue(html, name, type = 'hidden') {
  for (const [tag] of html.matchAll(/<input\b[^>]*>/g)) {
    if (tag.includes(`name="${name}"`) && tag.includes(`type="${type}"`)) {
      const value = /\bvalue="([^"]*)"/.exec(tag);
      return value && decodeHtml(value[1]);
    }
  }
  return undefined;
}

/**
 * Does what a person's browser does with an authorization URL: loads the consent page (keeping
 * its cookie), approves as `user` (`dev` unless told), and returns the URL of the 303 redirect
 * back to the client.
 */
export async function approveInBrowser(authorizationUrl, { user = 'dev' } = {}) {
  const page = await fetch(authorizationUrl, { redirect: 'manual' });
  const html = await page.text();
  assert.equal(page.status, 200, `the consent page, for ${authorizationUrl}:\n${html}`);
  const cookie = page.headers
    .getSetCookie()
    .map((header) => header.split(';')[0])
    .find((pair) => pair.startsWith('tollgate-browser='));
  assert.ok(cookie, `the consent page sets the tollgate-browser cookie: ${page.headers.getSetCookie()}`);
  const action = /<form\b[^>]*\bmethod="post"[^>]*\baction="([^"]*)"/i.exec(html);
  assert.ok(action, 'the consent page has a POST form');
  const users = [...html.matchAll(/<input\b[^>]*\bname="user"[^>]*\bvalue="([^"]*)"/g)].map((m) => m[1]);
  assert.ok(users.includes(user), `the user ${user} is offered: ${users}`);
  const form = { request_id: inputValue(html, 'request_id'), csrf_token: inputValue(html, 'csrf_token') };
  assert.ok(form.request_id && form.csrf_token, `hidden inputs request_id and csrf_token: ${JSON.stringify(form)}`);

  const decision = await fetch(new URL(decodeHtml(action[1]), authorizationUrl), {
    method: 'POST',
    redirect: 'manual',
    headers: { 'content-type': 'application/x-www-form-urlencoded', cookie },
    body: new URLSearchParams({ ...form, user, decision: 'approve' }),
  });
  assert.equal(decision.status, 303, `the decision is answered with 303: ${await decision.text()}`);
  return new URL(decision.headers.get('location'));
}

/**
 * An `OAuthClientProvider` that keeps everything in memory and drives the scripted browser:
 * `redirectToAuthorization` approves at once and keeps the URL of the redirect back in
 * `callbacks`, where a test picks up the code for `finishAuth`.
 */
export class InMemoryOAuthProvider {
  authorizationUrls = [];
  callbacks = [];
  savedStates = [];
  allowRedirect = true;
  #clientMetadata;
  #client;
  #tokens;
  #codeVerifier;
  #user;

  /**
   * `grantTypes` without `refresh_token` makes a client that gets no refresh tokens; `user` is
   * who approves on the consent page.
   */
  constructor({ clientName = 'Tollgate e2e (MCP TypeScript SDK)', grantTypes = ['authorization_code', 'refresh_token'], user = 'dev' } = {}) {
    this.#user = user;
    this.#clientMetadata = {
      client_name: clientName,
      redirect_uris: [CALLBACK],
      grant_types: grantTypes,
      response_types: ['code'],
      token_endpoint_auth_method: 'none',
    };
  }

  get redirectUrl() {
    return CALLBACK;
  }

  get clientMetadata() {
    return this.#clientMetadata;
  }

  state() {
    const state = randomBytes(16).toString('base64url');
    this.savedStates.push(state);
    return state;
  }

  clientInformation() {
    return this.#client;
  }

  saveClientInformation(information) {
    this.#client = information;
  }

  tokens() {
    return this.#tokens;
  }

  saveTokens(tokens) {
    this.#tokens = tokens;
  }

  saveCodeVerifier(codeVerifier) {
    this.#codeVerifier = codeVerifier;
  }

  codeVerifier() {
    if (!this.#codeVerifier) throw new Error('no code verifier was saved');
    return this.#codeVerifier;
  }

  invalidateCredentials(scope) {
    if (scope === 'all' || scope === 'client') this.#client = undefined;
    if (scope === 'all' || scope === 'tokens') this.#tokens = undefined;
    if (scope === 'all' || scope === 'verifier') this.#codeVerifier = undefined;
  }

  async redirectToAuthorization(authorizationUrl) {
    this.authorizationUrls.push(authorizationUrl);
    if (!this.allowRedirect) throw new Error(`unexpected redirect to ${authorizationUrl}`);
    this.callbacks.push(await approveInBrowser(authorizationUrl, { user: this.#user }));
  }

  /** The code of the latest redirect back, checked as a client checks it. */
  lastCode() {
    const callback = this.callbacks.at(-1);
    assert.ok(callback, 'the browser came back');
    assert.equal(`${callback.origin}${callback.pathname}`, CALLBACK);
    assert.equal(callback.searchParams.get('error'), null, callback.href);
    assert.equal(callback.searchParams.get('state'), this.savedStates.at(-1), 'state comes back unchanged');
    const code = callback.searchParams.get('code');
    assert.ok(code, `there is a code: ${callback.href}`);
    return code;
  }
}

/** A `fetch` for the SDK that records every request, in order, as { method, url, body }. */
export function recordingFetch(requests) {
  return (url, init) => {
    requests.push({ method: init?.method ?? 'GET', url: String(url), body: init?.body ? String(init.body) : undefined });
    return fetch(url, init);
  };
}
