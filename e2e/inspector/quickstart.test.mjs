// README.md's Quick start, run as written (issue 19): its shell commands are read from the
// README itself, the first three `sh` blocks of the "Quick start" section (Tollgate, the
// example MCP server, the Inspector's CLI) and the one of "Start over" (the Inspector
// forgetting its tokens), each run in a fresh directory with ports 9000, 8000 and 6276 as the
// README says. What each server prints must be the line the README's `text` block says.
//
// Two substitutions, so that CI spends no minutes on builds and downloads it made already:
// `cargo run --release [-p PACKAGE] --` runs the debug binary .ci/run built
// (target/debug/tollgate, target/debug/tollgate-example-mcp-server), and
// `npx @modelcontextprotocol/inspector@latest` runs the Inspector this directory pins
// (2.12.0) with the Node 22 of the npm `node` package. This test is the browser: the
// Inspector runs without a TTY (MCP_AUTO_OPEN_ENABLED=true, BROWSER=true, the tokens in a
// file under a HOME of its own), and the test approves on the consent page the Inspector
// names as a person would.
//
//   cargo build -p tollgate -p tollgate-example-mcp-server && cd e2e/inspector && npm ci && npm run quickstart

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { approveInBrowser } from '../sdk.mjs';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const TARGET = process.env.CARGO_TARGET_DIR ? join(process.env.CARGO_TARGET_DIR) : join(ROOT, 'target');
const INSPECTOR = fileURLToPath(new URL('node_modules/@modelcontextprotocol/inspector/clients/launcher/build/index.js', import.meta.url));
const RUN_TIMEOUT_MS = 60_000;
const START_TIMEOUT_MS = 30_000;

