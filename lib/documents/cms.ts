// signCms: CMS SignedData (RFC 5652) with a token key, CAdES-BES (ETSI EN 319 122-1) signed
// attributes: content-type, message-digest, signing-time and ESS signing-certificate-v2. The
// content is hashed in node:crypto as it streams (the token only ever sees the few hundred bytes
// of signed attributes), so a multi-GB file costs one pass and no memory; only an attached
// signature keeps the content, because it goes into the output.
import * as crypto from 'node:crypto';
import { AsnConvert, OctetString } from '@peculiar/asn1-schema';
import {
  Attribute,
  CertificateChoices,
  CertificateSet,
  CMSVersion,
  ContentInfo,
  DigestAlgorithmIdentifiers,
  EncapsulatedContent,
  EncapsulatedContentInfo,
  IssuerAndSerialNumber,
  SignedData,
  SignerIdentifier,
  SignerInfo,
  SignerInfos,
  id_contentType,
  id_data,
  id_messageDigest,
  id_signedData,
  id_signingTime,
  SigningTime,
} from '@peculiar/asn1-cms';
import { GeneralName, GeneralNames } from '@peculiar/asn1-x509';
import { ObjectIdentifier } from 'asn1js';
import { PrivateKey } from '../objects/keys';
import type { Pin } from '../binding/raw-types';
import { ecdsaToDer } from '../interop/keyobject';
import { checkInput, digestInput, DocumentHash, DocumentInput, documentHash, nodeHashName } from './digest-stream';
import { CertificateInput, certificateList, certificateOf, findKeyCertificate, ParsedCertificate, parsedCertificate } from './certificates';
import { digestAlgorithm, kindOf, mechanismFor, nodeVerify, RsaScheme, signatureAlgorithm, SignatureKind } from './algorithms';
import { EssCertIdV2, ID_SIGNING_CERTIFICATE_V2, IssuerSerial, SignedAttributeSet, SigningCertificateV2 } from './ess';
import { CertificateMismatchError } from './errors';

export interface SignCmsOptions {
  /** The token's private key. */
  key: PrivateKey;
  /** The signer's certificate; default: the X.509 certificate on the token with the key's CKA_ID. */
  certificate?: CertificateInput;
  /** Intermediate (and root) certificates to include, for verifiers that build the chain. */
  chain?: CertificateInput[];
  /** Detached (the default: the content is not in the output) or attached (encapsulated). */
  detached?: boolean;
  /** SHA-256 (default), SHA-384 or SHA-512. */
  digest?: DocumentHash;
  /** The signing-time attribute: a Date, true for now (the default), false to leave it out (PAdES). */
  signingTime?: Date | boolean;
  /** eContentType as a dotted OID; default id-data (1.2.840.113549.1.7.1). */
  contentType?: string;
  /** RSA keys: 'pkcs1' (default) or 'pss' (RSASSA-PSS, salt = hash length). */
  rsaScheme?: RsaScheme;
  /** The context PIN for a key with CKA_ALWAYS_AUTHENTICATE (asked for again at every signature). */
  contextPin?: Pin;
  /** Leave out ESS signing-certificate-v2 (plain CMS rather than CAdES-BES). */
  noSigningCertificate?: boolean;
  /** Called with each chunk's size while the content is hashed (progress). */
  onProgress?: (bytes: number) => void;
  signal?: AbortSignal;
}

export interface SignedCms {
  /** The DER of the ContentInfo (what `openssl cms -inform DER` reads). */
  der: Buffer;
  /** The message digest of the content. */
  digest: Buffer;
  /** Bytes of content hashed. */
  length: number;
  /** The signer's certificate. */
  certificate: crypto.X509Certificate;
}

function attribute(type: string, value: ArrayBuffer): Attribute {
  return new Attribute({ attrType: type, attrValues: [value] });
}

