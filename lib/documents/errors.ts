// The errors of the document signers that are neither argument errors (TypeError, RangeError)
// nor the module's (Pkcs11Error subclasses), each with a `code` as the typed layer's errors have.

/** The certificate given (or found by CKA_ID) does not belong to the signing key. */
export class CertificateMismatchError extends Error {
  readonly code = 'CERTIFICATE_MISMATCH';
  override name = 'CertificateMismatchError';
}

/** A CMS structure that cannot be read (not DER, not SignedData, no signer …). */
export class CmsFormatError extends Error {
  readonly code = 'CMS_FORMAT';
  override name = 'CmsFormatError';
}
