// What the official MCP TypeScript SDK client does when the authorization server fails
// (issue 14): each scenario of faults/scenarios.json on a fresh Tollgate state, with the
// same application around the SDK (connect; on UnauthorizedError hand the code of the
// redirect back to finishAuth and connect again; call whoami). What the client did (its
// outcome and its requests to Tollgate, read from the event log) must be what
// faults/observed.json records, so that a change in the SDK shows up here.
// FAULTS_RECORD=1 writes what was observed instead.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { UnauthorizedError } from '@modelcontextprotocol/sdk/client/auth.js';
import { startMcpServer } from './mcp-server.mjs';
import { InMemoryOAuthProvider } from './sdk.mjs';
import { startTollgate, stopProcess } from './tollgate.mjs';
import { control, eventsAfter, readObserved, recordObserved, requestsOf, scenarios } from './faults/observe.mjs';
import { README, withTable } from './faults/table.mjs';

const RECORD = process.env.FAULTS_RECORD === '1';
/** How long a client may take before it counts as hanging. */
const PATIENCE_MS = 20_000;

describe('what the MCP TypeScript SDK client does when the authorization server fails', { timeout: 300_000 }, () => {
  let workDir, tollgate, mcp;
  const observed = {};
  const recorded = readObserved().typescript ?? {};

  before(async () => {
    workDir = mkdtempSync(join(tmpdir(), 'tollgate-faults-'));
    const config = join(workDir, 'tollgate.toml');
    // Every scenario registers a client: no registration limit.
    writeFileSync(config, '[registration]\nper_minute = 0\n');
    tollgate = await startTollgate(join(workDir, 'tollgate.db'), ['--config', config]);
    mcp = await startMcpServer({ issuer: tollgate.issuer });
  });

  after(async () => {
    await mcp?.close();
    await stopProcess(tollgate?.child);
    if (workDir) rmSync(workDir, { recursive: true, force: true });
    if (RECORD) recordObserved('typescript', observed);
  });

  /** The application: connect, finish the authorization if asked to, call whoami. */
  async function connectAndCall(provider) {
    const open = () => [
      new Client({ name: 'tollgate-faults', version: '1.0.0' }),
      new StreamableHTTPClientTransport(new URL(mcp.url), { authProvider: provider }),
    ];
    let [client, transport] = open();
    try {
      try {
        await client.connect(transport);
      } catch (error) {
        if (!(error instanceof UnauthorizedError)) throw error;
        // Back from the authorization server: the SDK takes the code alone.
        const callback = provider.callbacks.at(-1);
        const code = callback?.searchParams.get('code');
        if (!code) return `no code: the redirect back says error=${callback?.searchParams.get('error')}`;
        await transport.finishAuth(code);
        await client.close();
        [client, transport] = open();
        await client.connect(transport);
      }
      const result = await client.callTool({ name: 'whoami', arguments: {} });
      return result.isError ? 'whoami failed' : 'whoami answered';
    } catch (error) {
      return `error: ${error?.constructor?.name ?? typeof error}`;
    } finally {
      await client.close().catch(() => {});
    }
  }

  const patiently = (promise) =>
    Promise.race([promise, new Promise((resolve) => setTimeout(() => resolve('hung'), PATIENCE_MS).unref())]);

  it("README.md's table is the one observed.json gives (node faults/table.mjs --write)", () => {
    const readme = readFileSync(README, 'utf8');
    assert.equal(readme, withTable(readme));
  });

  for (const scenario of scenarios) {
    it(`${scenario.id}: ${scenario.title}`, async () => {
      await control(tollgate.issuer, 'POST', '/reset');
      const provider = new InMemoryOAuthProvider({ clientName: `fault suite: ${scenario.id}` });
      if (scenario.path === 'refresh') {
        assert.equal(await connectAndCall(provider), 'whoami answered', 'the first connection');
        const tokens = provider.tokens();
        // What a resource server does with an expired token: refuse it.
        provider.saveTokens({ ...tokens, access_token: `${tokens.access_token.slice(0, -4)}AAAA` });
      }
      const mark = (await eventsAfter(tollgate.issuer)).at(-1)?.seq ?? 0;
      await control(tollgate.issuer, 'POST', '/faults', scenario.faults);
      const outcome = await patiently(connectAndCall(provider));
      const requests = requestsOf(await eventsAfter(tollgate.issuer, mark));
      observed[scenario.id] = { outcome, requests };
      if (!RECORD) assert.deepEqual(observed[scenario.id], recorded[scenario.id]);
    });
  }
});
