// What the fault suite shares between its clients (issue 14): the scenarios, the record of
// what each client did (observed.json), the control API of the Tollgate under test, and
// the reading of what a client did from Tollgate's event log.

import { readFileSync, writeFileSync } from 'node:fs';

const here = (name) => new URL(name, import.meta.url);

export const { scenarios } = JSON.parse(readFileSync(here('scenarios.json'), 'utf8'));
export const observedFile = here('observed.json');
export const readObserved = () => JSON.parse(readFileSync(observedFile, 'utf8'));

/** Writes `client`'s part of observed.json (FAULTS_RECORD=1: record instead of compare). */
export function recordObserved(client, observed) {
  const all = readObserved();
  all[client] = observed;
  writeFileSync(observedFile, `${JSON.stringify(all, null, 2)}\n`);
}

/** A request of the control API; resolves to its JSON answer, or throws. */
export async function control(issuer, method, path, body) {
  const response = await fetch(`${issuer}/_tollgate/api${path}`, {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  if (!response.ok) throw new Error(`${method} ${path}: ${response.status} ${text}`);
  return text ? JSON.parse(text) : null;
}

/** Every event after `seq`, oldest first. */
export async function eventsAfter(issuer, seq = 0) {
  const response = await fetch(`${issuer}/_tollgate/events?after=${seq}&limit=10000`);
  const body = await response.json();
  return body.events;
}

// Not jwks.fetch: MCP clients do not fetch the JWKS (the MCP server does, to check tokens).
const STEPS = {
  'metadata.fetch': 'metadata',
  'client.register': 'register',
  'authorization.request': 'authorize',
  'consent.decision': 'consent',
  'token.revoke': 'revoke',
  'token.introspect': 'introspect',
};

/**
 * The requests a client made to Tollgate, in order, as the event log recorded them:
 * `metadata`, `register`, `authorize`, `consent`, `token authorization_code`, ..., each
 * followed by ` (fault)` when a fault was injected into it.
 */
export function requestsOf(events) {
  return events
    .filter((event) => event.type === 'token.request' || event.type in STEPS)
    .map((event) => {
      const step = event.type === 'token.request' ? `token ${event.details?.grant_type ?? '?'}` : STEPS[event.type];
      return event.details?.fault ? `${step} (fault)` : step;
    });
}
