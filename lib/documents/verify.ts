// verifyCms: the round trip of signCms, and a check for CMS from elsewhere. For each SignerInfo:
// the signer's certificate (by issuer and serial, or subject key identifier), the content-type
// and message-digest attributes against the content (hashed as it streams for detached data), the
// signature over the signed attributes with node:crypto, and, given trust anchors, the chain.
import * as crypto from 'node:crypto';
import { AsnConvert } from '@peculiar/asn1-schema';
import { ContentInfo, SignedData, SignerInfo, id_contentType, id_messageDigest, id_signedData, id_signingTime, SigningTime } from '@peculiar/asn1-cms';
import { RsaSaPssParams } from '@peculiar/asn1-rsa';
import { AsnParser } from '@peculiar/asn1-schema';
import { BaseBlock, ObjectIdentifier, OctetString as AsnOctetString, fromBER } from 'asn1js';
import { checkInput, DocumentHash, DocumentInput, inMemory, nodeHashName } from './digest-stream';
import { CertificateInput, certificateList, ParsedCertificate, parsedCertificate } from './certificates';
import { HASH_BY_OID, nodeVerify, OID, SignatureKind } from './algorithms';
import { CmsFormatError } from './errors';

export interface VerifyCmsOptions {
  /** The content of a detached signature: bytes or a stream (hashed as it arrives). */
  data?: DocumentInput;
  /** Trust anchors: when given, each signer's certificate must chain to one of them. */
  trusted?: CertificateInput[];
  /** More certificates (intermediates, or the signer's when the CMS carries none). */
  certificates?: CertificateInput[];
  /** When certificates must be valid; default: the signing time, else now. */
  time?: Date;
}

export interface CmsSignerVerification {
  valid: boolean;
  /** Why not, when not valid. */
  reason?: string;
  certificate?: crypto.X509Certificate;
  signingTime?: Date;
  /** e.g. 'SHA-256'. */
  digest?: string;
  /** 'rsa-pkcs1', 'rsa-pss' or 'ecdsa'. */
  signature?: string;
}

export interface CmsVerification {
  /** Every signer valid (and at least one). */
  valid: boolean;
  signers: CmsSignerVerification[];
  /** eContentType (dotted OID). */
  contentType: string;
  /** The encapsulated content of an attached signature. */
  content?: Buffer;
}

function parseSignedData(der: Buffer): SignedData {
  try {
    const ci = AsnConvert.parse(der, ContentInfo);
    if (ci.contentType !== id_signedData) throw new CmsFormatError(`not SignedData (content type ${ci.contentType})`);
    return AsnConvert.parse(ci.content, SignedData);
  } catch (e) {
    if (e instanceof CmsFormatError) throw e;
    throw new CmsFormatError(`not a DER CMS ContentInfo: ${(e as Error).message}`);
  }
}

function cmsBytes(cms: unknown): Buffer {
  if (cms instanceof Uint8Array) return Buffer.from(cms.buffer, cms.byteOffset, cms.byteLength);
  if (typeof cms === 'string') {
    const m = /-----BEGIN (?:CMS|PKCS7)-----([\s\S]*?)-----END (?:CMS|PKCS7)-----/.exec(cms);
    if (m) return Buffer.from(m[1].replace(/\s+/g, ''), 'base64');
  }
  throw new TypeError("verifyCms: argument 'cms' must be the DER bytes or a PEM (-----BEGIN CMS----- / PKCS7) string");
}

/**
 * The encapsulated content: a plain OCTET STRING, or the constructed (BER, possibly
 * indefinite-length) one that streaming signers such as `openssl cms -sign -stream` write.
 */
function encapsulated(sd: SignedData): Buffer | undefined {
  const e = sd.encapContentInfo.eContent;
  if (!e) return undefined;
  if (e.single) return Buffer.from(e.single.buffer);
  if (e.any) {
    const r = fromBER(e.any);
    if (r.result instanceof AsnOctetString) return Buffer.from(r.result.getValue());
  }
  throw new CmsFormatError('the encapsulated content is not an OCTET STRING');
}

/** One pass over the content for every hash the signers use. */
async function digests(content: DocumentInput, hashes: Set<DocumentHash>): Promise<Map<DocumentHash, Buffer>> {
  const hs = [...hashes].map((h) => [h, crypto.createHash(nodeHashName(h))] as const);
  const mem = inMemory(content);
  if (mem) for (const [, h] of hs) h.update(mem);
  else for await (const c of content as AsyncIterable<Uint8Array | string>) for (const [, h] of hs) h.update(typeof c === 'string' ? Buffer.from(c) : c);
  return new Map(hs.map(([n, h]) => [n, h.digest()]));
}

/**
 * The signed attributes of each SignerInfo exactly as they were encoded (the signature covers
 * those bytes, whatever their order): @peculiar's parser keeps no raw copy of a SET OF field, so
 * the SignerInfos are read again with asn1js, which keeps every element's original encoding.
 */
