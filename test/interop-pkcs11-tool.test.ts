// Interop with OpenSC's pkcs11-tool (package opensc, installed by scripts/p11kit.js) on a
// throw-away SoftHSM token, both ways: keys p11bridge creates are listed and used by pkcs11-tool,
// keys pkcs11-tool creates are found and used by p11bridge; every signature is checked by
// node:crypto. p11bridge runs in a child process because SoftHSM reads SOFTHSM2_CONF from the real
// environment (and a module is loaded once per process). Notes: docs/modules/pkcs11-tool.md.
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import { runChild, repoRoot } from './helpers/child-process';

interface SoftHSMFixture {
  dir: string;
  conf: string;
  modulePath: string;
  cleanup(): void;
}
/* eslint-disable @typescript-eslint/no-var-requires */
const softhsm = require('../scripts/softhsm.js') as {
  createSoftHSM(o: { tokens: Array<{ label: string; soPin: string; userPin: string }>; setEnv: false }): SoftHSMFixture;
};
const p11kit = require('../scripts/p11kit.js') as { ensurePkcs11Tool(): string };
/* eslint-enable @typescript-eslint/no-var-requires */

const TOKEN = 'interop';
const PIN = '1234';
const P256_OID = '06082a8648ce3d030107';

// p11bridge's side, one action per run: generate (token key pairs with label and id), sign (find
// a private key by label, check its id, sign; read the public key), verify (on the token).
const BRIDGE_CHILD = `'use strict';
const p11 = require(${JSON.stringify(path.join(repoRoot, 'dist', 'index.js'))});
const a = JSON.parse(process.argv[2]);
function jwkOf(attrs) {
  if (attrs.keyType === 'rsa') return { kty: 'RSA', n: attrs.modulus.toString('base64url'), e: attrs.publicExponent.toString('base64url') };
  const p = attrs.ecPoint;
  const q = p[0] === 0x04 && p[1] === p.length - 2 ? p.subarray(2) : p; // DER OCTET STRING around the point
  const n = (q.length - 1) / 2;
  return { kty: 'EC', crv: 'P-256', x: q.subarray(1, 1 + n).toString('base64url'), y: q.subarray(1 + n).toString('base64url') };
}
const SPECS = { ec: { name: 'ECDSA', hash: 'SHA-256' }, rsa: { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' } };
async function one(session, template) {
  const found = await session.findAll(template);
  if (found.length !== 1) throw new Error('found ' + found.length + ' objects for ' + JSON.stringify(template));
  return found[0];
}
(async () => {
  const mod = await p11.Module.open(a.modulePath);
  const slot = await mod.findSlot(a.token);
  const session = await slot.openSession({ write: true });
  await session.login(a.pin);
  const out = {};
  if (a.action === 'generate') {
    for (const k of a.keys) {
      const spec = k.type === 'ec' ? { name: 'EC', curve: 'P-256' } : { name: 'RSA', modulusLength: 2048 };
      const common = { token: true, label: k.label, id: Buffer.from(k.id, 'hex') };
      const { publicKey } = await session.generateKeyPair(spec, { publicKey: { ...common, verify: true }, privateKey: { ...common, sign: true } });
      out[k.label] = jwkOf(await publicKey.getAttributes(['keyType', 'ecPoint', 'modulus', 'publicExponent']));
    }
  } else if (a.action === 'sign') {
    const priv = await one(session, { class: 'privateKey', label: a.label });
    const pa = await priv.getAttributes(['id', 'keyType', 'sign', 'sensitive', 'extractable', 'token', 'ecParams']);
    const pub = await one(session, { class: 'publicKey', id: Buffer.from(a.id, 'hex') });
    const signature = await priv.sign(SPECS[pa.keyType], Buffer.from(a.data, 'hex'));
    out.signature = signature.toString('hex');
    out.privateKey = {
      id: pa.id.toString('hex'),
      keyType: pa.keyType,
      sign: pa.sign,
      sensitive: pa.sensitive,
      extractable: pa.extractable,
      token: pa.token,
      ecParams: pa.ecParams ? pa.ecParams.toString('hex') : null,
    };
    out.jwk = jwkOf(await pub.getAttributes(['keyType', 'ecPoint', 'modulus', 'publicExponent']));
  } else if (a.action === 'verify') {
    const pub = await one(session, { class: 'publicKey', label: a.label });
    const kt = await pub.getAttribute('keyType');
    out.valid = await pub.verify(SPECS[kt], Buffer.from(a.data, 'hex'), Buffer.from(a.signature, 'hex'));
    out.tampered = await pub.verify(SPECS[kt], Buffer.from(a.data + '00', 'hex'), Buffer.from(a.signature, 'hex'));
  }
  await session.logout();
  await session.close();
  await mod.close();
  console.log(JSON.stringify(out));
})().catch((e) => { console.error(e && e.stack); process.exit(1); });
`;

