// Certificates as the document signers take them (node:crypto X509Certificate, DER, PEM, or a
// certificate object on the token), and the signer's certificate found on the token by the key's
// CKA_ID, the convention pkcs11-tool, p11-kit and the vendors' middleware follow.
import { X509Certificate } from 'node:crypto';
import { AsnConvert } from '@peculiar/asn1-schema';
import { Certificate as AsnCertificate } from '@peculiar/asn1-x509';
import { Certificate } from '../objects/certificate';
import type { PrivateKey } from '../objects/keys';
import type { Session } from '../session/session';

/** A certificate argument: node's X509Certificate, DER bytes, a PEM string, or a token certificate object. */
export type CertificateInput = X509Certificate | Uint8Array | string | Certificate;

/** @internal A certificate in the forms the signers need: node's (keys, checks) and the ASN.1 one (names, serial). */
export interface ParsedCertificate {
  x509: X509Certificate;
  der: Buffer;
  asn: AsnCertificate;
}

/** @internal */
export function parsedCertificate(x509: X509Certificate): ParsedCertificate {
  return { x509, der: x509.raw, asn: AsnConvert.parse(x509.raw, AsnCertificate) };
}

/** @internal Any CertificateInput as a ParsedCertificate (TypeError naming the argument). */
export async function certificateOf(what: string, name: string, c: unknown): Promise<ParsedCertificate> {
  let x: X509Certificate;
  if (c instanceof X509Certificate) x = c;
  // A token certificate: its read errors are the module's (Pkcs11Error), passed on as they are.
  else if (c instanceof Certificate) x = await c.x509();
  else if (c instanceof Uint8Array || typeof c === 'string') {
    try {
      x = new X509Certificate(c);
    } catch (e) {
      throw new TypeError(`${what}: '${name}' is not a readable X.509 certificate (${(e as Error).message})`, { cause: e });
    }
  } else throw new TypeError(`${what}: '${name}' must be an X509Certificate, DER bytes, a PEM string or a token Certificate`);
  return parsedCertificate(x);
}

/** @internal A list argument of certificates (undefined → empty). */
export async function certificateList(what: string, name: string, list: unknown): Promise<ParsedCertificate[]> {
  if (list === undefined) return [];
  if (!Array.isArray(list)) throw new TypeError(`${what}: '${name}' must be an array of certificates`);
  const out: ParsedCertificate[] = [];
  for (const [i, c] of list.entries()) out.push(await certificateOf(what, `${name}[${i}]`, c));
  return out;
}

/**
 * The X.509 certificate object on the key's token with the same CKA_ID as the key, or undefined.
 * With several, the one whose public key matches is not decided here: the first is taken and the
 * signers check the signature against it.
 */
export async function findKeyCertificate(key: PrivateKey): Promise<X509Certificate | undefined> {
  const id = await key.getAttribute('id');
  if (!Buffer.isBuffer(id) || id.length === 0) return undefined;
  const session = key.session as Session;
  const found = await session.findAll({ class: 'certificate', id });
  for (const o of found) {
    try {
      return await new Certificate(o.session, o.handle).x509();
    } catch {
      // not an X.509 certificate (or unreadable): look at the next one
    }
  }
  return undefined;
}