function rawSignedAttributes(der: Buffer): (Buffer | undefined)[] {
  const ci = fromBER(der);
  const seq = (x: unknown): BaseBlock[] => ((x as { valueBlock?: { value?: unknown } })?.valueBlock?.value as BaseBlock[] | undefined) ?? [];
  const explicit = seq(ci.result)[1];
  const signedData = seq(explicit)[0];
  const infos = seq(signedData).at(-1);
  return seq(infos).map((si) => {
    const a = seq(si).find((e) => e.idBlock.tagClass === 3 && e.idBlock.tagNumber === 0);
    return a ? Buffer.from(a.valueBeforeDecodeView) : undefined;
  });
}

function attr(si: SignerInfo, type: string): ArrayBuffer | undefined {
  const a = si.signedAttrs?.find((x) => x.attrType === type);
  return a?.attrValues.length === 1 ? a.attrValues[0] : undefined;
}

function sameBytes(a: ArrayBuffer, b: ArrayBuffer): boolean {
  return Buffer.from(a).equals(Buffer.from(b));
}

function signerCertificate(si: SignerInfo, certs: ParsedCertificate[]): ParsedCertificate | undefined {
  const ias = si.sid.issuerAndSerialNumber;
  if (ias) {
    const issuer = AsnConvert.serialize(ias.issuer);
    return certs.find((c) => sameBytes(c.asn.tbsCertificate.serialNumber, ias.serialNumber) && sameBytes(AsnConvert.serialize(c.asn.tbsCertificate.issuer), issuer));
  }
  const ski = si.sid.subjectKeyIdentifier;
  if (ski) {
    const want = Buffer.from(ski.buffer).toString('hex');
    return certs.find((c) => {
      const ext = c.asn.tbsCertificate.extensions?.find((e) => e.extnID === '2.5.29.14');
      if (!ext) return false;
      const inner = fromBER(ext.extnValue.buffer);
      return inner.result instanceof AsnOctetString && Buffer.from(inner.result.valueBlock.valueHexView).toString('hex') === want;
    });
  }
  return undefined;
}

/** The signature kind, hash and PSS salt a SignerInfo names. */
function algorithmOf(si: SignerInfo, digest: DocumentHash): { kind: SignatureKind; hash: DocumentHash; salt?: number } | string {
  const oid = si.signatureAlgorithm.algorithm;
  const byName: Record<string, [SignatureKind, DocumentHash | undefined]> = {
    [OID.rsaEncryption]: ['rsa-pkcs1', undefined],
    '1.2.840.113549.1.1.11': ['rsa-pkcs1', 'SHA-256'],
    '1.2.840.113549.1.1.12': ['rsa-pkcs1', 'SHA-384'],
    '1.2.840.113549.1.1.13': ['rsa-pkcs1', 'SHA-512'],
    [OID.ecPublicKey]: ['ecdsa', undefined],
    '1.2.840.10045.4.3.2': ['ecdsa', 'SHA-256'],
    '1.2.840.10045.4.3.3': ['ecdsa', 'SHA-384'],
    '1.2.840.10045.4.3.4': ['ecdsa', 'SHA-512'],
  };
  if (oid === OID.rsassaPss) {
    if (!si.signatureAlgorithm.parameters) return 'RSASSA-PSS without parameters';
    const p = AsnParser.parse(si.signatureAlgorithm.parameters, RsaSaPssParams);
    const hash = HASH_BY_OID[p.hashAlgorithm.algorithm];
    if (!hash) return `RSASSA-PSS with an unsupported hash (${p.hashAlgorithm.algorithm})`;
    return { kind: 'rsa-pss', hash, salt: p.saltLength };
  }
  const known = byName[oid];
  if (!known) return `unsupported signature algorithm ${oid}`;
  return { kind: known[0], hash: known[1] ?? digest };
}

function validAt(c: crypto.X509Certificate, t: Date): boolean {
  return new Date(c.validFrom) <= t && t <= new Date(c.validTo);
}

/** A chain from `leaf` to a trust anchor through `pool`, each link checked; a reason when there is none. */
function chainReason(leaf: crypto.X509Certificate, pool: crypto.X509Certificate[], trusted: crypto.X509Certificate[], t: Date): string | undefined {
  let cur = leaf;
  for (let depth = 0; depth < 10; depth++) {
    if (!validAt(cur, t)) return `certificate '${cur.subject.replace(/\n/g, ', ')}' is not valid at ${t.toISOString()}`;
    if (trusted.some((a) => a.raw.equals(cur.raw))) return undefined;
    const issuer = [...trusted, ...pool].find((c) => cur.checkIssued(c) && cur.verify(c.publicKey));
    if (!issuer) return `no trusted issuer for '${cur.subject.replace(/\n/g, ', ')}'`;
    if (trusted.some((a) => a.raw.equals(issuer.raw))) return validAt(issuer, t) ? undefined : 'the trust anchor is not valid at the signing time';
    if (issuer.ca !== true) return `'${issuer.subject.replace(/\n/g, ', ')}' is not a CA`;
    cur = issuer;
  }
  return 'the certificate chain is too long';
}

