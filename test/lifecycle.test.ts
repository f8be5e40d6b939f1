// Typed-layer lifecycle in child processes (issue 5 item 5): close with work in flight, a Module
// collected without close(), process exit with calls in flight, a worker terminated mid-call.
// None may crash; the raw-layer versions are in test/workers.test.ts.
import { runChild, expectCleanExit } from './helpers/child-process';

const run = (scenario: string, execArgv: string[] = []) => runChild('lifecycle-child.js', [scenario], { execArgv, timeoutMs: 120_000 });

describe('typed-layer lifecycle (child processes)', () => {
  test('Module.close() with 8 signatures in flight: every signature completes, then the module closes', () => {
    const r = run('close-waits');
    expectCleanExit(r);
    expect(r.json.signed).toBe(8);
    expect(r.json.sigLen).toBe(64);
    expect(r.json.order[r.json.order.length - 1]).toBe('closed');
  });

  test('a Module and its sessions dropped without close() are collected; a new Module works; clean exit', () => {
    const r = run('gc-without-close', ['--expose-gc']);
    expectCleanExit(r);
    expect(r.json).toEqual({ collected: true, signedAfter: 64 });
  });

  test('process.exit() with logged-in sessions and RSA generations in flight exits cleanly', () => {
    const r = run('exit-in-flight');
    expectCleanExit(r);
    expect(r.json).toEqual({ exiting: true });
  });

  test('a worker using the typed layer terminated mid-call; the main thread keeps signing', () => {
    const r = run('terminate-worker');
    expectCleanExit(r);
    expect(r.json).toEqual({ terminated: 1, mainStillSigns: true });
  });
});
