// A CI-sized run of scripts/soak.js (docs/reliability.md): 50,000 mixed raw and typed calls, sync
// and async, in a child process on a throw-away SoftHSM token set of its own. Asserts that nothing
// is left behind (sessions, objects, find operations), that every provoked error had its expected
// code, and that RSS settles under a generous bound. No timing assertions.
import * as path from 'node:path';
import { runChild, repoRoot } from './helpers/child-process';

const CALLS = 50_000;
// Generous: the full 1,000,000-call run is held to 10 MB (scripts/soak.js's default).
const RSS_BOUND_MB = 64;
// Under scripts/asan.js the ASan runtime is preloaded: its quarantine holds freed memory on
// purpose, so RSS says nothing there; every other check still applies.
const underAsan = /libasan/.test(process.env.LD_PRELOAD ?? '');

describe('soak (scripts/soak.js in a child process)', () => {
  test(`${CALLS.toLocaleString('en-US')} mixed calls leave no session, object or find operation behind; RSS settles`, () => {
    // soak.js re-runs itself with the V8 flags it measures with (--expose-gc, fixed young generation).
    const r = runChild(path.join(repoRoot, 'scripts', 'soak.js'), ['--calls', String(CALLS), '--max-rss-growth-mb', underAsan ? '100000' : String(RSS_BOUND_MB)], {
      timeoutMs: 300_000,
    });
    if (!r.json) throw new Error(`soak.js printed no summary: ${r.summary}`);
    const s = r.json;

    // The mix really was mixed.
    expect(s.counted.total).toBeGreaterThanOrEqual(CALLS);
    expect(s.counted.raw).toBeGreaterThan(0);
    expect(s.counted.typed).toBeGreaterThan(0);
    expect(s.counted.rawSync).toBeGreaterThan(0);
    expect(s.counted.rawAsync).toBeGreaterThan(0);
    for (const op of ['raw.sessionChurn', 'raw.errors', 'raw.find', 'typed.findBreak', 'typed.sessionChurn', 'typed.errors', 'typed.ecdsa', 'typed.aes']) {
      expect([op, s.ops[op] > 0]).toEqual([op, true]);
    }
    expect(s.expectedErrors).toBeGreaterThan(0);

    // Nothing unexpected, nothing left behind.
    expect(s.unexpectedSamples).toEqual([]);
    expect(s.findInit).toEqual(Object.fromEntries(Object.keys(s.findInit).map((k) => [k, true])));
    expect(s.sessions.beforeTeardown).toEqual(s.sessions.afterSetup);
    expect(s.sessions.afterTeardown).toEqual(s.sessions.atStart);
    expect(s.objects.after).toEqual(s.objects.before);
    expect(s.checks).toEqual({
      sessionsSteady: true,
      sessionsBackToStart: true,
      objectsSteady: true,
      typedOpenSessionCountSteady: true,
      findsFinalized: true,
      noUnexpectedErrors: true,
      rssGrowthUnderLimit: true,
    });
    if (!underAsan) expect(s.memory.rssGrowthMb).toBeLessThan(RSS_BOUND_MB);
    expect(s.ok).toBe(true);
    expect([r.status, r.signal]).toEqual([0, null]);
  }, 320_000);
});