/**
 * Verifies CMS SignedData (DER bytes or PEM). An invalid signature, digest or chain is
 * `valid: false` with a reason per signer; only unreadable input throws (CmsFormatError).
 */
export async function verifyCms(cms: Uint8Array | string, options: VerifyCmsOptions = {}): Promise<CmsVerification> {
  const der = cmsBytes(cms);
  if (options === null || typeof options !== 'object') throw new TypeError("verifyCms: argument 'options' must be an object");
  const sd = parseSignedData(der);
  const embedded = encapsulated(sd);
  if (options.data !== undefined && embedded) throw new TypeError("verifyCms: option 'data' is for detached signatures; this one carries its content");
  const content = options.data !== undefined ? checkInput('verifyCms', options.data, 'options.data') : embedded;
  if (content === undefined) throw new TypeError("verifyCms: the signature is detached: give the content as option 'data'");
  if (options.time !== undefined && !(options.time instanceof Date)) throw new TypeError("verifyCms: option 'time' must be a Date");
  const own = (sd.certificates ?? []).flatMap((c) => (c.certificate ? [parsedCertificate(new crypto.X509Certificate(Buffer.from(AsnConvert.serialize(c.certificate))))] : []));
  const extra = await certificateList('verifyCms', 'certificates', options.certificates);
  const trusted = (await certificateList('verifyCms', 'trusted', options.trusted)).map((c) => c.x509);
  const certs = [...own, ...extra];
  const signerInfos = [...sd.signerInfos];
  if (signerInfos.length === 0) throw new CmsFormatError('the SignedData has no SignerInfo');

  const needed = new Set<DocumentHash>();
  for (const si of signerInfos) {
    const h = HASH_BY_OID[si.digestAlgorithm.algorithm];
    if (h) needed.add(h);
  }
  const computed = await digests(content, needed);

  const raws = rawSignedAttributes(der);
  const results: CmsSignerVerification[] = signerInfos.map((si, i) => {
    const hash = HASH_BY_OID[si.digestAlgorithm.algorithm];
    const r: CmsSignerVerification = { valid: false, digest: hash ?? si.digestAlgorithm.algorithm };
    const cert = signerCertificate(si, certs);
    if (cert) r.certificate = cert.x509;
    const st = attr(si, id_signingTime);
    if (st) r.signingTime = AsnConvert.parse(st, SigningTime).getTime();
    const fail = (reason: string): CmsSignerVerification => ({ ...r, reason });
    if (!hash) return fail(`unsupported digest algorithm ${si.digestAlgorithm.algorithm}`);
    if (!cert) return fail("the signer's certificate is not in the CMS nor in options.certificates");
    const rawAttrs = raws[i];
    if (!si.signedAttrs || !rawAttrs) return fail('no signed attributes (CAdES needs them; not supported here)');
    const ct = attr(si, id_contentType);
    const ctOid = ct ? fromBER(ct).result : undefined;
    if (!(ctOid instanceof ObjectIdentifier) || ctOid.valueBlock.toString() !== sd.encapContentInfo.eContentType)
      return fail('the content-type attribute does not match the content');
    const md = attr(si, id_messageDigest);
    const mdValue = md ? fromBER(md).result : undefined;
    if (!(mdValue instanceof AsnOctetString) || !Buffer.from(mdValue.valueBlock.valueHexView).equals(computed.get(hash)!))
      return fail('the message digest does not match the content');
    const alg = algorithmOf(si, hash);
    if (typeof alg === 'string') return fail(alg);
    r.signature = alg.kind;
    // The signature covers the attributes as a SET OF (tag 0x31), not as the [0] IMPLICIT field.
    const tbs = Buffer.from(rawAttrs);
    tbs[0] = 0x31;
    if (!nodeVerify(alg.kind, alg.hash, cert.x509.publicKey, tbs, Buffer.from(si.signature.buffer), alg.salt)) return fail('the signature does not verify with the certificate');
    if (options.trusted !== undefined) {
      const why = chainReason(
        cert.x509,
        certs.map((c) => c.x509),
        trusted,
        options.time ?? r.signingTime ?? new Date(),
      );
      if (why) return fail(why);
    }
    return { ...r, valid: true };
  });
  return {
    valid: results.length > 0 && results.every((r) => r.valid),
    signers: results,
    contentType: sd.encapContentInfo.eContentType,
    content: embedded,
  };
}
