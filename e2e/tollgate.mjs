// Runs the `tollgate` binary for the end-to-end tests: `tollgate serve` on a free port, and
// its orderly stop.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

export const TOLLGATE_BIN = process.env.TOLLGATE_BIN
  ? resolve(process.env.TOLLGATE_BIN)
  : fileURLToPath(new URL('../target/debug/tollgate', import.meta.url));
const STARTUP_TIMEOUT_MS = 20_000;

/**
 * Starts `tollgate serve` on a free port and resolves once it printed its one stdout line;
 * `extraArgs` go after the database (`--config FILE`, say).
 */
export async function startTollgate(databasePath, extraArgs = []) {
  // Only the flags below configure it, whatever TOLLGATE_* variables the caller has set.
  const env = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith('TOLLGATE_')));
  const args = ['serve', '--bind', '127.0.0.1:0', '--database-url', `sqlite://${databasePath}`, ...extraArgs];
  const child = spawn(TOLLGATE_BIN, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
  const killOnExit = () => child.kill('SIGKILL');
  process.on('exit', killOnExit); // last resort if the test process dies
  child.once('exit', () => process.off('exit', killOnExit));
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (chunk) => (stderr += chunk));
  const lines = [];
  const stdout = createInterface({ input: child.stdout });
  stdout.on('line', (line) => lines.push(line));

  let timer;
  try {
    const [line] = await Promise.race([
      once(stdout, 'line'),
      once(child, 'exit').then(([code, signal]) => {
        throw new Error(`tollgate exited (${code ?? signal}) before it was listening`);
      }),
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error(`tollgate printed nothing within ${STARTUP_TIMEOUT_MS} ms`)), STARTUP_TIMEOUT_MS);
      }),
    ]);
    const match = /^tollgate listening on 127\.0\.0\.1:(\d+) with issuer (\S+)$/.exec(line);
    assert.ok(match, `unexpected start-up line: ${line}`);
    assert.equal(match[2], `http://127.0.0.1:${match[1]}`, 'the default issuer is http://<bind address>');
    return { child, issuer: match[2], stdoutLines: lines, stderr: () => stderr };
  } catch (error) {
    child.kill('SIGKILL');
    error.message += `\n${TOLLGATE_BIN} ${args.join(' ')}\nstderr:\n${stderr}`;
    throw error;
  } finally {
    clearTimeout(timer);
  }
}

/** Stops a process with SIGTERM (SIGKILL after 5 s) and waits until it has exited. */
export async function stopProcess(child) {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, 'exit');
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
  await exited;
  clearTimeout(timer);
}
