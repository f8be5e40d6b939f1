// JWS / JWT signed by token keys on SoftHSM (p11bridge-b, session keys only), verified by jose:
// every RFC 7518 signature algorithm the module offers, claims round-trip, tampering is caught,
// and a key that does not fit `alg` is refused before anything is signed.
import { fixture } from './helpers/softhsm';
import { Module, Session, PrivateKey, PublicKey, CKM_EC_EDWARDS_KEY_PAIR_GEN, CKM_EDDSA } from '../lib/index';
import { jwkOf, signJws, signJwt, JWS_ALGORITHMS } from '../lib/interop/jws';
import type { JwsAlgorithm } from '../lib/interop/jws';
// jose 6 is ESM-only: jest.config.js has ts-jest transpile it to CommonJS for this import.
import * as jose from 'jose';

type Pair = { publicKey: PublicKey; privateKey: PrivateKey };

const claims = { sub: 'user-42', aud: 'p11bridge-tests', iss: 'urn:p11bridge', scope: ['read', 'write'], nested: { n: 1, ok: true, none: null }, name: 'Zoë ✓' };

describe('JWS / JWT with token keys', () => {
  let mod: Module;
  let s: Session;
  let hasEd = false;
  const pairs: Partial<Record<'P-256' | 'P-384' | 'P-521' | 'RSA' | 'RSA-1024' | 'Ed25519', Pair>> = {};
  const keyFor: Record<JwsAlgorithm, keyof typeof pairs> = {
    ES256: 'P-256',
    ES384: 'P-384',
    ES512: 'P-521',
    RS256: 'RSA',
    RS384: 'RSA',
    RS512: 'RSA',
    PS256: 'RSA',
    PS384: 'RSA',
    PS512: 'RSA',
    EdDSA: 'Ed25519',
  };

  beforeAll(async () => {
    mod = await Module.open(fixture().modulePath);
    s = await (await mod.findSlot('p11bridge-b'))!.openSession({ write: true });
    await s.login('5678');
    for (const curve of ['P-256', 'P-384', 'P-521'] as const) pairs[curve] = await s.generateKeyPair({ name: 'EC', curve });
    pairs.RSA = await s.generateKeyPair({ name: 'RSA', modulusLength: 2048 });
    pairs['RSA-1024'] = await s.generateKeyPair({ name: 'RSA', modulusLength: 1024 });
    const mechs = await s.slot.mechanismSet();
    hasEd = mechs.has(String(CKM_EC_EDWARDS_KEY_PAIR_GEN)) && mechs.has(String(CKM_EDDSA));
    if (hasEd) pairs.Ed25519 = await s.generateKeyPair({ name: 'Ed25519' });
  });
  afterAll(async () => {
    for (const p of Object.values(pairs)) for (const k of [p!.publicKey, p!.privateKey]) await k.destroy();
    await s.close();
    await mod.close();
  });

  test('the algorithm list', () => {
    expect([...JWS_ALGORITHMS].sort()).toEqual(['ES256', 'ES384', 'ES512', 'EdDSA', 'PS256', 'PS384', 'PS512', 'RS256', 'RS384', 'RS512']);
  });

  test.each(JWS_ALGORITHMS.map((a) => [a]))('%s: a token-signed JWT verifies with jose; claims and header round-trip; tampering fails', async (alg) => {
    const pair = pairs[keyFor[alg]];
    if (alg === 'EdDSA' && !hasEd) {
      // SoftHSM without EdDSA: nothing to sign with (the interop suite checks the refusal).
      expect(pair).toBeUndefined();
      return;
    }
    const { publicKey, privateKey } = pair!;
    const kid = `kid-${alg}`;
    const before = Math.floor(Date.now() / 1000);
    const jwt = await signJwt(privateKey, alg, claims, { kid, iat: true, header: { cty: 'test' } });
    const after = Math.floor(Date.now() / 1000);
    expect(jwt).toMatch(/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/); // base64url, no padding

    const jwk = await jwkOf(publicKey, { alg, kid });
    expect(jwk).toMatchObject({ alg, kid, use: 'sig' });
    expect(jwk).not.toHaveProperty('d');
    const key = await jose.importJWK(jwk, alg);
    const { payload, protectedHeader } = await jose.jwtVerify(jwt, key, { algorithms: [alg], audience: claims.aud, issuer: claims.iss });
    expect(protectedHeader).toEqual({ alg, typ: 'JWT', kid, cty: 'test' });
    const { iat, ...rest } = payload;
    expect(rest).toEqual(claims);
    expect(iat).toBeGreaterThanOrEqual(before);
    expect(iat).toBeLessThanOrEqual(after);

    // Signature sizes: ECDSA is raw r||s of the curve's field size (P-521: 2 × 66).
    const sig = Buffer.from(jwt.split('.')[2], 'base64url');
    const expected: Partial<Record<JwsAlgorithm, number>> = { ES256: 64, ES384: 96, ES512: 132, EdDSA: 64 };
    expect(sig.length).toBe(expected[alg] ?? 256);

    // Tampered claims, header or signature: jose refuses.
    const [h, p, sg] = jwt.split('.');
    const forged = Buffer.from(JSON.stringify({ ...claims, sub: 'admin', iat })).toString('base64url');
    await expect(jose.jwtVerify(`${h}.${forged}.${sg}`, key)).rejects.toThrow(jose.errors.JWSSignatureVerificationFailed);
    const otherHeader = Buffer.from(JSON.stringify({ alg, typ: 'JWT', kid: 'other', cty: 'test' })).toString('base64url');
    await expect(jose.jwtVerify(`${otherHeader}.${p}.${sg}`, key)).rejects.toThrow(jose.errors.JWSSignatureVerificationFailed);
    const flipped = Buffer.from(sig);
    flipped[flipped.length >> 1] ^= 0x01;
    await expect(jose.jwtVerify(`${h}.${p}.${flipped.toString('base64url')}`, key)).rejects.toThrow(jose.errors.JWSSignatureVerificationFailed);

    // A compact JWS over bytes and over a string.
    const bytes = Buffer.from([0, 1, 2, 0xfe, 0xff, 0x2e]);
    const jws = await signJws(privateKey, alg, bytes, { kid });
    const v = await jose.compactVerify(jws, key, { algorithms: [alg] });
    expect(Buffer.from(v.payload)).toEqual(bytes);
    expect(v.protectedHeader).toEqual({ alg, kid });
    const text = 'detached? no: attached, UTF-8 ✓';
    const jws2 = await signJws(privateKey, alg, text);
    const v2 = await jose.compactVerify(jws2, key);
    expect(Buffer.from(v2.payload).toString('utf8')).toBe(text);
    expect(v2.protectedHeader).toEqual({ alg });
    const [h2, , s2] = jws2.split('.');
    await expect(jose.compactVerify(`${h2}.${Buffer.from(text + '!').toString('base64url')}.${s2}`, key)).rejects.toThrow(jose.errors.JWSSignatureVerificationFailed);
  });

  test('RS and PS with the same key: PKCS#1 v1.5 is deterministic, PSS is salted (salt = hash length, checked by jose)', async () => {
    const { privateKey, publicKey } = pairs.RSA!;
    const a = await signJws(privateKey, 'RS256', 'x');
    expect(await signJws(privateKey, 'RS256', 'x')).toBe(a);
    const p1 = await signJws(privateKey, 'PS512', 'x');
    expect(await signJws(privateKey, 'PS512', 'x')).not.toBe(p1);
    // A PS token does not verify as RS, nor the other way round.
    const rsKey = await jose.importJWK(await jwkOf(publicKey, { alg: 'RS256' }), 'RS256');
    const psKey = await jose.importJWK(await jwkOf(publicKey, { alg: 'PS256' }), 'PS256');
    const ps = await signJws(privateKey, 'PS256', 'x');
    const forgedAlg = (jws: string, alg: string) => [Buffer.from(JSON.stringify({ alg })).toString('base64url'), ...jws.split('.').slice(1)].join('.');
    await expect(jose.compactVerify(forgedAlg(ps, 'RS256'), rsKey)).rejects.toThrow(jose.errors.JWSSignatureVerificationFailed);
    await expect(jose.compactVerify(forgedAlg(a, 'PS256'), psKey)).rejects.toThrow(jose.errors.JWSSignatureVerificationFailed);
    // jwkOf without options: use 'sig', no alg or kid.
    const plain = await jwkOf(publicKey);
    expect(plain).toMatchObject({ kty: 'RSA', e: 'AQAB', use: 'sig' });
    expect(plain).not.toHaveProperty('alg');
    expect(plain).not.toHaveProperty('kid');
  });

  test('a key that does not fit alg is a TypeError naming the argument, before anything is signed', async () => {
    const rsa = pairs.RSA!.privateKey;
    const p256 = pairs['P-256']!.privateKey;
    const p384 = pairs['P-384']!.privateKey;
    await expect(signJwt(rsa, 'ES256', claims)).rejects.toThrow(TypeError);
    await expect(signJwt(rsa, 'ES256', claims)).rejects.toThrow(/argument 'alg' 'ES256' needs an EC P-256 key; argument 'privateKey' is a 'rsa' key/);
    await expect(signJwt(p384, 'ES256', claims)).rejects.toThrow(/argument 'alg' 'ES256' needs an EC P-256 key; argument 'privateKey' is on P-384/);
    await expect(signJwt(p256, 'ES512', claims)).rejects.toThrow(/needs an EC P-521 key/);
    await expect(signJws(p256, 'RS256', 'x')).rejects.toThrow(/signJws: argument 'alg' 'RS256' needs an RSA key/);
    await expect(signJws(p256, 'PS384', 'x')).rejects.toThrow(TypeError);
    await expect(signJws(rsa, 'EdDSA', 'x')).rejects.toThrow(/needs an Ed25519 or Ed448 key/);
    await expect(signJws(p256, 'EdDSA', 'x')).rejects.toThrow(TypeError);
    if (pairs.Ed25519) await expect(signJws(pairs.Ed25519.privateKey, 'ES256', 'x')).rejects.toThrow(/'privateKey' is a 'ecEdwards' key/);
    // jwkOf checks its alg too; a public key is not a signing key.
    await expect(jwkOf(pairs.RSA!.publicKey, { alg: 'ES384' })).rejects.toThrow(/jwkOf: argument 'options.alg' 'ES384' needs an EC P-384 key/);
    await expect(jwkOf(pairs['P-384']!.publicKey, { alg: 'ES384', kid: 7 as never })).rejects.toThrow(TypeError);
    await expect(signJwt(pairs['P-256']!.publicKey as never, 'ES256', claims)).rejects.toThrow(/argument 'privateKey' is a 'publicKey', not a private key/);
    await expect(signJwt({} as never, 'ES256', claims)).rejects.toThrow(/argument 'privateKey' must be a token PrivateKey/);
  });

  test('bad arguments: unknown alg, header alg, payload, small RSA keys', async () => {
    const p256 = pairs['P-256']!.privateKey;
    for (const alg of ['HS256', 'none', 'es256']) await expect(signJwt(p256, alg as never, claims)).rejects.toThrow(/argument 'alg' '.*' is not supported/);
    await expect(signJws(p256, undefined as never, 'x')).rejects.toThrow(TypeError);
    await expect(signJwt(p256, 'ES256', { a: 1 }, { header: { alg: 'none' as never } })).rejects.toThrow(/argument 'options.header' has alg 'none'/);
    await expect(signJws(p256, 'ES256', 'x', { alg: 'ES384' })).rejects.toThrow(TypeError);
    await expect(signJws(p256, 'ES256', 'x', { b64: false })).rejects.toThrow(/not supported/);
    await expect(signJws(p256, 'ES256', 'x', [] as never)).rejects.toThrow(TypeError);
    await expect(signJwt(p256, 'ES256', [1, 2] as never)).rejects.toThrow(/argument 'payload' must be a plain object/);
    await expect(signJwt(p256, 'ES256', 'claims' as never)).rejects.toThrow(TypeError);
    await expect(signJws(p256, 'ES256', 42 as never)).rejects.toThrow(/argument 'payload'/);
    await expect(signJwt(pairs['RSA-1024']!.privateKey, 'RS256', claims)).rejects.toThrow(RangeError);
    // The header's own alg, when it is the same, and typ can be overridden; the payload's iat wins over options.iat.
    const jwt = await signJwt(p256, 'ES256', { iat: 1000, sub: 'x' }, { iat: true, header: { alg: 'ES256', typ: 'at+jwt' } });
    expect(jose.decodeProtectedHeader(jwt)).toEqual({ alg: 'ES256', typ: 'at+jwt' });
    expect(jose.decodeJwt(jwt)).toEqual({ iat: 1000, sub: 'x' });
    // Without options.iat the claims are signed as given.
    expect(jose.decodeJwt(await signJwt(p256, 'ES256', { sub: 'y' }))).toEqual({ sub: 'y' });
    const key = await jose.importJWK(await jwkOf(pairs['P-256']!.publicKey), 'ES256');
    await expect(jose.jwtVerify(jwt, key, { typ: 'at+jwt' })).resolves.toBeDefined();
  });
});
