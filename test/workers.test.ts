// worker_threads and the process-wide module registry: one handle and one C_Initialize shared by
// every thread, sessions that end with the worker that opened them, and teardown (worker exit,
// worker.terminate(), process.exit) while sessions are open and async calls are in flight.
// Every scenario runs in a child process (test/fixtures/workers-child.js, which starts
// test/fixtures/worker-p11.js workers), so an abort fails the test instead of killing jest.
import * as fs from 'node:fs';
import * as raw from '../lib/raw';
import { runChild, expectCleanExit } from './helpers/child-process';
import { fixture } from './helpers/softhsm';

// eslint-disable-next-line @typescript-eslint/no-var-requires
const common = require('./fixtures/p11-child-common.js') as { C: Record<string, number> };

const REAL_PATH = fs.realpathSync(fixture().modulePath);
const CKR_SESSION_HANDLE_INVALID = Number(raw.CKR_SESSION_HANDLE_INVALID);
const CKR_CRYPTOKI_NOT_INITIALIZED = Number(raw.CKR_CRYPTOKI_NOT_INITIALIZED);
const CKS_RW_USER_FUNCTIONS = Number(raw.CKS_RW_USER_FUNCTIONS);

function scenario(name: string, timeoutMs = 150_000) {
  return runChild('workers-child.js', [name], { timeoutMs });
}

