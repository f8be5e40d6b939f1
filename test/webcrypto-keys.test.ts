// WebCrypto provider, the algorithms beyond signing (SoftHSM, p11bridge-b): RSA-OAEP, ECDH,
// Ed25519, AES-CBC/CTR/KW, wrapKey/unwrapKey on the token and private key import, each checked
// against node's own WebCrypto with the same key material; then keyStorage and certStorage,
// checked by a second session, node:crypto and pkcs11-tool.
import * as crypto from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { fixture } from './helpers/softhsm';
import { createNssDb, NssDb } from './helpers/nss';
import { Module, Session, PrivateKey, SecretKey } from '../lib/index';
import { Pkcs11Crypto, Pkcs11CryptoKey } from '../lib/interop/webcrypto';
import { x509 } from './helpers/x509';
import { truncationOf } from '../lib/interop/webcrypto/derive';

const node = crypto.webcrypto.subtle;
type NodeKey = crypto.webcrypto.CryptoKey;
type NodePair = crypto.webcrypto.CryptoKeyPair;
type Pair = { publicKey: Pkcs11CryptoKey; privateKey: Pkcs11CryptoKey };
const data = Buffer.from('webcrypto keys and ciphers');
const buf = (b: ArrayBuffer): Buffer => Buffer.from(b);

