// The module matrix: tpm2-pkcs11 1.9 (Debian 12's libtpm2-pkcs11-1) over a swtpm software TPM,
// reached through tpm2-abrmd on a private D-Bus bus. scripts/tpm2.js installs the packages when
// missing and provisions a throw-away TPM + store + token; see docs/modules/tpm2.md.
//
// Key choice for the shared conformance run: `keys: []`. tpm2-pkcs11 refuses session keys —
// C_GenerateKeyPair checks CKA_TOKEN == TRUE and answers CKR_ATTRIBUTE_VALUE_INVALID for the
// token:false templates conformance.js generates — and has no C_GenerateKey at all
// (CKR_FUNCTION_NOT_SUPPORTED, although it lists CKM_AES_KEY_GEN). So the three key steps skip,
// and the second test covers the same ground the way this module allows: EC P-256 and RSA-2048
// as token keys (on swtpm EC keygen takes ~60 ms, RSA-2048 ~0.4–0.6 s, so RSA stays in), and the
// AES-256 key tpm2_ptool added at provisioning (CBC; CBC-PAD encrypts correctly but its decrypt is
// broken in 1.9). It also pins the refusals and that bug, so a newer tpm2-pkcs11 shows up here.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { runConformance, statuses, expectNoFailures } from './helpers/matrix';
import { repoRoot } from './helpers/child-process';

interface Tpm2Fixture {
  dir: string;
  modulePath: string;
  env: Record<string, string>;
  token: { label: string; soPin: string; userPin: string };
  keys: Array<{ label: string; algorithm: string }>;
  swtpm: { host: string; port: number; ctrlPort: number; tcti: string };
  timings: Record<string, number>;
  stop(): Promise<void>;
}

// eslint-disable-next-line @typescript-eslint/no-var-requires
const tpm2 = require('../scripts/tpm2.js') as { createTpm2(o?: object): Promise<Tpm2Fixture> };

let f: Tpm2Fixture | undefined;

beforeAll(async () => {
  // apt-get on a fresh machine: ~25 s; provisioning itself ~1.5–2.5 s (see the docs).
  f = await tpm2.createTpm2();
}, 300_000);

afterAll(async () => {
  await f?.stop();
});

function fx(): Tpm2Fixture {
  if (!f) throw new Error('tpm2 fixture was not provisioned (see beforeAll)');
  return f;
}

