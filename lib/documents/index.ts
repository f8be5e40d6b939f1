// p11bridge/documents: signing documents with token keys. CMS / CAdES-BES (signCms, verifyCms),
// PDF PAdES-B-B (signPdf and a @signpdf Signer), XAdES-BES enveloped XML (signXml). See
// docs/signing.md for what each meets of its standard.
export { signCms } from './cms';
export type { SignCmsOptions, SignedCms } from './cms';
export { verifyCms } from './verify';
export type { VerifyCmsOptions, CmsVerification, CmsSignerVerification } from './verify';
export { findKeyCertificate } from './certificates';
export type { CertificateInput } from './certificates';
export type { DocumentInput, DocumentHash } from './digest-stream';
export { DOCUMENT_HASHES } from './digest-stream';
export type { RsaScheme } from './algorithms';
export { CertificateMismatchError, CmsFormatError } from './errors';
export { signPdf, TokenPdfSigner } from './pdf';
export type { SignPdfOptions, TokenPdfSignerOptions } from './pdf';
export { signXml } from './xades';
export type { SignXmlOptions } from './xades';
