// PDF signatures (PAdES-B-B, ETSI EN 319 142-1) with a token key, on @signpdf: TokenPdfSigner is
// its Signer (so any of its placeholder packages can be used), and signPdf adds a placeholder with
// @signpdf/placeholder-plain and signs in one call. The CMS is CAdES-BES with SubFilter
// ETSI.CAdES.detached, and without the signing-time attribute (PAdES baseline forbids it: the
// time is the signature dictionary's /M, which the placeholder writes).
//
// Memory: @signpdf works on Buffers (it cuts the placeholder out and splices the signature in),
// so the PDF is in memory, a few copies of it; the signer itself hashes it in slices, and the
// token sees only the signed attributes.
import { Signer, SUBFILTER_ETSI_CADES_DETACHED } from '@signpdf/utils';
import { SignPdf } from '@signpdf/signpdf';
import { plainAddPlaceholder } from '@signpdf/placeholder-plain';
import { digestInput } from './digest-stream';
import { prepare, Prepared, signDigest, SignCmsOptions } from './cms';

/** The options of the token signer: those of signCms that make sense inside a PDF. */
export type TokenPdfSignerOptions = Omit<SignCmsOptions, 'detached' | 'contentType' | 'signingTime'> & {
  /** Put a CMS signing-time attribute in too (for adbe.pkcs7.detached readers; not PAdES). */
  cmsSigningTime?: boolean;
};

/**
 * A @signpdf Signer whose signatures are made by a token key: `new SignPdf().sign(pdfWithPlaceholder,
 * new TokenPdfSigner({ key }))`. Returns the detached CMS (CAdES-BES) @signpdf puts in /Contents.
 */
export class TokenPdfSigner extends Signer {
  private readonly options: TokenPdfSignerOptions;
  private prepared: Promise<Prepared> | undefined;

  constructor(options: TokenPdfSignerOptions) {
    super();
    if (options === null || typeof options !== 'object') throw new TypeError("TokenPdfSigner: argument 'options' must be an object with at least 'key'");
    this.options = { ...options };
  }

  /** @internal The signer's certificate and key checks, done once (also for signPdf's placeholder size). */
  prepare(): Promise<Prepared> {
    this.prepared ??= prepare('TokenPdfSigner', { ...this.options, signingTime: this.options.cmsSigningTime === true });
    return this.prepared;
  }

  override async sign(pdfBuffer: Buffer, signingTime?: Date): Promise<Buffer> {
    if (!(pdfBuffer instanceof Uint8Array)) throw new TypeError("TokenPdfSigner.sign: argument 'pdfBuffer' must be a Buffer");
    const p = await this.prepare();
    const withTime = this.options.cmsSigningTime === true ? { ...p, time: signingTime ?? p.time ?? new Date() } : p;
    const d = await digestInput(pdfBuffer, p.hash, { onChunk: this.options.onProgress });
    this.options.signal?.throwIfAborted();
    return signDigest(withTime, d.digest, undefined, this.options);
  }
}

export interface SignPdfOptions extends TokenPdfSignerOptions {
  reason?: string;
  location?: string;
  contactInfo?: string;
  /** The signer's name in the signature dictionary; default: the certificate's CN. */
  name?: string;
  /** /M of the signature dictionary; default now. */
  signingTime?: Date;
  /** Bytes reserved for the CMS; default: enough for the certificates given plus the signature. */
  signatureLength?: number;
  /** The application named in the signature's build properties. */
  appName?: string;
}

function commonName(subject: string): string | undefined {
  return /(?:^|\n)CN=([^\n]*)/.exec(subject)?.[1];
}

/**
 * Signs a PDF with a token key: an invisible signature field (placeholder-plain, which needs a
 * classic cross-reference table, not a cross-reference stream), then the detached CAdES CMS in it.
 * Returns the signed PDF.
 */
export async function signPdf(pdf: Uint8Array, options: SignPdfOptions): Promise<Buffer> {
  if (!(pdf instanceof Uint8Array)) throw new TypeError("signPdf: argument 'pdf' must be a Buffer or Uint8Array");
  if (options === null || typeof options !== 'object') throw new TypeError("signPdf: argument 'options' must be an object with at least 'key'");
  for (const k of ['reason', 'location', 'contactInfo', 'name', 'appName'] as const) {
    if (options[k] !== undefined && typeof options[k] !== 'string') throw new TypeError(`signPdf: option '${k}' must be a string`);
  }
  if (options.signingTime !== undefined && !(options.signingTime instanceof Date && !Number.isNaN(options.signingTime.getTime())))
    throw new TypeError("signPdf: option 'signingTime' must be a Date");
  if (options.signatureLength !== undefined && (!Number.isSafeInteger(options.signatureLength) || options.signatureLength < 1024)) {
    throw new RangeError("signPdf: option 'signatureLength' must be an integer of at least 1024 (bytes)");
  }
  const signer = new TokenPdfSigner(options);
  const p = await signer.prepare();
  const certBytes = p.cert.der.length + p.chain.reduce((n, c) => n + c.der.length, 0);
  const time = options.signingTime ?? new Date();
  const withPlaceholder = plainAddPlaceholder({
    pdfBuffer: Buffer.from(pdf.buffer, pdf.byteOffset, pdf.byteLength),
    reason: options.reason ?? '',
    contactInfo: options.contactInfo ?? '',
    name: options.name ?? commonName(p.cert.x509.subject) ?? '',
    location: options.location ?? '',
    signingTime: time,
    // The CMS: certificates, a signature of at most 512 bytes (RSA 4096), attributes and structure.
    signatureLength: options.signatureLength ?? certBytes + 4096,
    subFilter: SUBFILTER_ETSI_CADES_DETACHED,
    appName: options.appName ?? 'p11bridge',
  });
  return new SignPdf().sign(withPlaceholder, signer, time);
}
