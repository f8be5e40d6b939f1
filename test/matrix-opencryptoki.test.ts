// The module matrix: openCryptoki's soft token (Debian 12 `opencryptoki` 3.8.1, slot daemon
// pkcsslotd), provisioned by scripts/opencryptoki.js (apt-install, swtok slot, daemon, token with a
// known label and PINs), then the shared conformance run and two things SoftHSM cannot show: PIN
// lockout and RSA through the mechanisms this token does have. docs/modules/opencryptoki.md.
import * as crypto from 'node:crypto';
import { runConformance, statuses, expectNoFailures } from './helpers/matrix';
import { Module, Slot, PinIncorrectError, PinLockedError, PinError } from '../lib/index';

interface Provisioned {
  modulePath: string;
  slot: number;
  label: string;
  soPin: string;
  userPin: string;
  startedDaemon: boolean;
  initialized: boolean;
  ms: number;
}
// eslint-disable-next-line @typescript-eslint/no-var-requires
const ock = require('../scripts/opencryptoki.js') as {
  provisionOpencryptoki(o?: { label?: string; userPin?: string; reset?: boolean }): Provisioned;
  stopDaemon(): boolean;
};

async function tokenSlot(mod: Module, label: string): Promise<Slot> {
  const slot = await mod.findSlot(label);
  if (!slot) throw new Error(`no openCryptoki token labelled '${label}'`);
  return slot;
}

async function flagsOf(slot: Slot): Promise<string[]> {
  const t = await slot.tokenInfo();
  return Object.keys(t.flags).filter((k) => (t.flags as Record<string, boolean>)[k]);
}