/** The fenced blocks of a README section (not of its subsections), in order: { lang, body }. */
function blocksOf(readme, heading) {
  const start = readme.indexOf(`\n${heading}\n`);
  assert.ok(start >= 0, `README.md has the section ${heading}`);
  const rest = readme.slice(start + heading.length + 2);
  // Up to the next heading of any level: a section's own blocks, not its subsections'.
  const next = rest.search(/\n#+ /);
  const section = next >= 0 ? rest.slice(0, next) : rest;
  return [...section.matchAll(/```(\w*)\n([\s\S]*?)```/g)].map((m) => ({ lang: m[1], body: m[2].trim() }));
}

/** A README command as argv, with the two substitutions above. */
function argvOf(command) {
  assert.ok(!/[|;&<>$`]/.test(command), `one plain command, not a pipeline: ${command}`);
  const words = command.split(/\s+/);
  if (words[0] === 'cargo') {
    const rest = words.slice(1);
    assert.deepEqual(rest.slice(0, 2), ['run', '--release'], command);
    let binary = 'tollgate';
    let args = rest.slice(2);
    if (args[0] === '-p') {
      binary = args[1];
      args = args.slice(2);
    }
    if (args[0] === '--') args = args.slice(1);
    return [join(TARGET, 'debug', binary), args];
  }
  if (words[0] === 'npx') {
    assert.equal(words[1], '@modelcontextprotocol/inspector@latest', command);
    return [process.execPath, [INSPECTOR, ...words.slice(2)]];
  }
  throw new Error(`not a quick start command: ${command}`);
}

/** Starts a server command; resolves with its first stdout line. */
async function startServer(command, cwd, env) {
  const [file, args] = argvOf(command);
  const child = spawn(file, args, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (chunk) => (stderr += chunk));
  const lines = createInterface({ input: child.stdout });
  let timer;
  try {
    const [line] = await Promise.race([
      once(lines, 'line'),
      once(child, 'exit').then(([code]) => { throw new Error(`${command} exited (${code}):\n${stderr}`); }),
      new Promise((_, reject) => { timer = setTimeout(() => reject(new Error(`${command}: nothing within ${START_TIMEOUT_MS} ms:\n${stderr}`)), START_TIMEOUT_MS); }),
    ]);
    return { child, line };
  } finally {
    clearTimeout(timer);
  }
}

async function stop(child) {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, 'exit');
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
  await exited;
  clearTimeout(timer);
}

describe("README.md's Quick start, as written", { timeout: 240_000 }, () => {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const quick = blocksOf(readme, '## Quick start');
  const commands = quick.filter((b) => b.lang === 'sh').map((b) => b.body);
  const shown = quick.filter((b) => b.lang === 'text').map((b) => b.body);
  const startOver = blocksOf(readme, '### Start over').filter((b) => b.lang === 'sh').map((b) => b.body);
  let dir, home, tollgate, mcp, env;

  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'tollgate-quickstart-'));
    home = mkdtempSync(join(tmpdir(), 'tollgate-quickstart-home-'));
    const desktop = ['DISPLAY', 'WAYLAND_DISPLAY', 'XDG_CURRENT_DESKTOP', 'DESKTOP_SESSION', 'KDE_FULL_SESSION', 'GNOME_DESKTOP_SESSION_ID', 'DBUS_SESSION_BUS_ADDRESS'];
    env = Object.fromEntries(Object.entries(process.env).filter(([name]) =>
      !desktop.includes(name) && !name.startsWith('MCP_') && !name.startsWith('TOLLGATE_')));
    Object.assign(env, { HOME: home, MCP_AUTO_OPEN_ENABLED: 'true', BROWSER: 'true', MCP_INSPECTOR_SECRET_STORE: 'file', NO_COLOR: '1' });
  });

  after(async () => {
    await stop(mcp?.child);
    await stop(tollgate?.child);
    for (const path of [dir, home]) if (path) rmSync(path, { recursive: true, force: true });
  });

  it('has three commands and what two of them print', () => {
    assert.equal(commands.length, 3, `three sh blocks: ${commands}`);
    assert.equal(shown.length, 2, `two text blocks: ${shown}`);
    assert.equal(startOver.length, 1, `one sh block in Start over: ${startOver}`);
  });

  it('terminal 1: Tollgate prints the line the README shows', async () => {
    tollgate = await startServer(commands[0], dir, env);
    assert.equal(tollgate.line, shown[0]);
  });

  it('terminal 2: the example MCP server prints the line the README shows', async () => {
    mcp = await startServer(commands[1], dir, env);
    assert.equal(mcp.line, shown[1]);
  });

  /** Runs an Inspector command; approves (as `dev`) when it names a consent page. */
  async function inspector(command) {
    const [file, args] = argvOf(command);
    const child = spawn(file, args, { cwd: dir, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    const consents = [];
    const failures = [];
    child.stdout.setEncoding('utf8').on('data', (chunk) => (stdout += chunk));
    createInterface({ input: child.stderr }).on('line', (line) => {
      stderr += `${line}\n`;
      const match = /^Please navigate to: (\S+)$/.exec(line);
      if (!match) return;
      const url = new URL(match[1]);
      consents.push(url);
      approveInBrowser(url)
        .then((back) => fetch(back, { redirect: 'manual' }))
        .then((landing) => assert.equal(landing.status, 200, "the Inspector's callback page"))
        .catch((error) => { failures.push(error); child.kill('SIGKILL'); });
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), RUN_TIMEOUT_MS);
    const [code, signal] = await once(child, 'close');
    clearTimeout(timer);
    if (failures.length) throw failures[0];
    assert.equal(signal, null, `killed after ${RUN_TIMEOUT_MS} ms\nstderr:\n${stderr}`);
    assert.equal(code, 0, `exit ${code}\nstdout:\n${stdout}\nstderr:\n${stderr}`);
    return { stdout, stderr, consents };
  }

  const toolNames = (stdout) => JSON.parse(stdout).tools.map((tool) => tool.name).sort();

  it('terminal 3: the Inspector CLI goes through the consent page and lists the tools', async () => {
    const run = await inspector(commands[2]);
    assert.equal(run.consents.length, 1, `one consent page\n${run.stderr}`);
    assert.equal(run.consents[0].origin, 'http://127.0.0.1:9000');
    assert.equal(run.consents[0].searchParams.get('resource'), 'http://127.0.0.1:8000/mcp');
    assert.deepEqual(toolNames(run.stdout), ['add', 'admin_stats', 'call_backend', 'forecast', 'whoami']);
    // The README names them in this order.
    assert.match(readme, /`whoami`, `add`, `admin_stats`, `call_backend` and `forecast`/);
  });

  it('again: the stored tokens are used, no consent page (why "Start over" exists)', async () => {
    const run = await inspector(commands[2]);
    assert.equal(run.consents.length, 0, run.stderr);
    assert.deepEqual(toolNames(run.stdout), ['add', 'admin_stats', 'call_backend', 'forecast', 'whoami']);
  });

  it('Start over: the Inspector forgets its tokens and asks for consent again', async () => {
    const run = await inspector(startOver[0]);
    assert.equal(run.consents.length, 1, `one consent page\n${run.stderr}`);
    assert.deepEqual(toolNames(run.stdout), ['add', 'admin_stats', 'call_backend', 'forecast', 'whoami']);
  });
});