describe('module matrix: tpm2-pkcs11 over swtpm', () => {
  test('the provisioning talks to the TPM only on loopback and through the resource manager', () => {
    const { env, swtpm } = fx();
    expect(swtpm.host).toBe('127.0.0.1');
    // What the kernel says: swtpm's two listening sockets are bound to 127.0.0.1 only.
    const listening = ['/proc/net/tcp', '/proc/net/tcp6']
      .flatMap((file) => (fs.existsSync(file) ? fs.readFileSync(file, 'utf8').trim().split('\n').slice(1) : []))
      .map((line) => line.trim().split(/\s+/))
      .filter((cols) => cols[3] === '0A')
      .map((cols) => cols[1].split(':'))
      .filter(([, port]) => [swtpm.port, swtpm.ctrlPort].includes(parseInt(port, 16)));
    expect(listening.map(([addr]) => addr).sort()).toEqual(['0100007F', '0100007F']);
    expect(env.TPM2_PKCS11_TCTI).toBe('tabrmd:bus_type=session');
    expect(env.DBUS_SESSION_BUS_ADDRESS).toMatch(/^unix:path=\//);
  });

  test('conformance run: every step, key generation skipped (token keys only, see the header)', () => {
    const { modulePath, token, env } = fx();
    // The wrong-PIN step stays on: scripts/tpm2.js raises the TPM's dictionary-attack limit, so
    // the failed unseal it causes cannot lock the token.
    const r = runConformance({ modulePath, token: token.label, userPin: token.userPin, soPin: token.soPin, keys: ['EC', 'RSA'], tokenKeys: true }, env, 120_000);
    expectNoFailures(r);
    expect(statuses(r)).toEqual({
      'open (C_Initialize with CKF_OS_LOCKING_OK)': 'pass',
      'module info': 'pass',
      // Two slots: the token and an empty one tpm2-pkcs11 keeps for C_InitToken.
      slots: 'pass',
      'token info and mechanisms': 'pass',
      'open session': 'pass',
      'wrong PIN is PinIncorrectError': 'pass',
      login: 'pass',
      random: 'pass',
      'digest SHA-256 equals node': 'pass',
      // tpm2-pkcs11 refuses session key pairs (token objects here, destroyed after) and has no
      // C_GenerateKey, so no AES step.
      'EC P-256 key pair, ECDSA verified by node': 'pass',
      'RSA-2048 key pair, PKCS#1 v1.5 SHA-256 verified by node': 'pass',
      'AES-256 key, CBC-PAD round trip': 'skip: not requested (config.keys)',
      // Session (token:false) data objects are fine.
      'data object create, find, read, destroy': 'pass',
      'find all objects, read class and label in one call each': 'pass',
      'invalid object handle is a typed error': 'pass',
      logout: 'pass',
      'close session': 'pass',
      'close module (C_Finalize)': 'pass',
    });
    const details = Object.fromEntries(r.steps.map((s) => [s.name, s.detail]));
    expect(details.slots).toBe('2 slots, 2 with a token');
    // The AES key tpm2_ptool added is the token's only object.
    expect(details['find all objects, read class and label in one call each']).toBe('1 objects');
    // An unknown handle comes back as CKR_KEY_HANDLE_INVALID (not OBJECT_HANDLE_INVALID).
    expect(details['invalid object handle is a typed error']).toBe('KeyHandleInvalidError (CKR_KEY_HANDLE_INVALID)');
    expect(r.module).toMatchObject({
      manufacturerID: 'tpm2-software.github.io',
      description: 'TPM2.0 Cryptoki',
      cryptokiVersion: { major: 2, minor: 40 },
      functionCount: 68,
      interface: null,
      slots: 2,
      tokens: 2,
      token: { label: token.label, flags: expect.arrayContaining(['rng', 'loginRequired', 'userPinInitialized', 'tokenInitialized']) },
    });
  }, 150_000);

  test('token keys: EC P-256 and RSA-2048 generated, signatures verified by node; AES-256 from tpm2_ptool; what the module refuses', () => {
    const { modulePath, token, keys, env } = fx();
    const r = spawnSync(process.execPath, ['-e', TOKEN_KEYS_CHILD, JSON.stringify({ dist: path.join(repoRoot, 'dist', 'index.js'), modulePath, token, aesLabel: keys[0].label })], {
      env: { ...process.env, ...env },
      encoding: 'utf8',
      timeout: 120_000,
      killSignal: 'SIGKILL',
    });
    const summary = `exit ${r.status} signal ${r.signal}\n--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}`;
    const line = (r.stdout || '').trim().split('\n').pop() || '';
    let out: Record<string, string>;
    try {
      out = JSON.parse(line);
    } catch {
      throw new Error(`token-keys child printed no result: ${summary}`);
    }
    expect({ out, status: r.status }).toEqual({
      status: 0,
      out: {
        'EC P-256 token key pair, ECDSA SHA-256 verified by node': 'pass',
        'RSA-2048 token key pair, PKCS#1 v1.5 SHA-256 verified by node': 'pass',
        'RSA-2048 PSS SHA-256 verified by node': 'pass',
        'AES-256 (tpm2_ptool addkey) CBC round trip': 'pass',
        'AES-256 CBC-PAD encrypt, PKCS#7 padding checked by a CBC decrypt': 'pass',
        // "Internal buffer too small" on stderr, CKR_GENERAL_ERROR: a module bug, pinned here so
        // a fixed tpm2-pkcs11 shows up (then this becomes a round trip).
        'AES-256 CBC-PAD decrypt fails in tpm2-pkcs11 1.9 (upstream issue 841)': 'GeneralError',
        'session (token:false) key pair refused': 'AttributeValueInvalidError',
        'C_GenerateKey (AES) not supported': 'FunctionNotSupportedError',
      },
    });
  }, 150_000);
});

// Runs in a child (`node -e`) with the fixture's environment, like conformance.js: the module
// reads TPM2_PKCS11_STORE / TPM2_PKCS11_TCTI / DBUS_SESSION_BUS_ADDRESS from the real environment.
// Prints one JSON line: check name → 'pass' | error class name | 'fail: …'.
const TOKEN_KEYS_CHILD = String.raw`
'use strict';
const crypto = require('node:crypto');
const cfg = JSON.parse(process.argv[1]);
const { Module } = require(cfg.dist);
const out = {};
async function check(name, fn) {
  try { out[name] = (await fn()) || 'pass'; } catch (e) { out[name] = 'fail: ' + (e && e.name) + ' ' + (e && e.message); }
}
async function refused(fn) {
  const e = await fn().then(() => null, (x) => x);
  if (!e) throw new Error('was accepted');
  return e.name;
}
function ecKey(point) {
  const q = point[0] === 0x04 && point[1] === point.length - 2 ? point.subarray(2) : point;
  const n = (q.length - 1) / 2;
  return crypto.createPublicKey({ key: { kty: 'EC', crv: 'P-256', x: q.subarray(1, 1 + n).toString('base64url'), y: q.subarray(1 + n).toString('base64url') }, format: 'jwk' });
}
(async () => {
  const mod = await Module.open(cfg.modulePath);
  const slot = await mod.findSlot(cfg.token.label);
  const s = await slot.openSession({ write: true });
  await s.login(cfg.token.userPin);
  const tokenKeys = { privateKey: { token: true, label: 'matrix-' + process.pid }, publicKey: { token: true, label: 'matrix-' + process.pid } };
  const data = Buffer.from('p11bridge tpm2 matrix');
  await check('EC P-256 token key pair, ECDSA SHA-256 verified by node', async () => {
    const { publicKey, privateKey } = await s.generateKeyPair({ name: 'EC', curve: 'P-256' }, tokenKeys);
    try {
      const sig = await privateKey.sign({ name: 'ECDSA', hash: 'SHA-256' }, data);
      if (!crypto.verify('sha256', data, { key: ecKey(await publicKey.getAttribute('ecPoint')), dsaEncoding: 'ieee-p1363' }, sig)) throw new Error('node rejects the signature');
    } finally { await privateKey.destroy(); await publicKey.destroy(); }
  });
  let rsa;
  await check('RSA-2048 token key pair, PKCS#1 v1.5 SHA-256 verified by node', async () => {
    rsa = await s.generateKeyPair({ name: 'RSA', modulusLength: 2048 }, tokenKeys);
    const a = await rsa.publicKey.getAttributes(['modulus', 'publicExponent']);
    rsa.node = crypto.createPublicKey({ key: { kty: 'RSA', n: a.modulus.toString('base64url'), e: a.publicExponent.toString('base64url') }, format: 'jwk' });
    const sig = await rsa.privateKey.sign({ name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' }, data);
    if (!crypto.verify('sha256', data, rsa.node, sig)) throw new Error('node rejects the signature');
  });
  await check('RSA-2048 PSS SHA-256 verified by node', async () => {
    if (!rsa) throw new Error('no RSA key');
    const sig = await rsa.privateKey.sign({ name: 'RSA-PSS', hash: 'SHA-256', saltLength: 32 }, data);
    if (!crypto.verify('sha256', data, { key: rsa.node, padding: crypto.constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 }, sig)) throw new Error('node rejects the signature');
  });
  if (rsa) { await rsa.privateKey.destroy(); await rsa.publicKey.destroy(); }
  const [aes] = await s.findAll({ class: 'secretKey', label: cfg.aesLabel });
  const iv = crypto.randomBytes(16);
  const pt = Buffer.from('tpm2 aes data, longer than one block');
  await check('AES-256 (tpm2_ptool addkey) CBC round trip', async () => {
    if (!aes) throw new Error('AES key ' + cfg.aesLabel + ' not found');
    const block = Buffer.alloc(32, 7);
    const ct = await aes.encrypt({ name: 'AES-CBC', iv, padding: false }, block);
    if (ct.length !== 32 || ct.equals(block)) throw new Error('bad ciphertext');
    if (!(await aes.decrypt({ name: 'AES-CBC', iv, padding: false }, ct)).equals(block)) throw new Error('round trip differs');
  });
  let padded;
  await check('AES-256 CBC-PAD encrypt, PKCS#7 padding checked by a CBC decrypt', async () => {
    if (!aes) throw new Error('AES key ' + cfg.aesLabel + ' not found');
    padded = await aes.encrypt({ name: 'AES-CBC', iv }, pt);
    const plain = await aes.decrypt({ name: 'AES-CBC', iv, padding: false }, padded);
    if (!plain.equals(Buffer.concat([pt, Buffer.alloc(12, 12)]))) throw new Error('padded plaintext differs: ' + plain.toString('hex'));
  });
  await check('session (token:false) key pair refused', () => refused(() => s.generateKeyPair({ name: 'EC', curve: 'P-256' })));
  await check('C_GenerateKey (AES) not supported', () => refused(() => s.generateKey({ name: 'AES', length: 256 }, { token: true })));
  // Last, on a session of its own: the failed C_Decrypt leaves the operation active on the
  // module's side (CKR_OPERATION_ACTIVE on the next init), so that session is closed after it.
  await check('AES-256 CBC-PAD decrypt fails in tpm2-pkcs11 1.9 (upstream issue 841)', async () => {
    if (!padded) throw new Error('no ciphertext');
    const s2 = await slot.openSession();
    try {
      const [k] = await s2.findAll({ class: 'secretKey', label: cfg.aesLabel });
      return await refused(() => k.decrypt({ name: 'AES-CBC', iv }, padded));
    } finally { await s2.close(); }
  });
  await s.logout();
  await s.close();
  await mod.close();
  process.stdout.write(JSON.stringify(out) + '\n');
})().catch((e) => { out.runner = 'fail: ' + (e && e.stack); process.stdout.write(JSON.stringify(out) + '\n'); process.exitCode = 1; });
`;