describe('module matrix: openCryptoki soft token', () => {
  let env: Provisioned;

  // A fresh machine apt-installs opencryptoki here (about 10 s); provisioned, it takes ~50 ms.
  beforeAll(() => {
    env = ock.provisionOpencryptoki();
  }, 600_000);

  // Leave the machine as found: stop pkcsslotd only when provisioning started it.
  afterAll(() => {
    if (env?.startedDaemon) ock.stopDaemon();
  });

  test('conformance: every step, EC and RSA PKCS#1 v1.5 SHA-256 skipped for missing mechanisms', () => {
    // wrongPinAttempts stays 1: openCryptoki locks the user PIN after 3 consecutive wrong PINs
    // (CKF_USER_PIN_COUNT_LOW after 1, FINAL_TRY after 2, LOCKED at 3) and a correct login resets
    // the counter. The run makes one wrong attempt and then logs in correctly, and provisioning
    // has just logged in with the right PIN, so every run starts from 0 and ends at 0.
    const r = runConformance({ modulePath: env.modulePath, token: env.label, userPin: env.userPin, soPin: env.soPin });
    expectNoFailures(r);
    expect(statuses(r)).toEqual({
      'open (C_Initialize with CKF_OS_LOCKING_OK)': 'pass',
      'module info': 'pass',
      slots: 'pass',
      'token info and mechanisms': 'pass',
      'open session': 'pass',
      // The wrong PIN is longer than ulMaxPinLen (8); openCryptoki still says CKR_PIN_INCORRECT.
      'wrong PIN is PinIncorrectError': 'pass',
      login: 'pass',
      random: 'pass',
      'digest SHA-256 equals node': 'pass',
      // 3.8.1's soft token has no elliptic curves at all (no CKM_EC_KEY_PAIR_GEN, no CKM_ECDSA).
      'EC P-256 key pair, ECDSA verified by node': 'skip: no CKM_EC_KEY_PAIR_GEN',
      // It generates RSA keys and has CKM_RSA_PKCS, CKM_SHA1_RSA_PKCS and CKM_SHA256_RSA_PKCS_PSS,
      // but not CKM_SHA256_RSA_PKCS; RSA itself is covered by the RSA test below.
      'RSA-2048 key pair, PKCS#1 v1.5 SHA-256 verified by node': 'skip: no CKM_SHA256_RSA_PKCS',
      'AES-256 key, CBC-PAD round trip': 'pass',
      'data object create, find, read, destroy': 'pass',
      'find all objects, read class and label in one call each': 'pass',
      'invalid object handle is a typed error': 'pass',
      logout: 'pass',
      'close session': 'pass',
      'close module (C_Finalize)': 'pass',
    });
    expect(r.module).toMatchObject({
      manufacturerID: 'IBM',
      description: 'Meta PKCS11 LIBRARY',
      cryptokiVersion: { major: 2, minor: 20 },
      libraryVersion: { major: 3, minor: 8 },
      functionCount: 68,
      interface: null,
      // Debian's opencryptoki.conf also lists TPM, ICA, CCA and EP11 slots; without their hardware
      // (or stdll) they are left out of the slot list, so the soft token is the only slot.
      slots: 1,
      tokens: 1,
      token: { label: env.label, model: 'IBM SoftTok' },
    });
    expect(r.steps.find((s) => s.name === 'invalid object handle is a typed error')?.detail).toBe('ObjectHandleInvalidError');
  });

  test('token info: 2^64-2 session limits stay exact bigints, a clock of "HH:MM:SS" is no date', async () => {
    // openCryptoki reports ulMaxSessionCount = ulMaxRwSessionCount = 2^64-2 (not the spec's 0 for
    // "effectively infinite"), ulRwSessionCount and the memory fields as ~0, and sets
    // CKF_CLOCK_ON_TOKEN with a utcTime of "HH:MM:SS" instead of YYYYMMDDhhmmss00.
    const mod = await Module.open(env.modulePath);
    try {
      const info = await (await tokenSlot(mod, env.label)).tokenInfo();
      const huge = BigInt('18446744073709551614');
      expect(info).toMatchObject({
        label: env.label,
        manufacturerID: 'IBM Corp.',
        model: 'IBM SoftTok',
        maxSessionCount: huge,
        maxRwSessionCount: huge,
        rwSessionCount: 'unavailable',
        totalPublicMemory: 'unavailable',
        freePrivateMemory: 'unavailable',
        minPinLength: 4,
        maxPinLength: 8,
        utcTime: null,
      });
      // The SO PIN stays the factory default on purpose (scripts/opencryptoki.js), so the token
      // keeps CKF_SO_PIN_TO_BE_CHANGED; the user PIN was set by the SO and is not "to be changed".
      expect(info.flags).toMatchObject({
        tokenInitialized: true,
        userPinInitialized: true,
        loginRequired: true,
        rng: true,
        clockOnToken: true,
        soPinToBeChanged: true,
        userPinToBeChanged: false,
        userPinLocked: false,
      });
    } finally {
      await mod.close();
    }
  });

  test('RSA-2048 on the soft token: CKM_RSA_PKCS over a DigestInfo and SHA-256 PSS, verified by node', async () => {
    const mod = await Module.open(env.modulePath);
    try {
      const slot = await tokenSlot(mod, env.label);
      const session = await slot.openSession({ write: true });
      await session.login(env.userPin);
      const { publicKey, privateKey } = await session.generateKeyPair({ name: 'RSA', modulusLength: 2048 });
      try {
        const a = await publicKey.getAttributes(['modulus', 'publicExponent']);
        const n = a.modulus as Buffer;
        expect(n.length).toBe(256);
        const pub = crypto.createPublicKey({ key: { kty: 'RSA', n: n.toString('base64url'), e: (a.publicExponent as Buffer).toString('base64url') }, format: 'jwk' });
        const data = Buffer.from('p11bridge on openCryptoki');

        // PKCS#1 v1.5 with SHA-256 the way a caller does it without CKM_SHA256_RSA_PKCS.
        const digestInfo = Buffer.concat([Buffer.from('3031300d060960864801650304020105000420', 'hex'), crypto.createHash('sha256').update(data).digest()]);
        const v15 = await privateKey.sign({ name: 'RSASSA-PKCS1-v1_5' }, digestInfo);
        expect(crypto.verify('sha256', data, pub, v15)).toBe(true);

        const pss = await privateKey.sign({ name: 'RSA-PSS', hash: 'SHA-256' }, data);
        expect(crypto.verify('sha256', data, { key: pub, padding: crypto.constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 }, pss)).toBe(true);
        expect(await publicKey.verify({ name: 'RSA-PSS', hash: 'SHA-256' }, data, pss)).toBe(true);
        expect(await publicKey.verify({ name: 'RSA-PSS', hash: 'SHA-256' }, Buffer.from('other'), pss)).toBe(false);
      } finally {
        await privateKey.destroy();
        await publicKey.destroy();
        await session.logout();
        await session.close();
      }
    } finally {
      await mod.close();
    }
  });

  test('three wrong user PINs lock it: PinLockedError even for the right PIN, until the SO runs C_InitPIN', async () => {
    // SoftHSM never locks a PIN. openCryptoki counts wrong user PINs in the token (NVTOK.DAT), so
    // the lock survives processes; the SO (factory PIN, see scripts/opencryptoki.js) unlocks it
    // by setting the user PIN again. Should that fail, provisioning re-initializes the token.
    const mod = await Module.open(env.modulePath);
    let restored = false;
    try {
      const slot = await tokenSlot(mod, env.label);
      const session = await slot.openSession({ write: true });
      try {
        const seen: string[][] = [];
        for (let i = 0; i < 3; i++) {
          const e = await session.login('0000').then(
            () => null,
            (x: unknown) => x,
          );
          expect(e).toBeInstanceOf(PinIncorrectError);
          seen.push((await flagsOf(slot)).filter((f) => f.startsWith('userPin')));
        }
        expect(seen).toEqual([
          ['userPinInitialized', 'userPinCountLow'],
          ['userPinInitialized', 'userPinFinalTry'],
          ['userPinInitialized', 'userPinLocked'],
        ]);

        const locked = await session.login(env.userPin).then(
          () => null,
          (x: unknown) => x,
        );
        expect(locked).toBeInstanceOf(PinLockedError);
        expect(locked).toBeInstanceOf(PinError);
        expect(locked).toMatchObject({ rv: 0xa4, rvName: 'CKR_PIN_LOCKED', function: 'C_Login' });

        await session.login(env.soPin, { user: 'so' });
        await session.initPin(env.userPin);
        await session.logout();
        expect((await flagsOf(slot)).filter((f) => f.startsWith('userPin'))).toEqual(['userPinInitialized']);
        await session.login(env.userPin);
        await session.logout();
        restored = true;
      } finally {
        await session.close();
      }
    } finally {
      await mod.close();
      if (!restored) ock.provisionOpencryptoki();
    }
  });
});
