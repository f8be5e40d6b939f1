// Which signature a token key makes for CMS, and how it is named there: the PKCS#11 mechanism,
// the CMS signatureAlgorithm (with RSASSA-PSS parameters for PSS), and the node:crypto check that
// the signature verifies with the certificate's public key.
import * as crypto from 'node:crypto';
import { AsnConvert } from '@peculiar/asn1-schema';
import { AlgorithmIdentifier } from '@peculiar/asn1-x509';
import { RsaSaPssParams, id_RSASSA_PSS, id_mgf1 } from '@peculiar/asn1-rsa';
import type { MechanismSpec } from '../mechanisms';
import { DocumentHash, HASH_BYTES, nodeHashName } from './digest-stream';

/** RSA signature scheme: PKCS#1 v1.5 (the default, what most portals expect) or PSS. */
export type RsaScheme = 'pkcs1' | 'pss';

/** @internal The key's kind of signature. */
export type SignatureKind = 'rsa-pkcs1' | 'rsa-pss' | 'ecdsa';

/** @internal Hash OIDs (NIST). */
export const HASH_OID: Record<DocumentHash, string> = {
  'SHA-256': '2.16.840.1.101.3.4.2.1',
  'SHA-384': '2.16.840.1.101.3.4.2.2',
  'SHA-512': '2.16.840.1.101.3.4.2.3',
};
/** @internal */
export const HASH_BY_OID: Record<string, DocumentHash> = Object.fromEntries(Object.entries(HASH_OID).map(([k, v]) => [v, k as DocumentHash]));

const RSA_OID: Record<DocumentHash, string> = { 'SHA-256': '1.2.840.113549.1.1.11', 'SHA-384': '1.2.840.113549.1.1.12', 'SHA-512': '1.2.840.113549.1.1.13' };
const ECDSA_OID: Record<DocumentHash, string> = { 'SHA-256': '1.2.840.10045.4.3.2', 'SHA-384': '1.2.840.10045.4.3.3', 'SHA-512': '1.2.840.10045.4.3.4' };
/** @internal */
export const OID = {
  rsaEncryption: '1.2.840.113549.1.1.1',
  ecPublicKey: '1.2.840.10045.2.1',
  rsassaPss: id_RSASSA_PSS,
  mgf1: id_mgf1,
};

/** @internal A digest AlgorithmIdentifier (parameters absent, as RFC 5754 prefers). */
export function digestAlgorithm(h: DocumentHash): AlgorithmIdentifier {
  return new AlgorithmIdentifier({ algorithm: HASH_OID[h] });
}

/** @internal The signatureAlgorithm of a SignerInfo. */
export function signatureAlgorithm(kind: SignatureKind, h: DocumentHash): AlgorithmIdentifier {
  switch (kind) {
    case 'rsa-pkcs1':
      return new AlgorithmIdentifier({ algorithm: RSA_OID[h], parameters: null });
    case 'ecdsa':
      return new AlgorithmIdentifier({ algorithm: ECDSA_OID[h] });
    case 'rsa-pss': {
      // RFC 4056: the hash, MGF1 with the same hash, salt the hash's length; trailerField default.
      const hashAlg = new AlgorithmIdentifier({ algorithm: HASH_OID[h], parameters: null });
      const params = new RsaSaPssParams({
        hashAlgorithm: hashAlg,
        maskGenAlgorithm: new AlgorithmIdentifier({ algorithm: id_mgf1, parameters: AsnConvert.serialize(hashAlg) }),
        saltLength: HASH_BYTES[h],
      });
      return new AlgorithmIdentifier({ algorithm: id_RSASSA_PSS, parameters: AsnConvert.serialize(params) });
    }
  }
}

/** @internal The token mechanism that signs the DER of the signed attributes. */
export function mechanismFor(kind: SignatureKind, h: DocumentHash): MechanismSpec {
  if (kind === 'rsa-pkcs1') return { name: 'RSASSA-PKCS1-v1_5', hash: h };
  if (kind === 'rsa-pss') return { name: 'RSA-PSS', hash: h, saltLength: HASH_BYTES[h] };
  return { name: 'ECDSA', hash: h };
}

/** @internal The signature kind for a PKCS#11 key type. */
export function kindOf(what: string, keyType: unknown, scheme: RsaScheme | undefined): SignatureKind {
  if (scheme !== undefined && scheme !== 'pkcs1' && scheme !== 'pss') throw new RangeError(`${what}: option 'rsaScheme' must be 'pkcs1' or 'pss'`);
  if (keyType === 'rsa') return scheme === 'pss' ? 'rsa-pss' : 'rsa-pkcs1';
  if (scheme !== undefined) throw new RangeError(`${what}: option 'rsaScheme' is for RSA keys (the key is '${String(keyType)}')`);
  if (keyType === 'ec') return 'ecdsa';
  // Ed25519 CMS (RFC 8419) is left out: OpenSSL 3.0, the verifier at hand, can neither make nor
  // check it ("no default digest" / "invalid digest"), so nothing independent would test it.
  throw new RangeError(`${what}: the key type '${String(keyType)}' cannot sign here (RSA and EC keys can)`);
}

/** @internal Verifies `signature` over `data` with node:crypto, as a CMS verifier would. */
export function nodeVerify(kind: SignatureKind, h: DocumentHash, key: crypto.KeyObject, data: Uint8Array, signature: Uint8Array, saltLength?: number): boolean {
  try {
    if (kind === 'ecdsa') return crypto.verify(nodeHashName(h), data, { key, dsaEncoding: 'der' }, signature);
    if (kind === 'rsa-pss')
      return crypto.verify(nodeHashName(h), data, { key, padding: crypto.constants.RSA_PKCS1_PSS_PADDING, saltLength: saltLength ?? HASH_BYTES[h] }, signature);
    return crypto.verify(nodeHashName(h), data, key, signature);
  } catch {
    // a key of the wrong type or a malformed signature: not valid
    return false;
  }
}