describe('WebCrypto provider: ciphers, key agreement, wrapping, storage', () => {
  let mod: Module;
  let s: Session;
  let wc: Pkcs11Crypto;
  beforeAll(async () => {
    mod = await Module.open(fixture().modulePath);
    s = await (await mod.findSlot('p11bridge-b'))!.openSession({ write: true });
    await s.login('5678');
    wc = new Pkcs11Crypto(s);
  });
  afterAll(async () => {
    await s.close();
    await mod.close();
  });

  // SoftHSM 2.6 takes RSA-OAEP with SHA-1, MGF1-SHA1 and no label only (CKR_ARGUMENTS_BAD
  // otherwise); SHA-256 and labels are tested on NSS at the end of this file.
  describe('RSA-OAEP (SHA-1, SoftHSM)', () => {
    test('token key pair: node encrypts with the exported key, the token decrypts; the token encrypts for itself', async () => {
      const kp = (await wc.subtle.generateKey({ name: 'RSA-OAEP', modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]), hash: 'SHA-1' }, false, [
        'encrypt',
        'decrypt',
        'wrapKey',
        'unwrapKey',
      ])) as Pair;
      expect(kp.privateKey.usages.sort()).toEqual(['decrypt', 'unwrapKey']);
      expect(kp.publicKey.usages.sort()).toEqual(['encrypt', 'wrapKey']);
      expect(await kp.privateKey.key!.getAttributes(['decrypt', 'unwrap', 'sign'])).toEqual({ decrypt: true, unwrap: true, sign: false });
      const jwk = await wc.subtle.exportKey('jwk', kp.publicKey);
      expect(jwk).toMatchObject({ kty: 'RSA', alg: 'RSA-OAEP', key_ops: expect.arrayContaining(['encrypt', 'wrapKey']) });
      const pub = await node.importKey('jwk', jwk, { name: 'RSA-OAEP', hash: 'SHA-1' }, true, ['encrypt']);
      const ct = await node.encrypt({ name: 'RSA-OAEP' }, pub, data);
      expect(buf(await wc.subtle.decrypt({ name: 'RSA-OAEP' }, kp.privateKey, ct))).toEqual(data);
      const bad = Buffer.from(ct);
      bad[10] ^= 1;
      await expect(wc.subtle.decrypt({ name: 'RSA-OAEP' }, kp.privateKey, bad)).rejects.toMatchObject({ name: 'OperationError' });
      const ct2 = await wc.subtle.encrypt({ name: 'RSA-OAEP' }, kp.publicKey, data);
      expect(buf(await wc.subtle.decrypt({ name: 'RSA-OAEP' }, kp.privateKey, ct2))).toEqual(data);
      await expect(wc.subtle.encrypt({ name: 'RSA-OAEP' }, kp.privateKey, data)).rejects.toMatchObject({ name: 'InvalidAccessError' });
    });

    test('a node private key imported as pkcs8: the token decrypts what node encrypts and node decrypts what the token encrypts', async () => {
      const n = (await node.generateKey({ name: 'RSA-OAEP', modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]), hash: 'SHA-1' }, true, [
        'encrypt',
        'decrypt',
      ])) as NodePair;
      const priv = await wc.subtle.importKey('pkcs8', await node.exportKey('pkcs8', n.privateKey), { name: 'RSA-OAEP', hash: 'SHA-1' }, false, ['decrypt']);
      expect(priv).toMatchObject({ type: 'private', extractable: false, algorithm: { name: 'RSA-OAEP', modulusLength: 2048, hash: { name: 'SHA-1' } } });
      expect(await priv.key!.getAttributes(['sensitive', 'extractable', 'token'])).toEqual({ sensitive: true, extractable: false, token: false });
      expect(buf(await wc.subtle.decrypt({ name: 'RSA-OAEP' }, priv, await node.encrypt({ name: 'RSA-OAEP' }, n.publicKey, data)))).toEqual(data);
      const pub = await wc.subtle.importKey('spki', await node.exportKey('spki', n.publicKey), { name: 'RSA-OAEP', hash: 'SHA-1' }, true, ['encrypt']);
      expect(buf(await node.decrypt({ name: 'RSA-OAEP' }, n.privateKey, await wc.subtle.encrypt({ name: 'RSA-OAEP' }, pub, data)))).toEqual(data);
      // KeyObject-backed public keys encrypt in node (any hash and label node knows).
      const inNode = new Pkcs11Crypto(s, { importPublicKeys: 'node' });
      const ko = await inNode.subtle.importKey('spki', await node.exportKey('spki', n.publicKey), { name: 'RSA-OAEP', hash: 'SHA-1' }, true, ['encrypt']);
      expect(ko.keyObject).toBeDefined();
      expect(buf(await wc.subtle.decrypt({ name: 'RSA-OAEP' }, priv, await inNode.subtle.encrypt({ name: 'RSA-OAEP' }, ko, data)))).toEqual(data);
    });
  });

  describe('ECDH', () => {
    test.each(['P-256', 'P-384'])("%s: deriveBits equals node's both ways, for the full secret and a prefix", async (namedCurve) => {
      const t = (await wc.subtle.generateKey({ name: 'ECDH', namedCurve }, false, ['deriveBits', 'deriveKey'])) as Pair;
      expect(t.publicKey.usages).toEqual([]);
      const n = (await node.generateKey({ name: 'ECDH', namedCurve }, true, ['deriveBits'])) as NodePair;
      const tokenPubInNode = await node.importKey('raw', (await wc.subtle.exportKey('raw', t.publicKey)) as ArrayBuffer, { name: 'ECDH', namedCurve }, true, []);
      const nodePubOnToken = await wc.subtle.importKey('spki', await node.exportKey('spki', n.publicKey), { name: 'ECDH', namedCurve }, true, []);
      const size = namedCurve === 'P-256' ? 256 : 384;
      const expected = buf(await node.deriveBits({ name: 'ECDH', public: tokenPubInNode }, n.privateKey, size));
      expect(buf(await wc.subtle.deriveBits({ name: 'ECDH', public: nodePubOnToken }, t.privateKey, null))).toEqual(expected);
      expect(buf(await wc.subtle.deriveBits({ name: 'ECDH', public: nodePubOnToken }, t.privateKey, 128))).toEqual(expected.subarray(0, 16));
      // 12 bits: the last byte's low bits are zero, as in WebCrypto.
      const odd = buf(await wc.subtle.deriveBits({ name: 'ECDH', public: nodePubOnToken }, t.privateKey, 12));
      expect(odd).toEqual(Buffer.from([expected[0], expected[1] & 0xf0]));
      // node's own CryptoKey works as the peer too.
      expect(buf(await wc.subtle.deriveBits({ name: 'ECDH', public: n.publicKey as never }, t.privateKey, size))).toEqual(expected);
      await expect(wc.subtle.deriveBits({ name: 'ECDH', public: nodePubOnToken }, t.privateKey, size + 8)).rejects.toMatchObject({ name: 'OperationError' });
    });

    test.each([256, 128])('deriveKey AES-GCM-%i on the token: node derives the same key and decrypts what the token encrypts', async (length) => {
      const t = (await wc.subtle.generateKey({ name: 'ECDH', namedCurve: 'P-256' }, false, ['deriveKey'])) as Pair;
      const n = (await node.generateKey({ name: 'ECDH', namedCurve: 'P-256' }, true, ['deriveKey'])) as NodePair;
      const peer = await wc.subtle.importKey('raw', await node.exportKey('raw', n.publicKey), { name: 'ECDH', namedCurve: 'P-256' }, true, []);
      const key = await wc.subtle.deriveKey({ name: 'ECDH', public: peer }, t.privateKey, { name: 'AES-GCM', length }, false, ['encrypt', 'decrypt']);
      // SoftHSM keeps the rightmost bytes, so the 128-bit key takes the import path (derive.ts).
      if (length === 128) expect(await truncationOf(s)).toBe('right');
      expect(key).toMatchObject({ type: 'secret', algorithm: { name: 'AES-GCM', length } });
      expect(await key.key!.getAttributes(['sensitive', 'valueLen', 'keyType'])).toEqual({ sensitive: true, valueLen: length / 8, keyType: 'aes' });
      const tokenPub = await node.importKey('spki', (await wc.subtle.exportKey('spki', t.publicKey)) as ArrayBuffer, { name: 'ECDH', namedCurve: 'P-256' }, true, []);
      const nodeKey = await node.deriveKey({ name: 'ECDH', public: tokenPub }, n.privateKey, { name: 'AES-GCM', length }, true, ['decrypt']);
      const iv = crypto.randomBytes(12);
      expect(buf(await node.decrypt({ name: 'AES-GCM', iv }, nodeKey, await wc.subtle.encrypt({ name: 'AES-GCM', iv }, key, data)))).toEqual(data);
    });

    test('deriveKey HMAC; curve mismatch and a wrong usage are refused', async () => {
      const t = (await wc.subtle.generateKey({ name: 'ECDH', namedCurve: 'P-256' }, false, ['deriveKey'])) as Pair;
      const n = (await node.generateKey({ name: 'ECDH', namedCurve: 'P-256' }, true, ['deriveKey'])) as NodePair;
      const key = await wc.subtle.deriveKey({ name: 'ECDH', public: n.publicKey as never }, t.privateKey, { name: 'HMAC', hash: 'SHA-256', length: 256 }, false, ['sign']);
      const tokenPub = await node.importKey('spki', (await wc.subtle.exportKey('spki', t.publicKey)) as ArrayBuffer, { name: 'ECDH', namedCurve: 'P-256' }, true, []);
      const nodeKey = await node.deriveKey({ name: 'ECDH', public: tokenPub }, n.privateKey, { name: 'HMAC', hash: 'SHA-256', length: 256 }, true, ['verify']);
      expect(await node.verify('HMAC', nodeKey, await wc.subtle.sign('HMAC', key, data), data)).toBe(true);
      const other = (await node.generateKey({ name: 'ECDH', namedCurve: 'P-384' }, true, ['deriveKey'])) as NodePair;
      await expect(wc.subtle.deriveBits({ name: 'ECDH', public: other.publicKey as never }, t.privateKey, 128)).rejects.toMatchObject({ name: 'InvalidAccessError' });
      // The key was made for deriveKey only.
      await expect(wc.subtle.deriveBits({ name: 'ECDH', public: n.publicKey as never }, t.privateKey, 128)).rejects.toMatchObject({ name: 'InvalidAccessError' });
      // HMAC's default length (the SHA-256 block, 512 bits) is longer than a P-256 secret.
      await expect(wc.subtle.deriveKey({ name: 'ECDH', public: n.publicKey as never }, t.privateKey, { name: 'HMAC', hash: 'SHA-256' }, false, ['sign'])).rejects.toMatchObject({
        name: 'OperationError',
      });
    });
  });

  test('Ed25519: token signatures verify in node (spki, jwk, raw); node signatures verify on the token', async () => {
    const kp = (await wc.subtle.generateKey({ name: 'Ed25519' }, false, ['sign', 'verify'])) as Pair;
    expect(kp.privateKey.algorithm).toEqual({ name: 'Ed25519' });
    const sig = await wc.subtle.sign('Ed25519', kp.privateKey, data);
    for (const format of ['spki', 'jwk', 'raw'] as const) {
      const exported = await wc.subtle.exportKey(format, kp.publicKey);
      const pub = await node.importKey(format as 'raw', exported as ArrayBuffer, { name: 'Ed25519' }, true, ['verify']);
      expect(await node.verify('Ed25519', pub, sig, data)).toBe(true);
      expect(await node.verify('Ed25519', pub, sig, Buffer.from('other'))).toBe(false);
    }
    expect(await wc.subtle.verify('Ed25519', kp.publicKey, sig, data)).toBe(true);
    const n = (await node.generateKey({ name: 'Ed25519' }, true, ['sign', 'verify'])) as NodePair;
    const nsig = await node.sign('Ed25519', n.privateKey, data);
    const imported = await wc.subtle.importKey('raw', await node.exportKey('raw', n.publicKey), { name: 'Ed25519' }, true, ['verify']);
    expect(await wc.subtle.verify('Ed25519', imported, nsig, data)).toBe(true);
    expect(await wc.subtle.verify('Ed25519', imported, nsig, Buffer.from('other'))).toBe(false);
    expect(await wc.subtle.verify('Ed25519', imported, nsig.slice(1), data)).toBe(false);
    // A node Ed25519 private key imported into the token signs exactly as node does (Ed25519 is deterministic).
    const priv = await wc.subtle.importKey('pkcs8', await node.exportKey('pkcs8', n.privateKey), { name: 'Ed25519' }, false, ['sign']);
    expect(buf(await wc.subtle.sign('Ed25519', priv, data))).toEqual(buf(nsig));
  });

  describe('AES with one key in node and on the token', () => {
    let raw: Buffer;
    beforeAll(() => {
      raw = crypto.randomBytes(32);
    });

    test('AES-CBC: identical ciphertexts (PKCS#7 padding) both ways; a bad iv length is OperationError', async () => {
      const t = await wc.subtle.importKey('raw', raw, 'AES-CBC', false, ['encrypt', 'decrypt']);
      const n = await node.importKey('raw', raw, 'AES-CBC', false, ['encrypt', 'decrypt']);
      const iv = crypto.randomBytes(16);
      for (const size of [0, 5, 16, 1000]) {
        const plain = crypto.randomBytes(size);
        const ct = buf(await wc.subtle.encrypt({ name: 'AES-CBC', iv }, t, plain));
        expect(ct).toEqual(buf(await node.encrypt({ name: 'AES-CBC', iv }, n, plain)));
        expect(buf(await wc.subtle.decrypt({ name: 'AES-CBC', iv }, t, ct))).toEqual(plain);
      }
      await expect(wc.subtle.encrypt({ name: 'AES-CBC', iv: iv.subarray(1) }, t, data)).rejects.toMatchObject({ name: 'OperationError' });
      await expect(wc.subtle.encrypt({ name: 'AES-GCM', iv }, t, data)).rejects.toMatchObject({ name: 'InvalidAccessError' });
    });

    test('AES-CTR: identical ciphertexts for several counter lengths', async () => {
      const t = await wc.subtle.importKey('raw', raw, 'AES-CTR', false, ['encrypt', 'decrypt']);
      const n = await node.importKey('raw', raw, 'AES-CTR', false, ['encrypt', 'decrypt']);
      for (const length of [64, 128]) {
        const counter = crypto.randomBytes(16);
        const plain = crypto.randomBytes(100);
        const ct = buf(await wc.subtle.encrypt({ name: 'AES-CTR', counter, length }, t, plain));
        expect(ct).toEqual(buf(await node.encrypt({ name: 'AES-CTR', counter, length }, n, plain)));
        expect(buf(await wc.subtle.decrypt({ name: 'AES-CTR', counter, length }, t, ct))).toEqual(plain);
      }
    });

    test("AES-KW: wrapKey of a raw AES key equals node's (RFC 3394); the token unwraps what node wraps", async () => {
      const kekRaw = crypto.randomBytes(16);
      const tKek = await wc.subtle.importKey('raw', kekRaw, 'AES-KW', false, ['wrapKey', 'unwrapKey']);
      const nKek = await node.importKey('raw', kekRaw, 'AES-KW', false, ['wrapKey', 'unwrapKey']);
      expect(await tKek.key!.getAttributes(['wrap', 'unwrap', 'encrypt', 'decrypt'])).toEqual({ wrap: true, unwrap: true, encrypt: false, decrypt: false });
      // The key to wrap: extractable on the token (CKA_EXTRACTABLE), still sensitive.
      const tKey = await wc.subtle.importKey('raw', raw, 'AES-GCM', true, ['encrypt', 'decrypt']);
      const nKey = await node.importKey('raw', raw, 'AES-GCM', true, ['encrypt', 'decrypt']);
      const wrapped = buf(await wc.subtle.wrapKey('raw', tKey, tKek, 'AES-KW'));
      expect(wrapped).toEqual(buf(await node.wrapKey('raw', nKey, nKek, 'AES-KW')));
      const back = (await node.unwrapKey('raw', wrapped, nKek, 'AES-KW', 'AES-GCM', true, ['decrypt'])) as NodeKey;
      expect(buf(await node.exportKey('raw', back))).toEqual(raw);

      const fresh = crypto.randomBytes(32);
      const nFresh = await node.importKey('raw', fresh, 'AES-GCM', true, ['encrypt']);
      const tUnwrapped = await wc.subtle.unwrapKey('raw', await node.wrapKey('raw', nFresh, nKek, 'AES-KW'), tKek, 'AES-KW', 'AES-GCM', false, ['encrypt', 'decrypt']);
      expect(tUnwrapped).toMatchObject({ type: 'secret', extractable: false, algorithm: { name: 'AES-GCM', length: 256 } });
      expect(await tUnwrapped.key!.getAttributes(['sensitive', 'extractable'])).toEqual({ sensitive: true, extractable: false });
      const iv = crypto.randomBytes(12);
      const ct = await wc.subtle.encrypt({ name: 'AES-GCM', iv }, tUnwrapped, data);
      expect(buf(await node.decrypt({ name: 'AES-GCM', iv }, await node.importKey('raw', fresh, 'AES-GCM', false, ['decrypt']), ct))).toEqual(data);

      // A non-extractable key cannot be wrapped, a tampered wrapping does not unwrap.
      await expect(wc.subtle.wrapKey('raw', tUnwrapped, tKek, 'AES-KW')).rejects.toMatchObject({ name: 'InvalidAccessError' });
      const bad = Buffer.from(wrapped);
      bad[3] ^= 1;
      await expect(wc.subtle.unwrapKey('raw', bad, tKek, 'AES-KW', 'AES-GCM', false, ['encrypt'])).rejects.toMatchObject({ name: 'OperationError' });
      await expect(wc.subtle.wrapKey('jwk', tKey, tKek, 'AES-KW')).rejects.toMatchObject({ name: 'NotSupportedError' });
    });
  });

  // PKCS#11 wraps a private key as its PKCS#8 encoding; RFC 3394 needs a multiple of 8 bytes, and
  // SoftHSM pads the encoding with zeros to get one. node's pkcs8 parser refuses trailing bytes, so
  // node unwraps the bytes as 'raw' here and parses the DER itself.
  test("wrapKey pkcs8 (AES-KW): the wrapped bytes are the key's PKCS#8 (zero-padded); a node key wrapped by node unwraps on the token", async () => {
    const kek = crypto.randomBytes(32);
    const tKek = await wc.subtle.importKey('raw', kek, 'AES-KW', false, ['wrapKey', 'unwrapKey']);
    const nKek = await node.importKey('raw', kek, 'AES-KW', false, ['wrapKey', 'unwrapKey']);
    const kp = (await wc.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, ['sign', 'verify'])) as Pair;
    const wrapped = await wc.subtle.wrapKey('pkcs8', kp.privateKey, tKek, 'AES-KW');
    const asRaw = (await node.unwrapKey('raw', wrapped, nKek, 'AES-KW', { name: 'HMAC', hash: 'SHA-256' }, true, ['sign'])) as NodeKey;
    const plain = buf(await node.exportKey('raw', asRaw));
    expect(plain.length % 8).toBe(0);
    const derLength = 2 + plain[1]; // SEQUENCE with a short-form length (a P-256 PKCS#8 is < 128 bytes)
    expect(plain.subarray(derLength).every((b) => b === 0)).toBe(true);
    const inNode = crypto.createPrivateKey({ key: plain.subarray(0, derLength), format: 'der', type: 'pkcs8' });
    const sig = crypto.sign('sha256', data, { key: inNode, dsaEncoding: 'ieee-p1363' });
    expect(await wc.subtle.verify({ name: 'ECDSA', hash: 'SHA-256' }, kp.publicKey, sig, data)).toBe(true);

    // And back: node's PKCS#8 (padded to 8 bytes, wrapped by node as raw bytes) unwraps on the
    // token as a sensitive private key that signs for node's public key.
    const n = crypto.generateKeyPairSync('ec', { namedCurve: 'P-384' });
    const der = n.privateKey.export({ type: 'pkcs8', format: 'der' });
    const padded = Buffer.concat([der, Buffer.alloc((8 - (der.length % 8)) % 8)]);
    const carrier = await node.importKey('raw', padded, { name: 'HMAC', hash: 'SHA-256' }, true, ['sign']);
    const onToken = await wc.subtle.unwrapKey('pkcs8', await node.wrapKey('raw', carrier, nKek, 'AES-KW'), tKek, 'AES-KW', { name: 'ECDSA', namedCurve: 'P-384' }, false, ['sign']);
    expect(onToken).toMatchObject({ type: 'private', extractable: false, algorithm: { name: 'ECDSA', namedCurve: 'P-384' }, usages: ['sign'] });
    expect(onToken.key).toBeInstanceOf(PrivateKey);
    expect(await onToken.key!.getAttributes(['sensitive'])).toEqual({ sensitive: true });
    const tsig = Buffer.from(await wc.subtle.sign({ name: 'ECDSA', hash: 'SHA-384' }, onToken, data));
    expect(crypto.verify('sha384', data, { key: n.publicKey, dsaEncoding: 'ieee-p1363' }, tsig)).toBe(true);
    // An EC key unwrapped as an RSA key: SoftHSM refuses (CKR_FUNCTION_FAILED), nothing is made.
    await expect(
      wc.subtle.unwrapKey('pkcs8', await node.wrapKey('raw', carrier, nKek, 'AES-KW'), tKek, 'AES-KW', { name: 'RSA-PSS', hash: 'SHA-256' }, false, ['sign']),
    ).rejects.toMatchObject({ rvName: 'CKR_FUNCTION_FAILED' });
  });

  test('RSA-OAEP wraps a raw AES key on the token; node unwraps it with the private key', async () => {
    const n = (await node.generateKey({ name: 'RSA-OAEP', modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]), hash: 'SHA-1' }, true, [
      'wrapKey',
      'unwrapKey',
    ])) as NodePair;
    const pub = await wc.subtle.importKey('spki', await node.exportKey('spki', n.publicKey), { name: 'RSA-OAEP', hash: 'SHA-1' }, true, ['wrapKey']);
    const raw = crypto.randomBytes(16);
    const key = await wc.subtle.importKey('raw', raw, 'AES-CBC', true, ['encrypt']);
    const wrapped = await wc.subtle.wrapKey('raw', key, pub, 'RSA-OAEP');
    const back = (await node.unwrapKey('raw', wrapped, n.privateKey, 'RSA-OAEP', 'AES-CBC', true, ['encrypt'])) as NodeKey;
    expect(buf(await node.exportKey('raw', back))).toEqual(raw);
    // A public key wraps as spki with AES-GCM (exported, then encrypted on the token), and unwraps
    // back; that takes a key that may encrypt and decrypt too.
    const wrapOnly = (await wc.subtle.generateKey({ name: 'AES-GCM', length: 256 }, false, ['wrapKey', 'unwrapKey'])) as Pkcs11CryptoKey;
    const iv = crypto.randomBytes(12);
    await expect(wc.subtle.wrapKey('spki', pub, wrapOnly, { name: 'AES-GCM', iv })).rejects.toMatchObject({ name: 'InvalidAccessError' });
    const gcm = await wc.subtle.generateKey({ name: 'AES-GCM', length: 256 }, false, ['wrapKey', 'unwrapKey', 'encrypt', 'decrypt']);
    const w = await wc.subtle.wrapKey('spki', pub, gcm as Pkcs11CryptoKey, { name: 'AES-GCM', iv });
    const pub2 = await wc.subtle.unwrapKey('spki', w, gcm as Pkcs11CryptoKey, { name: 'AES-GCM', iv }, { name: 'RSA-OAEP', hash: 'SHA-1' }, true, ['encrypt']);
    expect(buf((await wc.subtle.exportKey('spki', pub2)) as ArrayBuffer)).toEqual(buf(await node.exportKey('spki', n.publicKey)));
  });

  describe('storage', () => {
    test('keyStorage: setItem copies session keys to the token; another session gets them back by index; removeItem destroys them', async () => {
      const kp = (await wc.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, false, ['sign', 'verify'])) as Pair;
      const hmac = (await wc.subtle.generateKey({ name: 'HMAC', hash: 'SHA-256' }, false, ['sign', 'verify'])) as Pkcs11CryptoKey;
      const pi = await wc.keyStorage.setItem(kp.privateKey, { label: 'wc storage' });
      const qi = await wc.keyStorage.setItem(kp.publicKey);
      const hi = await wc.keyStorage.setItem(hmac);
      expect(pi).toMatch(/^private-[0-9a-f]{32}$/);
      expect(qi).toBe(pi.replace('private', 'public'));
      expect(await wc.keyStorage.keys()).toEqual(expect.arrayContaining([pi, qi, hi]));
      expect(await wc.keyStorage.indexOf(kp.privateKey)).toBe(pi);
      expect(await wc.keyStorage.setItem(kp.privateKey)).toBe(pi);

      // A second session (as a later process would) finds them with their algorithms.
      const other = await s.slot.openSession({ write: true });
      try {
        const wc2 = new Pkcs11Crypto(other);
        const priv = (await wc2.keyStorage.getItem(pi))!;
        const pub = (await wc2.keyStorage.getItem(qi))!;
        expect(priv).toMatchObject({ type: 'private', algorithm: { name: 'ECDSA', namedCurve: 'P-256' }, usages: ['sign'] });
        expect(await priv.key!.getAttributes(['token', 'label', 'sensitive'])).toEqual({ token: true, label: 'wc storage', sensitive: true });
        const sig = await wc2.subtle.sign({ name: 'ECDSA', hash: 'SHA-256' }, priv, data);
        const spki = crypto.createPublicKey({ key: buf((await wc2.subtle.exportKey('spki', pub)) as ArrayBuffer), format: 'der', type: 'spki' });
        expect(crypto.verify('sha256', data, { key: spki, dsaEncoding: 'ieee-p1363' }, Buffer.from(sig))).toBe(true);
        const h = (await wc2.keyStorage.getItem(hi))!;
        expect(h.algorithm).toMatchObject({ name: 'HMAC', hash: { name: 'SHA-256' }, length: 512 });
        expect(await wc2.subtle.verify('HMAC', h, await wc.subtle.sign('HMAC', hmac, data), data)).toBe(true);
        expect(await wc2.keyStorage.getItem('private-00')).toBeNull();
        expect(await wc2.keyStorage.getItem('nonsense')).toBeNull();
      } finally {
        await other.close();
      }
      for (const i of [pi, qi, hi]) await wc.keyStorage.removeItem(i);
      const left = await wc.keyStorage.keys();
      for (const i of [pi, qi, hi]) expect(left).not.toContain(i);
      // The session keys themselves are untouched.
      expect(await kp.privateKey.key!.getAttributes(['token'])).toEqual({ token: false });
    });

    test('certStorage: a certificate made through the provider is stored beside its key; node and pkcs11-tool read it', async () => {
      const kp = (await wc.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, false, ['sign', 'verify'])) as Pair;
      const qi = await wc.keyStorage.setItem(kp.publicKey);
      x509.cryptoProvider.set(wc);
      let index = '';
      try {
        const cert = await x509.X509CertificateGenerator.createSelfSigned(
          {
            serialNumber: '0a1b',
            name: 'CN=p11bridge cert storage',
            notBefore: new Date(Date.now() - 60_000),
            notAfter: new Date(Date.now() + 86_400_000),
            signingAlgorithm: { name: 'ECDSA', hash: 'SHA-256' },
            keys: kp,
          },
          wc,
        );
        index = await wc.certStorage.setItem(cert, { label: 'wc cert' });
        expect(index).toBe(`x509-${crypto.createHash('sha256').update(Buffer.from(cert.rawData)).digest('hex')}`);
        expect(await wc.certStorage.keys()).toContain(index);
        expect(await wc.certStorage.indexOf(Buffer.from(cert.rawData))).toBe(index);
        const back = (await wc.certStorage.getItem(index))!;
        expect(back.subject).toMatch(/CN=p11bridge cert storage/);
        expect(back.verify(back.publicKey)).toBe(true);
        // CKA_ID is the key's, found by its SPKI.
        const obj = (await wc.certStorage.object(index))!;
        expect(Buffer.from((await obj.getAttributes(['id'])).id as Buffer).toString('hex')).toBe(qi.slice('public-'.length));

        const f = fixture();
        const r = spawnSync('pkcs11-tool', ['--module', f.modulePath, '--token-label', 'p11bridge-b', '--list-objects', '--type', 'cert'], {
          encoding: 'utf8',
          env: { ...process.env, SOFTHSM2_CONF: f.conf },
        });
        expect(r.status).toBe(0);
        expect(r.stdout).toMatch(/label:\s+wc cert/);
        expect(r.stdout).toMatch(new RegExp(`ID:\\s+${qi.slice('public-'.length)}`));
      } finally {
        x509.cryptoProvider.clear();
        if (index) await wc.certStorage.removeItem(index);
        await wc.keyStorage.removeItem(qi);
      }
      expect(await wc.certStorage.getItem(index)).toBeNull();
      await expect(wc.certStorage.setItem(Buffer.from('not a certificate'))).rejects.toMatchObject({ name: 'DataError' });
    });
  });

  test('SecretKey and PrivateKey from elsewhere: Pkcs11CryptoKey.from reads usages from the key attributes', async () => {
    const aes = await s.generateKey({ name: 'AES', length: 128 }, { encrypt: true, decrypt: false, wrap: false, unwrap: false });
    expect(aes).toBeInstanceOf(SecretKey);
    const k = await Pkcs11CryptoKey.from(aes, 'AES-CBC');
    expect(k.usages).toEqual(['encrypt']);
    await expect(Pkcs11CryptoKey.from(aes, 'ECDH')).rejects.toMatchObject({ name: 'DataError' });
  });
});

