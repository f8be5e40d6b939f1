// C_Finalize, close(), reloads and finalize-then-initialize racing every kind of async call in
// flight (sessions, login, finds, one-shot and multi-part operations, random, info, slot-event
// polls), on three modules of the matrix: SoftHSM, NSS softokn and a SoftHSM token behind
// p11-kit-client. Each run is a child process (test/fixtures/lifecycle-races.js) with a hard
// timeout, so a crash or a hang fails here. A second object keeps each module initialized, so a
// session the racing object left open (instead of closing it with its share) shows up as a leak.
import { runChild, expectCleanExit } from './helpers/child-process';

/* eslint-disable @typescript-eslint/no-var-requires */
const softhsm = require('../scripts/softhsm.js') as {
  createSoftHSM(o: { tokens: Array<{ label: string; soPin: string; userPin: string }>; setEnv: false }): {
    conf: string;
    modulePath: string;
    cleanup(): void;
  };
};
const nss = require('../scripts/nss.js') as { createNssDb(): { modulePath: string; libraryParameters: string; cleanup(): void } };
const p11kit = require('../scripts/p11kit.js') as {
  ensureP11KitClient(): string;
  startP11KitServer(o: { provider: string; tokens: string[]; env?: Record<string, string> }): Promise<{
    env: Record<string, string>;
    stop(): Promise<unknown>;
  }>;
};
/* eslint-enable @typescript-eslint/no-var-requires */

interface RaceReport {
  rounds: number;
  settled: number;
  results: number;
  errors: Record<string, number>;
  leaked: unknown[];
  endings: Record<string, number>;
  opened: number;
}

const ROUNDS = 120; // twenty of each ending

function race(config: Record<string, unknown>, env: Record<string, string>): RaceReport {
  const r = runChild('lifecycle-races.js', [], {
    env: { ...env, P11BRIDGE_RACE: JSON.stringify({ rounds: ROUNDS, ...config }) },
    timeoutMs: 120_000,
  });
  expectCleanExit(r);
  return r.json as RaceReport;
}

function expectClean(r: RaceReport) {
  expect(r.rounds).toBe(ROUNDS);
  expect(Object.values(r.endings)).toEqual([20, 20, 20, 20, 20, 20]);
  expect(r.leaked).toEqual([]);
  // Calls behind an ending are refused by the binding, never sent to a finalized module.
  expect(r.errors.CKR_CRYPTOKI_NOT_INITIALIZED).toBeGreaterThan(0);
  expect(r.results).toBeGreaterThan(r.settled / 2);
}

describe('lifecycle races with async calls in flight (child processes)', () => {
  test('SoftHSM', () => {
    const hsm = softhsm.createSoftHSM({ tokens: [{ label: 'race', soPin: '12345678', userPin: '1234' }], setEnv: false });
    try {
      expectClean(race({ modulePath: hsm.modulePath, pin: '1234' }, { SOFTHSM2_CONF: hsm.conf }));
    } finally {
      hsm.cleanup();
    }
  }, 130_000);

  test('NSS softokn (crypto slot)', () => {
    const db = nss.createNssDb();
    try {
      expectClean(race({ modulePath: db.modulePath, libraryParameters: db.libraryParameters }, {}));
    } finally {
      db.cleanup();
    }
  }, 130_000);

  test('p11-kit-client over a p11-kit server exporting a SoftHSM token', async () => {
    const client = p11kit.ensureP11KitClient();
    const hsm = softhsm.createSoftHSM({ tokens: [{ label: 'race-remote', soPin: '12345678', userPin: '1234' }], setEnv: false });
    const server = await p11kit.startP11KitServer({ provider: hsm.modulePath, tokens: ['race-remote'], env: { SOFTHSM2_CONF: hsm.conf } });
    try {
      expectClean(race({ modulePath: client, pin: '1234' }, server.env));
    } finally {
      await server.stop();
      hsm.cleanup();
    }
  }, 180_000);
});
