// XAdES-BES (ETSI TS 101 903 v1.3.2 / EN 319 132-1 BES level) enveloped XML signatures with a
// token key, on xadesjs. The key goes in as a CryptoKey of p11bridge's WebCrypto provider
// (Pkcs11CryptoKey over the PrivateKey); xadesjs's engine is node's WebCrypto except `sign` with
// such a key, which runs on the token (with the context PIN for CKA_ALWAYS_AUTHENTICATE keys).
// Hashing the XML (digest) stays in node: the token sees only the SignedInfo.
import * as crypto from 'node:crypto';
import * as xadesjs from 'xadesjs';
import * as xmldom from '@xmldom/xmldom';
import xpath from 'xpath';
import { Pkcs11Crypto, Pkcs11CryptoKey } from '../interop/webcrypto';
import type { Pin } from '../binding/raw-types';
import type { MechanismSpec } from '../mechanisms';
import type { CertificateInput } from './certificates';
import { prepare } from './cms';
import type { DocumentHash } from './digest-stream';
import { CertificateMismatchError } from './errors';
import type { PrivateKey } from '../objects/keys';

xadesjs.setNodeDependencies({
  XMLSerializer: xmldom.XMLSerializer,
  DOMParser: xmldom.DOMParser,
  DOMImplementation: xmldom.DOMImplementation,
  xpath,
} as never);

/** Context PINs of the token keys being used, by their CryptoKey (only during signXml). */
const contextPins = new WeakMap<Pkcs11CryptoKey, Pin>();
const node = crypto.webcrypto.subtle;

function tokenSpec(alg: { name: string; hash?: unknown }, key: Pkcs11CryptoKey): MechanismSpec {
  const hashOf = (h: unknown): DocumentHash => (typeof h === 'string' ? h : (h as { name: string }).name) as DocumentHash;
  if (alg.name === 'ECDSA') return { name: 'ECDSA', hash: hashOf(alg.hash) };
  const keyHash = hashOf((key.algorithm as { hash: { name: string } }).hash);
  if (alg.name === 'RSA-PSS') return { name: 'RSA-PSS', hash: keyHash, saltLength: (alg as { saltLength?: number }).saltLength };
  return { name: 'RSASSA-PKCS1-v1_5', hash: keyHash };
}

// xadesjs takes one engine for the process; this one is node's WebCrypto for everything but
// token keys, so setting it does not change what xadesjs does with other keys.
const subtle = new Proxy(node, {
  get(target, prop) {
    if (prop === 'sign') {
      return async (alg: { name: string; hash?: unknown }, key: unknown, data: BufferSource): Promise<ArrayBuffer> => {
        if (!(key instanceof Pkcs11CryptoKey)) return target.sign(alg as never, key as crypto.webcrypto.CryptoKey, data);
        const pin = contextPins.get(key);
        if (pin === undefined) return new Pkcs11Crypto(key.key!.session).subtle.sign(alg, key, data as ArrayBuffer);
        const bytes = ArrayBuffer.isView(data) ? Buffer.from(data.buffer, data.byteOffset, data.byteLength) : Buffer.from(data as ArrayBuffer);
        const sig = await (key.key as PrivateKey).sign(tokenSpec(alg, key), bytes, { contextPin: pin });
        return sig.buffer.slice(sig.byteOffset, sig.byteOffset + sig.byteLength) as ArrayBuffer;
      };
    }
    const v = Reflect.get(target, prop) as unknown;
    return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
  },
});
const engine = { subtle, getRandomValues: crypto.webcrypto.getRandomValues.bind(crypto.webcrypto) } as unknown as Crypto;

export interface SignXmlOptions {
  key: PrivateKey;
  /** The signer's certificate; default: the X.509 certificate on the token with the key's CKA_ID. */
  certificate?: CertificateInput;
  /** More certificates for KeyInfo/X509Data (intermediates). */
  chain?: CertificateInput[];
  /** SHA-256 (default), SHA-384 or SHA-512: references, certificate digest and signature. */
  digest?: DocumentHash;
  /** SigningTime (always present: XAdES baseline signatures require it): a Date, or now by default. */
  signingTime?: Date | true;
  /** The context PIN for a key with CKA_ALWAYS_AUTHENTICATE. */
  contextPin?: Pin;
  signal?: AbortSignal;
}

