// Runs a plain-JS script from test/fixtures/ in a child Node process, so a crash, an abort or a hang
// fails the test that asked for it instead of taking jest down. The child gets this process's
// environment (SOFTHSM2_CONF, P11BRIDGE_FIXTURE) plus `env`.
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';

export const fixturesDir = path.join(__dirname, '..', 'fixtures');
export const repoRoot = path.join(__dirname, '..', '..');

export interface ChildResult {
  status: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** The last stdout line that parses as JSON, or undefined. */
  json: any;
  /** Exit code, signal and output in one string, for assertion messages. */
  summary: string;
}

export function runChild(script: string, args: string[] = [], opts: { env?: Record<string, string>; timeoutMs?: number; execArgv?: string[] } = {}): ChildResult {
  const file = path.isAbsolute(script) ? script : path.join(fixturesDir, script);
  const r = spawnSync(process.execPath, [...(opts.execArgv ?? []), file, ...args], {
    env: { ...process.env, ...opts.env },
    encoding: 'utf8',
    timeout: opts.timeoutMs ?? 90_000,
    killSignal: 'SIGKILL',
    maxBuffer: 64 * 1024 * 1024,
  });
  const json = lastJson(r.stdout);
  const summary = `exit ${r.status} signal ${r.signal}${r.error ? ' error ' + r.error.message : ''}\n--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}`;
  return { status: r.status, signal: r.signal, stdout: r.stdout || '', stderr: r.stderr || '', json, summary };
}

/** The last line of `text` that parses as JSON, or undefined. */
export function lastJson(text: string | null | undefined): any {
  for (const line of (text || '').trim().split('\n').reverse()) {
    try {
      return JSON.parse(line);
    } catch {
      /* not JSON */
    }
  }
  return undefined;
}

/** Asserts a clean exit (code 0, no signal) with the child's output in the failure message. */
export function expectCleanExit(r: ChildResult, code = 0): void {
  if (r.status !== code || r.signal !== null) {
    throw new Error(`child did not exit with ${code}: ${r.summary}`);
  }
}