// NSS softokn takes RSA-OAEP with SHA-2 hashes and labels (WebCrypto's RSA-OAEP in full), and
// truncates ECDH secrets on the right as SoftHSM does.
describe('WebCrypto provider on NSS softokn', () => {
  let db: NssDb;
  let mod: Module;
  let s: Session;
  let wc: Pkcs11Crypto;
  beforeAll(async () => {
    db = createNssDb();
    mod = await Module.open(db.modulePath, { initialize: { libraryParameters: db.libraryParameters } });
    s = await (await mod.findSlot('NSS Certificate DB'))!.openSession({ write: true });
    wc = new Pkcs11Crypto(s);
  });
  afterAll(async () => {
    await s?.close();
    await mod?.close();
    db?.cleanup();
  });

  test.each(['SHA-256', 'SHA-384'])('RSA-OAEP %s with a label: node → token, token → node; a wrong label is OperationError', async (hash) => {
    const n = (await node.generateKey({ name: 'RSA-OAEP', modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]), hash }, true, ['encrypt', 'decrypt'])) as NodePair;
    const priv = await wc.subtle.importKey('pkcs8', await node.exportKey('pkcs8', n.privateKey), { name: 'RSA-OAEP', hash }, false, ['decrypt']);
    const pub = await wc.subtle.importKey('jwk', await node.exportKey('jwk', n.publicKey), { name: 'RSA-OAEP', hash }, true, ['encrypt']);
    const label = Buffer.from('p11bridge webcrypto label');
    expect(buf(await wc.subtle.decrypt({ name: 'RSA-OAEP', label }, priv, await node.encrypt({ name: 'RSA-OAEP', label }, n.publicKey, data)))).toEqual(data);
    expect(buf(await node.decrypt({ name: 'RSA-OAEP', label }, n.privateKey, await wc.subtle.encrypt({ name: 'RSA-OAEP', label }, pub, data)))).toEqual(data);
    const other = await node.encrypt({ name: 'RSA-OAEP', label: Buffer.from('other') }, n.publicKey, data);
    await expect(wc.subtle.decrypt({ name: 'RSA-OAEP', label }, priv, other)).rejects.toMatchObject({ name: 'OperationError' });
  });

  test('ECDH P-384 → AES-128 (NSS keeps the rightmost bytes of Z, WebCrypto the leftmost): node derives the same key', async () => {
    const t = (await wc.subtle.generateKey({ name: 'ECDH', namedCurve: 'P-384' }, false, ['deriveKey', 'deriveBits'])) as Pair;
    const n = (await node.generateKey({ name: 'ECDH', namedCurve: 'P-384' }, true, ['deriveKey', 'deriveBits'])) as NodePair;
    const key = await wc.subtle.deriveKey({ name: 'ECDH', public: n.publicKey as never }, t.privateKey, { name: 'AES-CBC', length: 128 }, false, ['encrypt']);
    // NSS keeps the rightmost bytes too, so this key is cut from Z in Node and imported.
    expect(await truncationOf(s)).toBe('right');
    expect(await key.key!.getAttributes(['sensitive', 'valueLen'])).toEqual({ sensitive: true, valueLen: 16 });
    const tokenPub = await node.importKey('spki', await wc.subtle.exportKey('spki', t.publicKey), { name: 'ECDH', namedCurve: 'P-384' }, true, []);
    const nodeKey = await node.deriveKey({ name: 'ECDH', public: tokenPub }, n.privateKey, { name: 'AES-CBC', length: 128 }, true, ['decrypt']);
    const iv = crypto.randomBytes(16);
    expect(buf(await node.decrypt({ name: 'AES-CBC', iv }, nodeKey, await wc.subtle.encrypt({ name: 'AES-CBC', iv }, key, data)))).toEqual(data);
    expect(buf(await wc.subtle.deriveBits({ name: 'ECDH', public: n.publicKey as never }, t.privateKey, 384))).toEqual(
      buf(await node.deriveBits({ name: 'ECDH', public: tokenPub }, n.privateKey, 384)),
    );
  });
});
