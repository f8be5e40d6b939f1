// A mechanism that does not fit the key (issue 17, item 2): an EC key asked for RSASSA-PKCS1-v1_5,
// RSA-PSS or EdDSA, and an RSA key asked for ECDSA, end in KeyMechanismMismatchError naming the
// typed method, the key type and the mechanism, not in SoftHSM's CKR_GENERAL_ERROR. When the key's
// type is known (a key the library generated, a find() template that names it, or learnt from an earlier failure) the library
// refuses before calling the module; otherwise the module's answer is replaced (and kept as
// `cause`). The fault shim makes a module answer CKR_KEY_TYPE_INCONSISTENT / CKR_MECHANISM_INVALID
// instead, which map the same way. Argument errors name the typed method (`privateKey.sign`,
// `session.digest`).
import * as crypto from 'node:crypto';
import { KeyMechanismMismatchError, Module, Pkcs11Error, PrivateKey, PublicKey, type Session } from '../lib/index';
import { fixture } from './helpers/softhsm';
import { useLoggedInSession } from './helpers/typed-session';
import { shimModule, type ShimModule } from './helpers/shim';

const data = Buffer.from('which key for which mechanism');

describe('on SoftHSM', () => {
  let session: Session;
  useLoggedInSession('p11bridge-b', (_m, s) => (session = s));
  let ec: { publicKey: PublicKey; privateKey: PrivateKey };
  let rsa: { publicKey: PublicKey; privateKey: PrivateKey };
  beforeAll(async () => {
    ec = await session.generateKeyPair(
      { name: 'EC', curve: 'P-256' },
      { privateKey: { label: 'compat-ec', id: Buffer.from('c0') }, publicKey: { label: 'compat-ec', id: Buffer.from('c0') } },
    );
    rsa = await session.generateKeyPair({ name: 'RSA', modulusLength: 2048 }, { privateKey: { label: 'compat-rsa' } });
  }, 60_000);

  test.each([
    [{ name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' }, 'CKM_SHA256_RSA_PKCS', 'RSA'],
    [{ name: 'RSA-PSS', hash: 'SHA-256' }, 'CKM_SHA256_RSA_PKCS_PSS', 'RSA'],
    [{ name: 'EdDSA' }, 'CKM_EDDSA', 'EC-EDWARDS'],
  ] as const)('an EC key asked for %j: KeyMechanismMismatchError, the module answer as cause, then refused before the call', async (spec, mech, expected) => {
    // A fresh object for the same key: its type is not known yet.
    const [key] = await session.findAll({ class: 'privateKey', label: 'compat-ec' });
    const e1 = (await key.sign(spec, data).catch((e: unknown) => e)) as KeyMechanismMismatchError;
    expect(e1).toBeInstanceOf(KeyMechanismMismatchError);
    expect(e1).not.toBeInstanceOf(Pkcs11Error);
    expect(e1.code).toBe('ERR_P11_KEY_MECHANISM_MISMATCH');
    expect(e1.message).toBe(`privateKey.sign: ${mech} takes an ${expected} key, and this is an EC key`);
    expect({ keyType: e1.keyType, mechanism: e1.mechanism, expected: e1.expected }).toEqual({ keyType: 'EC', mechanism: mech, expected: [expected] });
    // What SoftHSM said (CKR_GENERAL_ERROR here) stays reachable.
    expect((e1 as { cause?: unknown }).cause).toBeInstanceOf(Pkcs11Error);
    // Learnt: the next call is refused without asking the module (no cause).
    const e2 = (await key.sign(spec, data).catch((e: unknown) => e)) as KeyMechanismMismatchError;
    expect(e2).toBeInstanceOf(KeyMechanismMismatchError);
    expect((e2 as { cause?: unknown }).cause).toBeUndefined();
    // The session is usable afterwards, and the right mechanism works.
    const sig = await key.sign({ name: 'ECDSA', hash: 'SHA-256' }, data);
    const pub = crypto.createPublicKey({ key: await ec.publicKey.toSpki('der'), format: 'der', type: 'spki' });
    expect(crypto.verify('sha256', data, { key: pub, dsaEncoding: 'ieee-p1363' }, sig)).toBe(true);
  });

  test('a find() template that names the key type: refused before the call (no module answer)', async () => {
    const [key] = await session.findAll({ class: 'privateKey', keyType: 'ec', label: 'compat-ec' });
    const e = (await key.sign({ name: 'RSA-PSS', hash: 'SHA-384' }, data).catch((x: unknown) => x)) as KeyMechanismMismatchError;
    expect(e).toBeInstanceOf(KeyMechanismMismatchError);
    expect((e as { cause?: unknown }).cause).toBeUndefined();
    expect(e.message).toMatch(/^privateKey\.sign: CKM_SHA384_RSA_PKCS_PSS takes an RSA key, and this is an EC key$/);
  });

  test('an RSA key asked for ECDSA, and a public key verifying with the wrong family', async () => {
    const e = (await rsa.privateKey.sign({ name: 'ECDSA', hash: 'SHA-256' }, data).catch((x: unknown) => x)) as KeyMechanismMismatchError;
    expect(e).toBeInstanceOf(KeyMechanismMismatchError);
    expect(e.message).toMatch(/^privateKey\.sign: CKM_ECDSA(_SHA256)? takes an EC key, and this is an RSA key$/);
    const v = (await ec.publicKey.verify({ name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' }, data, Buffer.alloc(256)).catch((x: unknown) => x)) as Error;
    expect(v).toBeInstanceOf(KeyMechanismMismatchError);
    expect(v.message).toMatch(/^publicKey\.verify: /);
  });

  test('argument errors name the typed method', async () => {
    await expect(ec.privateKey.sign({ name: 'NO-SUCH' } as never, data)).rejects.toThrow(/^privateKey\.sign: /);
    await expect(session.digest({ name: 'SHA-999' } as never, data)).rejects.toThrow(/^session\.digest: /);
  });
});

describe('a module that answers CKR_KEY_TYPE_INCONSISTENT or CKR_MECHANISM_INVALID (fault shim over SoftHSM)', () => {
  let shim: ShimModule;
  let mod: Module;
  let session: Session;
  beforeAll(async () => {
    shim = shimModule();
    mod = await Module.open(shim.path);
    const f = fixture();
    session = await (await mod.findSlot('p11bridge-b'))!.openSession({ write: true });
    await session.login(f.tokens.find((t) => t.label === 'p11bridge-b')!.userPin);
  });
  afterAll(async () => {
    await session?.close();
    await mod?.close();
    shim?.cleanup();
  });

  test.each([
    ['0x63', 'CKR_KEY_TYPE_INCONSISTENT'],
    ['0x70', 'CKR_MECHANISM_INVALID'],
  ])('rv %s (%s) on C_SignInit of an EC key with RSA-PSS: the same error, the module answer as cause', async (rv, name) => {
    // A fresh object for a generated key: generated keys are of known type (refused before the
    // call, test/key-type-checks.test.ts), this one is not, so the module is asked.
    const generated = await session.generateKeyPair({ name: 'EC', curve: 'P-256' });
    const privateKey = (await session.object(generated.privateKey.handle)) as PrivateKey;
    shim.setRules([`rv C_SignInit ${rv}`]);
    try {
      const e = (await privateKey.sign({ name: 'RSA-PSS', hash: 'SHA-256' }, data).catch((x: unknown) => x)) as KeyMechanismMismatchError;
      expect(e).toBeInstanceOf(KeyMechanismMismatchError);
      expect((e as { cause?: { rvName?: string } }).cause?.rvName).toBe(name);
    } finally {
      shim.setRules([]);
    }
  });

  test('the same codes for a mechanism that fits the key stay the module error', async () => {
    const { privateKey } = await session.generateKeyPair({ name: 'EC', curve: 'P-256' });
    shim.setRules(['rv C_SignInit 0x63']);
    try {
      const e = (await privateKey.sign({ name: 'ECDSA', hash: 'SHA-256' }, data).catch((x: unknown) => x)) as Pkcs11Error;
      expect(e).toBeInstanceOf(Pkcs11Error);
      expect(e.rvName).toBe('CKR_KEY_TYPE_INCONSISTENT');
    } finally {
      shim.setRules([]);
    }
  });
});
