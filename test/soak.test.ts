// A CI-sized run of scripts/soak.js (docs/reliability.md): 50,000 mixed raw and typed calls, sync
// and async, in a child process on a throw-away SoftHSM token set of its own. Asserts that nothing
// is left behind (sessions, objects, find operations), that every provoked error had its expected
// code, and that RSS settles under a generous bound. No timing assertions.
import * as path from 'node:path';
import { runChild, repoRoot } from './helpers/child-process';

const CALLS = 50_000;
// Generous: the full 1,000,000-call run is held to 10 MB (scripts/soak.js's default).
const RSS_BOUND_MB = 64;
// Malloc memory in use after forced GCs, 100k calls with no object churn: measured within
// ±0.xx MB (docs/soak.md); a per-call leak of one malloc chunk would be 3 MB or more.
const MALLOC_BOUND_MB = 1;
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

  // docs/soak.md: what grows in a long soak is SoftHSM's (about 240 B per session object created,
  // kept until C_Finalize); p11bridge's own share is flat. Without object churn SoftHSM keeps
  // nothing, so malloc memory in use, read after forced GCs, must not grow: a leak of one malloc
  // chunk (32 B or more) per call would show as 3 MB or more here.
  test('without object churn, malloc memory in use does not grow over 100,000 mixed calls (docs/soak.md)', () => {
    const CALLS = 100_000;
    const r = runChild(
      path.join(repoRoot, 'scripts', 'soak.js'),
      [
        '--calls',
        String(CALLS),
        '--without',
        'raw.createDestroy,typed.createDestroy',
        '--samples',
        '5',
        '--malloc-stats',
        '--max-rss-growth-mb',
        underAsan ? '100000' : String(RSS_BOUND_MB),
      ],
      { timeoutMs: 300_000 },
    );
    if (!r.json) throw new Error(`soak.js printed no summary: ${r.summary}`);
    const s = r.json;
    expect(s.ops['raw.createDestroy']).toBeUndefined();
    expect(s.ops['typed.createDestroy']).toBeUndefined();
    expect(s.objects.createdAndDestroyed).toBe(0);
    expect(s.counted.total).toBeGreaterThanOrEqual(CALLS);
    expect(Object.values(s.checks).every(Boolean)).toBe(true);

    // The samples and the fit docs/soak.md's tables come from.
    const samples: Array<Record<string, number>> = s.memory.samples;
    expect(samples.length).toBeGreaterThanOrEqual(6);
    expect(samples[0].calls).toBe(0);
    expect(samples[samples.length - 1].calls).toBeGreaterThanOrEqual(CALLS);
    for (let i = 1; i < samples.length; i++) expect(samples[i].calls).toBeGreaterThan(samples[i - 1].calls);
    for (const x of samples) {
      expect(x.rssMb).toBeGreaterThan(10);
      expect(x.anonMb).toBeGreaterThan(1);
      expect(x.anonMb).toBeLessThanOrEqual(x.rssMb);
      expect(x.arenas).toBeGreaterThanOrEqual(1);
      expect(x.threadsStarted).toBeGreaterThanOrEqual(1); // half the raw calls are async
    }
    for (const k of ['rssMb', 'anonMb', 'anonNonV8Mb', 'mallocInUseMb', 'heapTotalMb', 'externalMb']) {
      expect([k, Number.isFinite(s.memory.fit[k].perMillion)]).toEqual([k, true]);
    }
    expect(typeof s.memory.trimmed.rssReleasedMb).toBe('number');

    // ASan replaces malloc: glibc's figures say nothing there.
    if (!underAsan) {
      expect(s.memory.before.mallocInUseMb).toBeGreaterThan(0.5);
      expect(Math.abs(s.memory.mallocInUseGrowthMb)).toBeLessThan(MALLOC_BOUND_MB);
    }
    expect([r.status, r.signal]).toEqual([0, null]);
  }, 320_000);

  test('--mix sessions --kinds raw runs only the raw session and login churn', () => {
    const r = runChild(path.join(repoRoot, 'scripts', 'soak.js'), ['--mix', 'sessions', '--kinds', 'raw', '--calls', '3000', '--warmup', '1000'], { timeoutMs: 120_000 });
    if (!r.json) throw new Error(`soak.js printed no summary: ${r.summary}`);
    expect([r.json.mix, r.json.kinds]).toEqual(['sessions', ['raw']]);
    expect(Object.keys(r.json.ops).sort()).toEqual(['raw.loginChurn', 'raw.sessionChurn']);
    // Login churn weighs a fifth in this mix (a thousandth in the whole mix), so it shows up.
    expect(r.json.ops['raw.loginChurn']).toBeGreaterThan(20);
    expect(r.json.counted.typed).toBe(0);
    expect(r.json.ok).toBe(true);
  }, 140_000);

  test('an unknown --mix is refused, naming the mixes', () => {
    const r = runChild(path.join(repoRoot, 'scripts', 'soak.js'), ['--mix', 'nope'], { timeoutMs: 30_000 });
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/--mix: one of all, cheap, crypto, objects, sessions/);
    expect(r.json).toBeUndefined();
  });
});
