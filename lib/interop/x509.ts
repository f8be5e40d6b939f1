// node:crypto X509Certificate ↔ PKCS#11 certificate objects. node:crypto gives the DER of the
// whole certificate (x509.raw) but not of its names, and PKCS#11 (and SoftHSM, which requires
// CKA_SUBJECT) wants the DER subject, issuer and serial number: a few TLVs of tbsCertificate are
// walked here to cut them out. Nothing is re-encoded.
import { X509Certificate } from 'node:crypto';
import { Certificate } from '../objects/certificate';
import { Pkcs11Object } from '../objects/object';
import { Session } from '../session';
import type { TemplateObject } from '../template/attributes';

interface Tlv {
  start: number;
  body: number;
  end: number;
}

function tlv(der: Buffer, at: number, tag?: number): Tlv {
  if (at + 2 > der.length) throw new RangeError('certificate DER is truncated');
  if (tag !== undefined && der[at] !== tag) throw new RangeError(`certificate DER: expected tag 0x${tag.toString(16)} at offset ${at}, got 0x${der[at].toString(16)}`);
  let len = der[at + 1];
  let body = at + 2;
  if (len & 0x80) {
    const n = len & 0x7f;
    if (n < 1 || n > 4 || body + n > der.length) throw new RangeError(`certificate DER: bad length at offset ${at}`);
    len = der.readUIntBE(body, n);
    body += n;
  }
  if (body + len > der.length) throw new RangeError('certificate DER is truncated');
  return { start: at, body, end: body + len };
}

/** The DER fields PKCS#11 keeps on an X.509 certificate object, cut from the certificate's DER. */
export interface CertificateFields {
  /** CKA_SUBJECT: the subject Name (DER). */
  subject: Buffer;
  /** CKA_ISSUER: the issuer Name (DER). */
  issuer: Buffer;
  /** CKA_SERIAL_NUMBER: the serial number's DER INTEGER (tag and length included, as PKCS#11 says). */
  serialNumber: Buffer;
}

/**
 * Subject, issuer and serial number of a DER certificate. Certificate ::= SEQUENCE {
 * tbsCertificate SEQUENCE { [0] version OPTIONAL, serialNumber, signature, issuer, validity,
 * subject, … }, … }.
 */
export function certificateFields(der: Uint8Array): CertificateFields {
  const b = Buffer.from(der.buffer, der.byteOffset, der.byteLength);
  const cert = tlv(b, 0, 0x30);
  const tbs = tlv(b, cert.body, 0x30);
  let at = tbs.body;
  if (b[at] === 0xa0) at = tlv(b, at).end;
  const serial = tlv(b, at, 0x02);
  const signature = tlv(b, serial.end, 0x30);
  const issuer = tlv(b, signature.end, 0x30);
  const validity = tlv(b, issuer.end, 0x30);
  const subject = tlv(b, validity.end, 0x30);
  if (subject.end > tbs.end) throw new RangeError('certificate DER: subject runs past tbsCertificate');
  const cut = (t: Tlv) => Buffer.from(b.subarray(t.start, t.end));
  return { subject: cut(subject), issuer: cut(issuer), serialNumber: cut(serial) };
}

function x509Arg(what: string, x: unknown): X509Certificate {
  if (x instanceof X509Certificate) return x;
  if (x instanceof Uint8Array) return new X509Certificate(x);
  throw new TypeError(`${what}: argument 'certificate' must be a node:crypto X509Certificate or its DER`);
}

/**
 * Stores an X.509 certificate as a certificate object: CKA_VALUE (DER), CKA_SUBJECT, CKA_ISSUER,
 * CKA_SERIAL_NUMBER from the certificate; defaults token false, private false; the caller's
 * template adds label, id (usually the CKA_ID of the matching key), token: true, trusted … and
 * wins over the defaults, not over the fields taken from the certificate.
 */
export async function storeCertificate(session: Session, certificate: X509Certificate | Uint8Array, template: TemplateObject = {}): Promise<Certificate> {
  const x = x509Arg('storeCertificate', certificate);
  if (template === null || typeof template !== 'object' || Array.isArray(template))
    throw new TypeError("storeCertificate: argument 'template' must be an object of attribute values");
  const fields = certificateFields(x.raw);
  const o = await session.createObject({
    token: false,
    private: false,
    ...template,
    class: 'certificate',
    certificateType: 'x509',
    ...fields,
    value: x.raw,
  });
  return new Certificate(session, o.handle);
}

/** A certificate object read back as a node:crypto X509Certificate. */
export async function readCertificate(certificate: Certificate | Pkcs11Object): Promise<X509Certificate> {
  if (certificate instanceof Certificate) return certificate.x509();
  if (certificate instanceof Pkcs11Object) return new Certificate(certificate.session, certificate.handle).x509();
  throw new TypeError("readCertificate: argument 'certificate' must be a Certificate object");
}

// session.importCertificate(): added here, above the session (which does not import interop/).
declare module '../session/session' {
  interface Session {
    /** A certificate (X509Certificate or DER) stored with its subject, issuer and serial number. */
    importCertificate(certificate: X509Certificate | Uint8Array, template?: TemplateObject): Promise<Certificate>;
  }
}

Object.defineProperty(Session.prototype, 'importCertificate', {
  value: function importCertificate(this: Session, certificate: X509Certificate | Uint8Array, template: TemplateObject = {}) {
    return storeCertificate(this, certificate, template);
  },
  writable: true,
  configurable: true,
});