/** Sorted by their DER, as DER wants a SET OF (X.690 §11.6). */
function derSorted(attrs: Attribute[]): Attribute[] {
  const enc = attrs.map((a) => ({ a, der: Buffer.from(AsnConvert.serialize(a)) }));
  enc.sort((x, y) => Buffer.compare(x.der, y.der));
  return enc.map((x) => x.a);
}

function signingCertificateV2(cert: ParsedCertificate, h: DocumentHash): ArrayBuffer {
  const issuerSerial = new IssuerSerial({
    issuer: new GeneralNames([new GeneralName({ directoryName: cert.asn.tbsCertificate.issuer })]),
    serialNumber: cert.asn.tbsCertificate.serialNumber,
  });
  const id = new EssCertIdV2({
    hashAlgorithm: h === 'SHA-256' ? undefined : digestAlgorithm(h),
    certHash: new OctetString(crypto.createHash(nodeHashName(h)).update(cert.der).digest()),
    issuerSerial,
  });
  return AsnConvert.serialize(new SigningCertificateV2({ certs: [id] }));
}

function timeOf(what: string, t: unknown): Date | undefined {
  if (t === undefined || t === true) return new Date();
  if (t === false) return undefined;
  if (t instanceof Date && !Number.isNaN(t.getTime())) return t;
  throw new TypeError(`${what}: option 'signingTime' must be a Date or a boolean`);
}

function checkOid(what: string, oid: unknown): string {
  if (oid === undefined) return id_data;
  if (typeof oid !== 'string' || !/^[0-2](\.\d+)+$/.test(oid)) throw new TypeError(`${what}: option 'contentType' must be a dotted OID string`);
  return oid;
}

/** @internal The checked options, the certificate and the signature kind, shared by signCms and the PDF signer. */
export interface Prepared {
  key: PrivateKey;
  cert: ParsedCertificate;
  chain: ParsedCertificate[];
  hash: DocumentHash;
  kind: SignatureKind;
  time: Date | undefined;
  contentType: string;
}

/** @internal */
export async function prepare(what: string, options: SignCmsOptions): Promise<Prepared> {
  if (options === null || typeof options !== 'object') throw new TypeError(`${what}: argument 'options' must be an object with at least 'key'`);
  const key = options.key;
  if (!(key instanceof PrivateKey)) throw new TypeError(`${what}: option 'key' must be a PrivateKey (session.find … or findByUri)`);
  const hash = documentHash(what, options.digest);
  const time = timeOf(what, options.signingTime);
  const contentType = checkOid(what, options.contentType);
  const a = await key.getAttributes(['keyType', 'alwaysAuthenticate']);
  const kind = kindOf(what, a.keyType, options.rsaScheme);
  if (a.alwaysAuthenticate === true && options.contextPin === undefined) {
    throw new TypeError(`${what}: the key has CKA_ALWAYS_AUTHENTICATE, so it needs option 'contextPin' (the PIN again, for each signature)`);
  }
  let cert: ParsedCertificate;
  if (options.certificate !== undefined) cert = await certificateOf(what, 'certificate', options.certificate);
  else {
    const found = await findKeyCertificate(key);
    if (!found) throw new TypeError(`${what}: no option 'certificate' and no X.509 certificate on the token with the key's CKA_ID`);
    cert = parsedCertificate(found);
  }
  const chain = await certificateList(what, 'chain', options.chain);
  return { key, cert, chain, hash, kind, time, contentType };
}

/**
 * @internal Signs a message digest: builds the signed attributes, has the token sign their DER,
 * checks the signature with the certificate's public key, and returns the ContentInfo's DER.
 */