type Sign = (algorithm: object, key: unknown, data: unknown, options: object) => Promise<unknown>;

/**
 * Signs an XML document (string or UTF-8 bytes) with an enveloped XAdES-BES signature: a
 * ds:Signature as the last child of the root element, over the whole document (enveloped + C14N
 * transforms), with the signer's certificate in KeyInfo and SigningCertificate (+ SigningTime) in
 * the signed properties. RSA PKCS#1 v1.5 and ECDSA keys. Returns the signed XML as a string.
 */
export async function signXml(xml: string | Uint8Array, options: SignXmlOptions): Promise<string> {
  if (typeof xml !== 'string' && !(xml instanceof Uint8Array)) throw new TypeError("signXml: argument 'xml' must be a string or UTF-8 bytes");
  if (options !== null && typeof options === 'object' && (options as { rsaScheme?: unknown }).rsaScheme !== undefined)
    throw new RangeError("signXml: option 'rsaScheme' is not supported (RSA signs PKCS#1 v1.5)");
  if (options !== null && typeof options === 'object' && options.signingTime === (false as never))
    throw new RangeError("signXml: option 'signingTime' cannot be false (XAdES signatures carry SigningTime)");
  const p = await prepare('signXml', { ...options, signingTime: options?.signingTime ?? true });
  const text = typeof xml === 'string' ? xml : Buffer.from(xml.buffer, xml.byteOffset, xml.byteLength).toString('utf8');
  let doc: Document;
  try {
    // xmldom's own parser with an error handler: xadesjs.Parse would print fatal errors to the console.
    const parser = new xmldom.DOMParser({
      onError: (level: string, message: string) => {
        if (level !== 'warning') throw new Error(message);
      },
    });
    doc = parser.parseFromString(text, 'application/xml') as unknown as Document;
  } catch (e) {
    throw new TypeError(`signXml: argument 'xml' is not well-formed XML (${(e as Error).message})`, { cause: e });
  }
  if (!doc?.documentElement) throw new TypeError("signXml: argument 'xml' has no root element");
  const rsa = p.kind === 'rsa-pkcs1';
  const key = await Pkcs11CryptoKey.from(p.key, rsa ? { name: 'RSASSA-PKCS1-v1_5', hash: p.hash } : { name: 'ECDSA' }, { usages: ['sign'] });
  if (options.contextPin !== undefined) contextPins.set(key, options.contextPin);
  const certB64 = p.cert.der.toString('base64');
  xadesjs.Application.setEngine('p11bridge', engine);
  try {
    const signed = new xadesjs.SignedXml();
    const signature = await (signed.Sign.bind(signed) as unknown as Sign)(rsa ? { name: 'RSASSA-PKCS1-v1_5' } : { name: 'ECDSA', hash: { name: p.hash } }, key, doc, {
      references: [{ hash: p.hash, transforms: ['enveloped', 'c14n'] }],
      x509: [certB64, ...p.chain.filter((c) => !c.der.equals(p.cert.der)).map((c) => c.der.toString('base64'))],
      signingCertificate: { certificate: certB64, digestAlgorithm: p.hash },
      signingTime: { value: p.time ?? new Date() },
    });
    options.signal?.throwIfAborted();
    doc.documentElement.appendChild((signature as { GetXml(): Node }).GetXml());
  } finally {
    contextPins.delete(key);
  }
  const out = new xmldom.XMLSerializer().serializeToString(doc as never);
  // The same check as signCms: a certificate not of the key gives a signature nobody accepts.
  const verify = new xadesjs.SignedXml(xadesjs.Parse(out) as never);
  const sigEl = (xadesjs.Parse(out) as unknown as Document).getElementsByTagNameNS('http://www.w3.org/2000/09/xmldsig#', 'Signature')[0];
  verify.LoadXml(sigEl as never);
  let verified = false;
  let cause: unknown;
  try {
    verified = await verify.Verify();
  } catch (e) {
    cause = e; // xmldsigjs throws on a reference mismatch, returns false on a bad signature
  }
  if (!verified) throw new CertificateMismatchError("the XML signature does not verify with the certificate's public key: the certificate is not the key's", { cause });
  return out;
}