let hsm: SoftHSMFixture;
let tool: string;
let child: string;

beforeAll(() => {
  tool = p11kit.ensurePkcs11Tool();
  hsm = softhsm.createSoftHSM({ tokens: [{ label: TOKEN, soPin: '12345678', userPin: PIN }], setEnv: false });
  child = path.join(hsm.dir, 'bridge-child.js');
  fs.writeFileSync(child, BRIDGE_CHILD);
}, 180_000);

afterAll(() => {
  if (hsm) hsm.cleanup();
});

/** pkcs11-tool on the throw-away token; throws with its output when it fails. */
function pkcs11Tool(args: string[], login = true): string {
  const full = ['--module', hsm.modulePath, '--token-label', TOKEN, ...(login ? ['--login', '--pin', PIN] : []), ...args];
  const r = spawnSync(tool, full, { env: { ...process.env, SOFTHSM2_CONF: hsm.conf }, encoding: 'utf8', timeout: 60_000 });
  const output = `${r.stdout}${r.stderr}`;
  if (r.status !== 0) throw new Error(`pkcs11-tool ${full.join(' ')} → exit ${r.status} ${r.signal ?? ''}\n${output}`);
  return output;
}

function bridge(action: string, args: Record<string, unknown>): any {
  const r = runChild(child, [JSON.stringify({ modulePath: hsm.modulePath, token: TOKEN, pin: PIN, action, ...args })], { env: { SOFTHSM2_CONF: hsm.conf }, timeoutMs: 60_000 });
  if (r.status !== 0 || r.signal !== null || !r.json) throw new Error(`p11bridge child (${action}) failed: ${r.summary}`);
  return r.json;
}

/** `pkcs11-tool --list-objects` output as objects: the header line and the indented fields. */
function parseObjects(text: string): Array<{ kind: string; label?: string; id?: string }> {
  const out: Array<{ kind: string; label?: string; id?: string }> = [];
  for (const line of text.split('\n')) {
    if (/^(Private Key|Public Key|Certificate|Data|Secret Key) Object/.test(line)) out.push({ kind: line.trim() });
    const m = /^\s+(label|ID):\s+(.*)$/.exec(line);
    if (m && out.length) out[out.length - 1][m[1] === 'label' ? 'label' : 'id'] = m[2].trim();
  }
  return out;
}

const file = (name: string, data: Buffer): string => {
  const p = path.join(hsm.dir, name);
  fs.writeFileSync(p, data);
  return p;
};
const sha256 = (d: Buffer): Buffer => crypto.createHash('sha256').update(d).digest();

describe('pkcs11-tool uses keys p11bridge created', () => {
  let jwks: Record<string, crypto.JsonWebKey>;
  beforeAll(() => {
    jwks = bridge('generate', {
      keys: [
        { type: 'ec', label: 'bridge-ec', id: 'b1ec01' },
        { type: 'rsa', label: 'bridge-rsa', id: 'b25a02' },
      ],
    });
  }, 60_000);

  test('--list-objects shows them with their labels and IDs', () => {
    const objects = parseObjects(pkcs11Tool(['--list-objects']));
    expect(objects).toEqual(
      expect.arrayContaining([
        { kind: 'Private Key Object; EC', label: 'bridge-ec', id: 'b1ec01' },
        { kind: expect.stringMatching(/^Public Key Object; EC\s+EC_POINT 256 bits$/), label: 'bridge-ec', id: 'b1ec01' },
        { kind: 'Private Key Object; RSA', label: 'bridge-rsa', id: 'b25a02' },
        { kind: 'Public Key Object; RSA 2048 bits', label: 'bridge-rsa', id: 'b25a02' },
      ]),
    );
    // Private keys are private objects: without a login pkcs11-tool lists only the public halves.
    const anonymous = parseObjects(pkcs11Tool(['--list-objects'], false));
    expect(anonymous.map((o) => o.label).sort()).toEqual(['bridge-ec', 'bridge-rsa']);
    expect(anonymous.every((o) => o.kind.startsWith('Public Key Object'))).toBe(true);
  });

  test('EC P-256: pkcs11-tool --sign -m ECDSA (rs and openssl formats), node:crypto verifies, p11bridge verifies on the token', () => {
    const data = Buffer.from('signed by pkcs11-tool with a p11bridge key');
    const input = file('ec-digest.bin', sha256(data)); // SoftHSM 2.6 has CKM_ECDSA but no CKM_ECDSA_SHA256
    const rsOut = path.join(hsm.dir, 'ec-sig-rs.bin');
    const derOut = path.join(hsm.dir, 'ec-sig-der.bin');
    expect(pkcs11Tool(['--sign', '--mechanism', 'ECDSA', '--id', 'b1ec01', '--input-file', input, '--output-file', rsOut])).toContain('Using signature algorithm ECDSA');
    pkcs11Tool(['--sign', '--mechanism', 'ECDSA', '--signature-format', 'openssl', '--id', 'b1ec01', '--input-file', input, '--output-file', derOut]);
    const pub = crypto.createPublicKey({ key: jwks['bridge-ec'], format: 'jwk' });
    const rs = fs.readFileSync(rsOut);
    expect(rs.length).toBe(64);
    expect(crypto.verify('sha256', data, { key: pub, dsaEncoding: 'ieee-p1363' }, rs)).toBe(true);
    expect(crypto.verify('sha256', data, pub, fs.readFileSync(derOut))).toBe(true);
    expect(crypto.verify('sha256', Buffer.from('other'), { key: pub, dsaEncoding: 'ieee-p1363' }, rs)).toBe(false);
    expect(bridge('verify', { label: 'bridge-ec', data: data.toString('hex'), signature: rs.toString('hex') })).toEqual({ valid: true, tampered: false });
  });

  test('RSA-2048: pkcs11-tool --sign -m SHA256-RSA-PKCS, node:crypto verifies', () => {
    const data = Buffer.from('signed by pkcs11-tool with a p11bridge RSA key');
    const out = path.join(hsm.dir, 'rsa-sig.bin');
    pkcs11Tool(['--sign', '--mechanism', 'SHA256-RSA-PKCS', '--id', 'b25a02', '--input-file', file('rsa-data.bin', data), '--output-file', out]);
    const sig = fs.readFileSync(out);
    expect(sig.length).toBe(256);
    const pub = crypto.createPublicKey({ key: jwks['bridge-rsa'], format: 'jwk' });
    expect(crypto.verify('sha256', data, pub, sig)).toBe(true);
    expect(bridge('verify', { label: 'bridge-rsa', data: data.toString('hex'), signature: sig.toString('hex') })).toEqual({ valid: true, tampered: false });
  });
});

