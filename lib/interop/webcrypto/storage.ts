// Key and certificate storage on the token, in the shape of node-webcrypto-p11's keyStorage and
// certStorage: `setItem` makes a token object and returns an index string, `keys()` lists the
// indexes, `getItem` gives the key (a Pkcs11CryptoKey) or certificate (an X509Certificate) back in
// a later process. The session must be read-write, and logged in for private keys.
//
// Key indexes are `<type>-<CKA_ID hex>` (type: private, public, secret): a pair shares its id, and
// generateKey/importKey give every key one. Keys without a CKA_ID get `<type>-handle-<n>`, valid
// while the session is open. Certificate indexes are `x509-<SHA-256 of the DER, hex>`.
import { createHash, X509Certificate } from 'node:crypto';
import type { Session } from '../../session/session';
import { Certificate } from '../../objects/certificate';
import { PrivateKey, PublicKey, SecretKey } from '../../objects/keys';
import { Pkcs11Object } from '../../objects/object';
import type { TemplateObject } from '../../template/attributes';
import { exportSpki, importPublicKey } from '../keyobject';
import { storeCertificate } from '../x509';
import { AlgorithmInput, bytes, domError, KeyUsage, newKeyId } from './algorithms';
import { cryptoKey, guessAlgorithm, keyTypeOfObject, Pkcs11CryptoKey, TokenKey } from './key';

const CLASS_OF = { private: 'privateKey', public: 'publicKey', secret: 'secretKey' } as const;
type StoredType = keyof typeof CLASS_OF;
const INDEX = /^(private|public|secret)-(?:([0-9a-f]+)|handle-(\d+))$/;

function isTokenKey(o: Pkcs11Object): o is TokenKey {
  return o instanceof PrivateKey || o instanceof PublicKey || o instanceof SecretKey;
}

function indexOfKey(type: StoredType, id: unknown, handle: number | bigint): string {
  return id instanceof Buffer && id.length > 0 ? `${type}-${id.toString('hex')}` : `${type}-handle-${String(handle)}`;
}

function indexArg(index: unknown, what: string): string {
  if (typeof index !== 'string') throw new TypeError(`${what}: argument 'index' must be a string`);
  return index;
}

export class Pkcs11KeyStorage {
  constructor(readonly session: Session) {}

  /** The indexes of the token's keys (token objects only; session keys are not stored). */
  async keys(): Promise<string[]> {
    const out = new Set<string>();
    for (const o of await this.session.findAll({ token: true })) {
      if (!isTokenKey(o)) continue;
      const { id } = await o.getAttributes(['id']);
      out.add(indexOfKey(keyTypeOfObject(o), id, o.handle));
    }
    return [...out];
  }

  private async objects(index: string): Promise<TokenKey[]> {
    const m = INDEX.exec(index);
    if (!m) return [];
    const type = m[1] as StoredType;
    if (m[3] !== undefined) {
      const o = await this.session.object(Number(m[3])).catch(() => undefined);
      return o && isTokenKey(o) && keyTypeOfObject(o) === type ? [o] : [];
    }
    const found = await this.session.findAll({ class: CLASS_OF[type], token: true, id: Buffer.from(m[2], 'hex') });
    return found.filter(isTokenKey);
  }

  /**
   * The key stored under `index`, or null. Its WebCrypto algorithm is `algorithm` when given,
   * otherwise guessed from its PKCS#11 attributes (EC → ECDSA, or ECDH for derive-only keys; RSA →
   * RSASSA-PKCS1-v1_5 SHA-256, or RSA-OAEP for encryption keys; AES → AES-GCM, or AES-KW for
   * wrap-only keys; generic secret → HMAC SHA-256). Usages default to the key's usage attributes.
   */
  async getItem(index: string, algorithm?: AlgorithmInput, extractable?: boolean, keyUsages?: KeyUsage[]): Promise<Pkcs11CryptoKey | null> {
    const [key] = await this.objects(indexArg(index, 'keyStorage.getItem'));
    if (!key) return null;
    let alg: AlgorithmInput | undefined = algorithm;
    if (alg === undefined) {
      alg = guessAlgorithm(await key.getAttributes(['keyType', 'sign', 'verify', 'encrypt', 'decrypt', 'wrap', 'unwrap', 'derive']));
      if (!alg) throw domError(`keyStorage.getItem: no WebCrypto algorithm for the key at '${index}'; name one`, 'NotSupportedError');
    }
    return Pkcs11CryptoKey.from(key, alg, { usages: keyUsages, extractable });
  }

  /**
   * Stores a key as a token object: a session key is copied (C_CopyObject with CKA_TOKEN true,
   * keeping or adding its CKA_ID), a token key is kept, a KeyObject-backed public key is created
   * on the token. Returns the key's index.
   */
  async setItem(key: Pkcs11CryptoKey, options: { label?: string } = {}): Promise<string> {
    const k = cryptoKey(key);
    const extra: TemplateObject = options.label === undefined ? {} : { label: options.label };
    if (k.keyObject) {
      const id = newKeyId();
      await importPublicKey(this.session, k.keyObject, {
        token: true,
        id,
        verify: k.usages.includes('verify'),
        encrypt: k.usages.includes('encrypt'),
        wrap: k.usages.includes('wrapKey'),
        ...extra,
      });
      return indexOfKey('public', id, 0);
    }
    const o = k.key as TokenKey;
    const a = await o.getAttributes(['token', 'id']);
    const id = a.id instanceof Buffer && a.id.length > 0 ? a.id : newKeyId();
    if (a.token === true) {
      if (id !== a.id || options.label !== undefined) await o.setAttributes({ id, ...extra });
      return indexOfKey(k.type, id, o.handle);
    }
    await o.copy({ token: true, id, ...extra });
    return indexOfKey(k.type, id, 0);
  }

