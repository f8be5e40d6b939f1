// Typed object classes on SoftHSM: find(), createObject(), copy() and session.object() hand back
// Data, Certificate, DomainParameters and key classes by CKA_CLASS; certificates are checked with
// openssl-made DER and node:crypto's X509Certificate, domain parameters with node:crypto primes.
import * as crypto from 'node:crypto';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fixture } from './helpers/softhsm';
import { Module, Session, Pkcs11Object, PrivateKey, SecretKey, CKM_DSA_SHA256, CKM_DH_PKCS_DERIVE } from '../lib/index';
import { Data } from '../lib/objects/data';
import { Certificate } from '../lib/objects/certificate';
import { DomainParameters } from '../lib/objects/domain-parameters';
import { objectFor } from '../lib/objects/factory';

// The DER of tbsCertificate's subject: SEQUENCE { [0] version, serial, signature, issuer,
// validity, subject, ... }. SoftHSM requires CKA_SUBJECT on X.509 objects and node:crypto does
// not hand out the DER name, so walk the few TLVs here.
function tlv(buf: Buffer, at: number): { start: number; end: number; body: number } {
  let len = buf[at + 1];
  let body = at + 2;
  if (len & 0x80) {
    const n = len & 0x7f;
    len = buf.readUIntBE(at + 2, n);
    body = at + 2 + n;
  }
  return { start: at, end: body + len, body };
}
function subjectDer(cert: Buffer): Buffer {
  const tbs = tlv(cert, tlv(cert, 0).body);
  let at = tbs.body;
  if (cert[at] === 0xa0) at = tlv(cert, at).end; // version
  for (let i = 0; i < 4; i++) at = tlv(cert, at).end; // serial, signature, issuer, validity
  const subject = tlv(cert, at);
  return cert.subarray(subject.start, subject.end);
}

function modPow(b: bigint, e: bigint, m: bigint): bigint {
  let r = 1n;
  b %= m;
  for (; e > 0n; e >>= 1n, b = (b * b) % m) if (e & 1n) r = (r * b) % m;
  return r;
}
const big = (b: Buffer) => BigInt('0x' + b.toString('hex'));