describe('p11bridge uses keys pkcs11-tool created', () => {
  test('EC: --keypairgen --key-type EC:prime256v1, found by label/id, signed by p11bridge, verified by node:crypto and pkcs11-tool', () => {
    const gen = pkcs11Tool(['--keypairgen', '--key-type', 'EC:prime256v1', '--id', 'a1b2', '--label', 'ptool-ec']);
    expect(gen).toContain('Key pair generated');
    const data = Buffer.from('signed by p11bridge with a pkcs11-tool key');
    const r = bridge('sign', { label: 'ptool-ec', id: 'a1b2', data: data.toString('hex') });
    expect(r.privateKey).toEqual({ id: 'a1b2', keyType: 'ec', sign: true, sensitive: true, extractable: false, token: true, ecParams: P256_OID });
    const sig = Buffer.from(r.signature, 'hex');
    expect(sig.length).toBe(64);
    // The public key as p11bridge read it (CKA_EC_POINT) …
    const fromBridge = crypto.createPublicKey({ key: r.jwk, format: 'jwk' });
    expect(crypto.verify('sha256', data, { key: fromBridge, dsaEncoding: 'ieee-p1363' }, sig)).toBe(true);
    // … and as pkcs11-tool exports it (SubjectPublicKeyInfo DER): the same key.
    const spkiFile = path.join(hsm.dir, 'ptool-ec.spki.der');
    pkcs11Tool(['--read-object', '--type', 'pubkey', '--id', 'a1b2', '--output-file', spkiFile], false);
    const fromTool = crypto.createPublicKey({ key: fs.readFileSync(spkiFile), format: 'der', type: 'spki' });
    expect(fromTool.export({ format: 'jwk' })).toEqual(r.jwk);
    expect(crypto.verify('sha256', data, { key: fromTool, dsaEncoding: 'ieee-p1363' }, sig)).toBe(true);
    // pkcs11-tool checks p11bridge's signature on the token too.
    const verified = pkcs11Tool([
      '--verify',
      '--mechanism',
      'ECDSA',
      '--id',
      'a1b2',
      '--input-file',
      file('p11-digest.bin', sha256(data)),
      '--signature-file',
      file('p11-sig.bin', sig),
    ]);
    expect(verified).toContain('Signature is valid');
  });

  test('RSA: --keypairgen --key-type rsa:2048, signed by p11bridge (PKCS#1 v1.5 SHA-256), verified by node:crypto', () => {
    pkcs11Tool(['--keypairgen', '--key-type', 'rsa:2048', '--id', 'a2b3', '--label', 'ptool-rsa']);
    const data = Buffer.from('signed by p11bridge with a pkcs11-tool RSA key');
    const r = bridge('sign', { label: 'ptool-rsa', id: 'a2b3', data: data.toString('hex') });
    expect(r.privateKey).toMatchObject({ id: 'a2b3', keyType: 'rsa', sign: true, token: true });
    const pub = crypto.createPublicKey({ key: r.jwk, format: 'jwk' });
    expect(crypto.verify('sha256', data, pub, Buffer.from(r.signature, 'hex'))).toBe(true);
  });
});