describe('worker_threads sharing one SoftHSM (token p11bridge-workers)', () => {
  test("the child scripts' PKCS#11 numbers match lib/constants", () => {
    const lib = raw as unknown as Record<string, unknown>;
    for (const [name, value] of Object.entries(common.C)) {
      expect([name, Number(lib[name])]).toEqual([name, value]);
    }
  });

  test('4 workers and the main thread: one handle, one shared C_Initialize, signatures verify, main keeps working', () => {
    const r = scenario('four');
    expectCleanExit(r);
    const out = r.json;
    expect(out.scenario).toBe('four');
    expect(out.exits).toEqual([0, 0, 0, 0]);
    expect(out.workerErrors).toEqual([]);
    expect(out.workers).toHaveLength(4);
    for (const w of out.workers) {
      // Same real path (the registry key) everywhere: one dlopen handle for the whole process.
      expect(w.path).toBe(REAL_PATH);
      expect(w.initialized).toBe(true);
      expect(w.verified).toBe(true);
    }
    expect(out.mainPath).toBe(REAL_PATH);
    // Worker 0 logged in first; the token's login is process-wide, so the others see it.
    expect(out.workers[0].login).toBe('ok');
    expect(out.workers.slice(1).map((w: { login: string }) => w.login)).toEqual(['already', 'already', 'already']);
    // Worker 0 (held until main was set up) was still logged in when main logged in.
    expect(out.mainLogin).toBe('already');
    // Every worker session was opened while main's was open: no handle can equal main's.
    expect(out.workerSessionHandles).not.toContain(out.mainSession);
    // Workers 0 and 3 left their sessions open, 1 and 2 closed them and finalized: either way
    // they are gone once the worker is ...
    expect(out.workerSessionsAfterExit).toEqual([CKR_SESSION_HANDLE_INVALID, CKR_SESSION_HANDLE_INVALID, CKR_SESSION_HANDLE_INVALID, CKR_SESSION_HANDLE_INVALID]);
    // ... while none of the workers' C_Finalize / teardown reached SoftHSM: main's session and
    // login survived all four (a real C_Finalize drops every session).
    expect(out.mainSessionState).toBe(CKS_RW_USER_FUNCTIONS);
    expect(out.mainInfo).toBe('SoftHSM');
    expect(out.mainSignVerified).toBe(true);
    expect(out.mainAfterFinalize).toBe(CKR_CRYPTOKI_NOT_INITIALIZED);
    // Main was the last user: its C_Finalize was real, so main's old session is gone for a new
    // user that initializes again.
    expect(out.oldMainSessionAfterLastFinalize).toBe(CKR_SESSION_HANDLE_INVALID);
    expect(out.freshInfo).toBe('SoftHSM');
  }, 160_000);

  test('a worker that ends without closing anything: its sessions are closed, the main thread is unaffected', () => {
    const r = scenario('leak');
    expectCleanExit(r);
    const out = r.json;
    expect(out.exitCode).toBe(0);
    expect(out.workerErrors).toEqual([]);
    expect(out.workerLogin).toBe('ok');
    expect(out.workerSessionsAfterExit).toEqual([CKR_SESSION_HANDLE_INVALID, CKR_SESSION_HANDLE_INVALID, CKR_SESSION_HANDLE_INVALID]);
    expect(out.mainSessionState).toBeGreaterThan(0);
    expect(out.mainInfo).toBe('SoftHSM');
    expect(out.mainSignVerified).toBe(true);
  }, 160_000);

  test('a worker that calls process.exit() with sessions open: same clean-up', () => {
    const r = scenario('leak-exit');
    expectCleanExit(r);
    const out = r.json;
    expect(out.exitCode).toBe(7);
    expect(out.workerErrors).toEqual([]);
    expect(out.workerSessionsAfterExit).toEqual([CKR_SESSION_HANDLE_INVALID, CKR_SESSION_HANDLE_INVALID, CKR_SESSION_HANDLE_INVALID]);
    expect(out.mainInfo).toBe('SoftHSM');
    expect(out.mainSignVerified).toBe(true);
  }, 160_000);

  test('worker.terminate() on an idle worker holding logged-in sessions', () => {
    const r = scenario('terminate-idle');
    expectCleanExit(r);
    const out = r.json;
    expect(out.exitCode).toBe(1); // what terminate() reports
    expect(out.workerSessionsAfterExit).toEqual([CKR_SESSION_HANDLE_INVALID, CKR_SESSION_HANDLE_INVALID, CKR_SESSION_HANDLE_INVALID]);
    // The worker logged out with its sessions, not main's: main's session is still there.
    expect(out.mainSessionState).toBeGreaterThan(0);
    expect(out.mainSignVerified).toBe(true);
  }, 160_000);

  // ADDON BUG: terminating a worker whose C_*Async work is running on the libuv pool aborts the
  // whole process ("FATAL ERROR: Error::ThrowAsJavaScriptException napi_throw", from the async
  // completion run by Environment::CleanupHandles during the worker's teardown).
  test('worker.terminate() while sessions are open and C_GenerateKeyPairAsync loops are in flight does not take the process down', () => {
    const r = scenario('terminate');
    expectCleanExit(r);
    const out = r.json;
    expect(out.done).toBe(true);
    expect(out.workerErrors).toEqual([]);
    expect(out.workerSessions).toBe(3);
    expect(out.workerSessionsAfterTerminate).toEqual([CKR_SESSION_HANDLE_INVALID, CKR_SESSION_HANDLE_INVALID, CKR_SESSION_HANDLE_INVALID]);
    expect(out.mainSessionState).toBeGreaterThan(0);
    expect(out.mainInfo).toBe('SoftHSM');
    expect(out.mainSignVerified).toBe(true);
    expect(out.mainAsyncKeyPair).toBe('number');
    expect(r.stderr).not.toMatch(/FATAL|Aborted/);
  }, 160_000);

  // Same bug, with the terminated worker as the module's only user (its teardown unloads it).
  test('worker.terminate() of the only user with work in flight; the main thread loads the module afterwards', () => {
    const r = scenario('terminate-sole');
    expectCleanExit(r);
    const out = r.json;
    expect(out.done).toBe(true);
    expect(out.workerSessionsAfterTerminate).toEqual([CKR_SESSION_HANDLE_INVALID, CKR_SESSION_HANDLE_INVALID, CKR_SESSION_HANDLE_INVALID]);
    expect(out.mainInfo).toBe('SoftHSM');
    expect(out.mainSignVerified).toBe(true);
  }, 160_000);

  test('process.exit(0) with open sessions and RSA key generations in flight exits cleanly', () => {
    const r = scenario('process-exit');
    expectCleanExit(r);
    expect(r.json).toEqual({ scenario: 'process-exit', started: 4, sessions: 2, exiting: true });
    expect(r.stdout).not.toContain('asyncError');
    expect(r.stderr).toBe('');
  }, 160_000);

  // ADDON BUG (same as above): process.exit() stops the busy worker, whose in-flight async
  // completion aborts the process during the worker's teardown.
  test('process.exit(0) while a worker has sessions open and async work in flight exits cleanly', () => {
    const r = scenario('process-exit-worker');
    expectCleanExit(r);
    expect(r.json).toEqual({ scenario: 'process-exit-worker', started: 4, sessions: 2, exiting: true });
    expect(r.stderr).toBe('');
  }, 160_000);

  test('natural exit with sessions open, logged in and the module still initialized', () => {
    const r = scenario('natural-exit');
    expectCleanExit(r);
    expect(r.json).toEqual({ scenario: 'natural-exit', random: 32, key: 'number', code: 0 });
    expect(r.stderr).toBe('');
  }, 160_000);
});