  /** The index of a stored key (a token object, or a session key whose copy is stored), or null. */
  async indexOf(key: Pkcs11CryptoKey): Promise<string | null> {
    const k = cryptoKey(key);
    if (!k.key) return null;
    const { id, token } = await k.key.getAttributes(['id', 'token']);
    const index = indexOfKey(k.type, id, k.key.handle);
    if (token === true) return index;
    return id instanceof Buffer && id.length > 0 && (await this.objects(index)).length > 0 ? index : null;
  }

  /** Destroys the token keys stored under `index` (no error when there are none). */
  async removeItem(index: string): Promise<void> {
    for (const o of await this.objects(indexArg(index, 'keyStorage.removeItem'))) await o.destroy();
  }
}

function certificateArg(cert: unknown): X509Certificate {
  if (cert instanceof X509Certificate) return cert;
  if (typeof cert === 'string') return new X509Certificate(cert);
  // @peculiar/x509 certificates carry their DER as rawData.
  const raw = cert !== null && typeof cert === 'object' && 'rawData' in cert ? (cert as { rawData: unknown }).rawData : cert;
  try {
    return new X509Certificate(bytes(raw, 'certificate'));
  } catch (e) {
    if (e instanceof TypeError) throw new TypeError('certStorage: the certificate must be an X509Certificate, PEM, DER bytes or an object with rawData', { cause: e });
    throw domError(`certStorage: not an X.509 certificate (${(e as Error).message})`, 'DataError', e);
  }
}

function certIndex(der: Buffer): string {
  return `x509-${createHash('sha256').update(der).digest('hex')}`;
}

export class Pkcs11CertificateStorage {
  constructor(readonly session: Session) {}

  private async certificates(): Promise<Array<{ object: Pkcs11Object; der: Buffer }>> {
    const out: Array<{ object: Pkcs11Object; der: Buffer }> = [];
    for (const o of await this.session.findAll({ class: 'certificate', certificateType: 'x509', token: true })) {
      const { value } = await o.getAttributes(['value']);
      if (value instanceof Buffer) out.push({ object: o, der: value });
    }
    return out;
  }

  async keys(): Promise<string[]> {
    return [...new Set((await this.certificates()).map((c) => certIndex(c.der)))];
  }

  async getItem(index: string): Promise<X509Certificate | null> {
    indexArg(index, 'certStorage.getItem');
    const c = (await this.certificates()).find((x) => certIndex(x.der) === index);
    return c ? new X509Certificate(c.der) : null;
  }

  async indexOf(certificate: X509Certificate | Uint8Array | string): Promise<string | null> {
    const index = certIndex(certificateArg(certificate).raw);
    return (await this.keys()).includes(index) ? index : null;
  }

  /**
   * Stores a certificate as a token object (subject, issuer and serial from the certificate).
   * CKA_ID: `options.id`, else the id of the token public key with the same SPKI (so the
   * certificate sits beside its key, as pkcs11-tool and browsers expect), else none.
   */
  async setItem(certificate: X509Certificate | Uint8Array | string | { rawData: ArrayBuffer }, options: { label?: string; id?: Uint8Array } = {}): Promise<string> {
    const x = certificateArg(certificate);
    const index = certIndex(x.raw);
    if ((await this.keys()).includes(index)) return index;
    const id = options.id !== undefined ? Buffer.from(bytes(options.id, 'options.id')) : await this.keyIdFor(x);
    const template: TemplateObject = { token: true };
    if (id) template.id = id;
    if (options.label !== undefined) template.label = options.label;
    await storeCertificate(this.session, x, template);
    return index;
  }

  async removeItem(index: string): Promise<void> {
    indexArg(index, 'certStorage.removeItem');
    for (const c of await this.certificates()) if (certIndex(c.der) === index) await c.object.destroy();
  }

  /** The certificate stored under `index` as a Certificate object (attributes, URI …), or null. */
  async object(index: string): Promise<Certificate | null> {
    const c = (await this.certificates()).find((x) => certIndex(x.der) === index);
    return c ? new Certificate(this.session, c.object.handle) : null;
  }

  private async keyIdFor(x: X509Certificate): Promise<Buffer | undefined> {
    const spki = x.publicKey.export({ type: 'spki', format: 'der' });
    for (const o of await this.session.findAll({ class: 'publicKey', token: true })) {
      if (!(o instanceof PublicKey)) continue;
      const mine = await exportSpki(o, 'der').catch(() => undefined);
      if (!mine || !mine.equals(spki)) continue;
      const { id } = await o.getAttributes(['id']);
      if (id instanceof Buffer && id.length > 0) return id;
    }
    return undefined;
  }
}
