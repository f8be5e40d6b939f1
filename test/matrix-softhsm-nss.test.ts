// The module matrix, part 1: the conformance run (test/matrix/conformance.js) against SoftHSM,
// OpenSC's pkcs11-spy over SoftHSM, and NSS softokn. Other modules have their own matrix files.
import { fixture, ensurePkcs11Spy } from './helpers/softhsm';
import { runConformance, statuses, expectNoFailures } from './helpers/matrix';

// eslint-disable-next-line @typescript-eslint/no-var-requires
const nss = require('../scripts/nss.js') as { createNssDb(o?: { password?: string }): { dir: string; modulePath: string; libraryParameters: string; cleanup(): void } };

const ALL_PASS = [
  'open (C_Initialize with CKF_OS_LOCKING_OK)',
  'module info',
  'slots',
  'token info and mechanisms',
  'open session',
  'wrong PIN is PinIncorrectError',
  'login',
  'random',
  'digest SHA-256 equals node',
  'EC P-256 key pair, ECDSA verified by node',
  'RSA-2048 key pair, PKCS#1 v1.5 SHA-256 verified by node',
  'AES-256 key, CBC-PAD round trip',
  'data object create, find, read, destroy',
  'find all objects, read class and label in one call each',
  'invalid object handle is a typed error',
  'logout',
  'close session',
  'close module (C_Finalize)',
];

describe('module matrix: SoftHSM, pkcs11-spy, NSS', () => {
  test('SoftHSM 2 (2.40): every step', () => {
    const r = runConformance({ modulePath: fixture().modulePath, token: 'p11bridge-b', userPin: '5678' });
    expectNoFailures(r);
    expect(Object.keys(statuses(r))).toEqual(ALL_PASS);
    expect(r.module).toMatchObject({ manufacturerID: 'SoftHSM', functionCount: 68, interface: null });
  });

  test('OpenSC pkcs11-spy over SoftHSM: every step, and the spy logs the calls', () => {
    const spy = ensurePkcs11Spy();
    const log = `${fixture().dir}/spy-matrix-${process.pid}.log`;
    const r = runConformance({ modulePath: spy, token: 'p11bridge-b', userPin: '5678' }, { PKCS11SPY: fixture().modulePath, PKCS11SPY_OUTPUT: log });
    expectNoFailures(r);
    expect(Object.keys(statuses(r))).toEqual(ALL_PASS);
    // eslint-disable-next-line @typescript-eslint/no-var-requires
    const text = require('node:fs').readFileSync(log, 'utf8') as string;
    expect(text).toMatch(/C_GenerateKeyPair/);
    expect(text).toMatch(/C_Finalize/);
  });

  test('NSS softokn 3 (3.0 through C_GetInterface): every step', () => {
    const db = nss.createNssDb();
    try {
      const r = runConformance({
        modulePath: db.modulePath,
        initialize: { libraryParameters: db.libraryParameters },
        token: 'NSS Certificate DB',
        userPin: '',
        wrongPinAttempts: 0,
      });
      expectNoFailures(r);
      const st = statuses(r);
      expect(st['EC P-256 key pair, ECDSA verified by node']).toBe('pass');
      expect(r.module).toMatchObject({ manufacturerID: 'Mozilla Foundation', functionCount: 92, interface: 'PKCS 11' });
    } finally {
      db.cleanup();
    }
  });
});