describe('typed object classes', () => {
  let mod: Module;
  let s: Session;
  let certDer: Buffer;
  let certKey: crypto.KeyObject;
  beforeAll(async () => {
    mod = await Module.open(fixture().modulePath);
    s = await (await mod.findSlot('p11bridge-a'))!.openSession({ write: true });
    await s.login('1234');
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'p11b-cert-'));
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:P-256',
        '-nodes',
        '-subj',
        '/CN=p11bridge typed classes/O=p11bridge',
        '-days',
        '2',
        '-keyout',
        path.join(dir, 'k.pem'),
        '-outform',
        'DER',
        '-out',
        path.join(dir, 'c.der'),
      ],
      { stdio: 'ignore' },
    );
    certDer = fs.readFileSync(path.join(dir, 'c.der'));
    certKey = crypto.createPrivateKey(fs.readFileSync(path.join(dir, 'k.pem')));
    fs.rmSync(dir, { recursive: true, force: true });
  });
  afterAll(async () => {
    await s.close();
    await mod.close();
  });

  test('data objects come back as Data from createObject, find (with and without class), object() and copy()', async () => {
    const label = `classes-data-${process.pid}`;
    const d = await s.createObject({ class: 'data', token: false, label, application: 'p11bridge', value: Buffer.from('payload') });
    expect(d).toBeInstanceOf(Data);
    expect(await (d as Data).value()).toEqual(Buffer.from('payload'));
    const [byClass] = await s.findAll({ class: 'data', label });
    expect(byClass).toBeInstanceOf(Data);
    // Without `class` in the template, each handle's CKA_CLASS is read to pick its class.
    const [byLabel] = await s.findAll({ label });
    expect(byLabel).toBeInstanceOf(Data);
    expect(await s.object(d.handle)).toBeInstanceOf(Data);
    const c = await d.copy({ label: label + '-copy' });
    expect(c).toBeInstanceOf(Data);
    expect(await (c as Data).value()).toEqual(Buffer.from('payload'));
    const empty = (await s.createObject({ class: 'data', token: false, label: label + '-empty' })) as Data;
    expect(await empty.value()).toEqual(Buffer.alloc(0));
    for (const o of [d, c, empty]) await o.destroy();
  });

  test('certificates: DER and X509Certificate round-trip an openssl-made certificate', async () => {
    const x = new crypto.X509Certificate(certDer);
    const label = `classes-cert-${process.pid}`;
    const created = await s.createObject({
      class: 'certificate',
      certificateType: 'x509',
      token: false,
      label,
      subject: subjectDer(certDer),
      value: certDer,
      id: Buffer.from('c1'),
    });
    expect(created).toBeInstanceOf(Certificate);
    const found = await s.findAll({ label });
    expect(found).toHaveLength(1);
    const cert = found[0] as Certificate;
    expect(cert).toBeInstanceOf(Certificate);
    expect(await cert.der()).toEqual(certDer);
    const parsed = await cert.x509();
    expect(parsed.subject).toBe(x.subject);
    expect(parsed.fingerprint256).toBe(x.fingerprint256);
    // The certificate is self-signed by the key openssl made: node:crypto checks both.
    expect(parsed.verify(crypto.createPublicKey(certKey))).toBe(true);
    expect(parsed.checkPrivateKey(certKey)).toBe(true);
    const a = await cert.getAttributes(['certificateType', 'subject', 'id']);
    expect(a).toMatchObject({ certificateType: 'x509', id: Buffer.from('c1') });
    expect(a.subject).toEqual(subjectDer(certDer));
    await cert.destroy();
  });

  test('keys are typed by class when found; generic objects stay Pkcs11Object', async () => {
    const label = `classes-keys-${process.pid}`;
    const { privateKey, publicKey } = await s.generateKeyPair({ name: 'EC', curve: 'P-256' }, { privateKey: { label }, publicKey: { label } });
    const aes = await s.generateKey({ name: 'AES', length: 128 }, { label });
    const found = await s.findAll({ label });
    const kinds = found.map((o) => o.constructor.name).sort();
    expect(kinds).toEqual(['PrivateKey', 'PublicKey', 'SecretKey']);
    expect(found.find((o) => o.handle === privateKey.handle)).toBeInstanceOf(PrivateKey);
    expect(found.find((o) => o.handle === aes.handle)).toBeInstanceOf(SecretKey);
    // A class this library has no class for (CKO_HW_FEATURE = 5, CKO_PROFILE = 9): the generic one.
    expect(objectFor(s, 1, 5).constructor).toBe(Pkcs11Object);
    expect(objectFor(s, 1, 'profile').constructor).toBe(Pkcs11Object);
    expect(objectFor(s, 1, 'certificate')).toBeInstanceOf(Certificate);
    for (const o of [privateKey, publicKey, aes]) await o.destroy();
  });

  test('x509() on an object without a certificate value says so instead of handing node an empty buffer', async () => {
    const c = new Certificate(s, (await s.createObject({ class: 'data', token: false, label: 'not-a-cert' })).handle);
    // A data object has no CKA_CERTIFICATE_TYPE (typeInvalid, skipped) and an empty value.
    await expect(c.x509()).rejects.toThrow(new TypeError('certificate value is not readable (empty)'));
    await c.destroy();
  });

  test('DSA domain parameters: generated on the token, read as one batch, checked with node:crypto, usable for a key pair', async () => {
    const params = await s.generateDomainParameters({ name: 'DSA', primeBits: 1024 });
    expect(params).toBeInstanceOf(DomainParameters);
    const v = await params.values();
    expect(v.keyType).toBe('dsa');
    const p = big(v.prime!);
    const q = big(v.subprime!);
    const g = big(v.base!);
    expect(v.prime!.length * 8).toBe(1024);
    expect(crypto.checkPrimeSync(v.prime!)).toBe(true);
    expect(crypto.checkPrimeSync(v.subprime!)).toBe(true);
    expect((p - 1n) % q).toBe(0n);
    expect(g > 1n && modPow(g, q, p) === 1n).toBe(true);
    expect(v.ecParams).toBeUndefined();
    expect((await s.findAll({ class: 'domainParameters' })).some((o) => o.handle === params.handle)).toBe(true);

    // A DSA key pair from the stored parameters; node:crypto verifies its signature.
    const pubTemplate = await params.publicKeyTemplate();
    expect(Object.keys(pubTemplate).sort()).toEqual(['base', 'prime', 'subprime']);
    const kp = await s.generateKeyPair({ name: 'DSA', parameters: params });
    const priv = (await s.object(kp.privateKey.handle)) as PrivateKey;
    expect(priv).toBeInstanceOf(PrivateKey);
    const data = Buffer.from('signed with a key from token domain parameters');
    const sig = await priv.sign({ mechanism: CKM_DSA_SHA256 }, data);
    expect(sig).toHaveLength(40);
    const y = (await kp.publicKey.getAttributes(['value'])).value as Buffer;
    const spki = dsaSpki(v.prime!, v.subprime!, v.base!, y);
    const pub = crypto.createPublicKey({ key: spki, format: 'der', type: 'spki' });
    expect(crypto.verify('sha256', data, { key: pub, dsaEncoding: 'ieee-p1363' }, sig)).toBe(true);
    await params.destroy();
    // The same from plain values; a DSA group without q is refused before any call.
    const again = await s.generateKeyPair({ name: 'DSA', parameters: { prime: v.prime!, subprime: v.subprime!, base: v.base! } });
    expect(await again.privateKey.sign({ mechanism: CKM_DSA_SHA256 }, data)).toHaveLength(40);
    await expect(s.generateKeyPair({ name: 'DSA', parameters: { prime: v.prime!, base: v.base! } })).rejects.toThrow(TypeError);
  });

  test('DH: a key pair from a group, and two parties derive the same secret as node:crypto', async () => {
    // RFC 3526 group 14 (2048-bit MODP), from node's own table: no slow prime search on the token.
    const node = crypto.getDiffieHellman('modp14');
    node.generateKeys();
    const prime = node.getPrime();
    const base = node.getGenerator();
    const { privateKey, publicKey } = await s.generateKeyPair({ name: 'DH', parameters: { prime, base } }, { privateKey: { derive: true } });
    const tokenPublic = (await publicKey.getAttributes(['value'])).value as Buffer;
    const shared = await privateKey.derive(
      { mechanism: CKM_DH_PKCS_DERIVE, parameter: node.getPublicKey() },
      { keyType: 'genericSecret', sensitive: false, extractable: true, valueLen: prime.length },
    );
    const tokenSecret = (await shared.getAttributes(['value'])).value as Buffer;
    expect(tokenSecret.toString('hex')).toBe(
      node
        .computeSecret(tokenPublic)
        .toString('hex')
        .padStart(prime.length * 2, '0'),
    );
  });
});

// SubjectPublicKeyInfo for DSA (RFC 3279): node:crypto has no way to build a DSA key from
// components, so this one structure is encoded here.
function dsaSpki(p: Buffer, q: Buffer, g: Buffer, y: Buffer): Buffer {
  const len = (n: number) => (n < 0x80 ? Buffer.from([n]) : n < 0x100 ? Buffer.from([0x81, n]) : Buffer.from([0x82, n >> 8, n & 0xff]));
  const el = (tag: number, body: Buffer) => Buffer.concat([Buffer.from([tag]), len(body.length), body]);
  const int = (b: Buffer) => el(0x02, b[0] & 0x80 ? Buffer.concat([Buffer.from([0]), b]) : b);
  const oid = Buffer.from('06072a8648ce380401', 'hex');
  const alg = el(0x30, Buffer.concat([oid, el(0x30, Buffer.concat([int(p), int(q), int(g)]))]));
  const bits = el(0x03, Buffer.concat([Buffer.from([0]), int(y)]));
  return el(0x30, Buffer.concat([alg, bits]));
}