export async function signDigest(p: Prepared, digest: Buffer, content: Buffer | undefined, options: SignCmsOptions): Promise<Buffer> {
  const attrs = [
    attribute(id_contentType, new ObjectIdentifier({ value: p.contentType }).toBER(false)),
    attribute(id_messageDigest, AsnConvert.serialize(new OctetString(digest))),
  ];
  if (p.time) attrs.push(attribute(id_signingTime, AsnConvert.serialize(new SigningTime(p.time))));
  if (!options.noSigningCertificate) attrs.push(attribute(ID_SIGNING_CERTIFICATE_V2, signingCertificateV2(p.cert, p.hash)));
  const signedAttrs = derSorted(attrs);
  const tbs = Buffer.from(AsnConvert.serialize(new SignedAttributeSet(signedAttrs)));
  const raw = await p.key.sign(mechanismFor(p.kind, p.hash), tbs, { contextPin: options.contextPin, signal: options.signal });
  const signature = p.kind === 'ecdsa' ? ecdsaToDer(raw) : raw;
  // A certificate that is not the key's makes a signature no verifier accepts (pkcs11js #65):
  // better to say so here than to hand out a document that shows as invalid.
  if (!nodeVerify(p.kind, p.hash, p.cert.x509.publicKey, tbs, signature)) {
    throw new CertificateMismatchError("the signature does not verify with the certificate's public key: the certificate is not the key's");
  }
  const signer = new SignerInfo({
    version: CMSVersion.v1,
    sid: new SignerIdentifier({
      issuerAndSerialNumber: new IssuerAndSerialNumber({ issuer: p.cert.asn.tbsCertificate.issuer, serialNumber: p.cert.asn.tbsCertificate.serialNumber }),
    }),
    digestAlgorithm: digestAlgorithm(p.hash),
    signedAttrs,
    signatureAlgorithm: signatureAlgorithm(p.kind, p.hash),
    signature: new OctetString(signature),
  });
  const certs = [p.cert, ...p.chain.filter((c) => !c.der.equals(p.cert.der))];
  const signedData = new SignedData({
    // RFC 5652 §5.1: v1 for id-data content with v1 SignerInfos and plain certificates, else v3.
    version: p.contentType === id_data ? CMSVersion.v1 : CMSVersion.v3,
    digestAlgorithms: new DigestAlgorithmIdentifiers([digestAlgorithm(p.hash)]),
    encapContentInfo: new EncapsulatedContentInfo({
      eContentType: p.contentType,
      eContent: content ? new EncapsulatedContent({ single: new OctetString(content) }) : undefined,
    }),
    certificates: new CertificateSet(certs.map((c) => new CertificateChoices({ certificate: c.asn }))),
    signerInfos: new SignerInfos([signer]),
  });
  return Buffer.from(AsnConvert.serialize(new ContentInfo({ contentType: id_signedData, content: AsnConvert.serialize(signedData) })));
}

/**
 * Signs `data` (bytes, or a stream / async iterable of chunks, hashed as it arrives) with a token
 * key: CMS SignedData with CAdES-BES signed attributes, detached unless `detached: false`.
 * RSA PKCS#1 v1.5 (default) or RSASSA-PSS (`rsaScheme: 'pss'`), ECDSA (DER signature).
 * The signature is checked against the certificate before it is returned
 * (CertificateMismatchError when the certificate is not the key's).
 */
export async function signCms(data: DocumentInput, options: SignCmsOptions): Promise<SignedCms> {
  const input = checkInput('signCms', data);
  const p = await prepare('signCms', options);
  if (options.detached !== undefined && typeof options.detached !== 'boolean') throw new TypeError("signCms: option 'detached' must be a boolean");
  if (options.onProgress !== undefined && typeof options.onProgress !== 'function') throw new TypeError("signCms: option 'onProgress' must be a function");
  const attached = options.detached === false;
  const d = await digestInput(input, p.hash, { keep: attached, onChunk: options.onProgress });
  options.signal?.throwIfAborted();
  const der = await signDigest(p, d.digest, attached ? d.content : undefined, options);
  return { der, digest: d.digest, length: d.length, certificate: p.cert.x509 };
}
