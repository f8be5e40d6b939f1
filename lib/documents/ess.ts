// ESS signing-certificate-v2 (RFC 5035), the signed attribute that makes a CMS signature
// CAdES-BES: it binds the signer's certificate (its hash, issuer and serial) into what is signed.
// @peculiar/asn1-cms has no class for it, so the structure is declared here with
// @peculiar/asn1-schema. Its decorators are applied as plain calls: the build does not enable
// TypeScript's experimentalDecorators, and the calls are exactly what the decorator syntax does.
import { AsnArray, AsnIntegerArrayBufferConverter, AsnProp, AsnPropTypes, AsnType, AsnTypeTypes, OctetString } from '@peculiar/asn1-schema';
import { Attribute } from '@peculiar/asn1-cms';
import { AlgorithmIdentifier, GeneralNames } from '@peculiar/asn1-x509';

/** @internal id-aa-signingCertificateV2 */
export const ID_SIGNING_CERTIFICATE_V2 = '1.2.840.113549.1.9.16.2.47';

/** @internal IssuerSerial ::= SEQUENCE { issuer GeneralNames, serialNumber CertificateSerialNumber } */
export class IssuerSerial {
  issuer = new GeneralNames();
  serialNumber = new ArrayBuffer(0);
  constructor(params: Partial<IssuerSerial> = {}) {
    Object.assign(this, params);
  }
}
AsnProp({ type: GeneralNames })(IssuerSerial.prototype, 'issuer');
AsnProp({ type: AsnPropTypes.Integer, converter: AsnIntegerArrayBufferConverter })(IssuerSerial.prototype, 'serialNumber');

/**
 * @internal ESSCertIDv2 ::= SEQUENCE { hashAlgorithm AlgorithmIdentifier DEFAULT sha256,
 * certHash OCTET STRING, issuerSerial IssuerSerial OPTIONAL }. DER leaves out a default value,
 * so hashAlgorithm stays undefined for SHA-256.
 */
export class EssCertIdV2 {
  hashAlgorithm?: AlgorithmIdentifier;
  certHash = new OctetString();
  issuerSerial?: IssuerSerial;
  constructor(params: Partial<EssCertIdV2> = {}) {
    Object.assign(this, params);
  }
}
AsnProp({ type: AlgorithmIdentifier, optional: true })(EssCertIdV2.prototype, 'hashAlgorithm');
AsnProp({ type: OctetString })(EssCertIdV2.prototype, 'certHash');
AsnProp({ type: IssuerSerial, optional: true })(EssCertIdV2.prototype, 'issuerSerial');

/** @internal SigningCertificateV2 ::= SEQUENCE { certs SEQUENCE OF ESSCertIDv2, policies … OPTIONAL } */
export class SigningCertificateV2 {
  certs: EssCertIdV2[] = [];
  constructor(params: Partial<SigningCertificateV2> = {}) {
    Object.assign(this, params);
  }
}
AsnProp({ type: EssCertIdV2, repeated: 'sequence' })(SigningCertificateV2.prototype, 'certs');

/** @internal A SET OF Attribute: what the signature covers is the signed attributes as a SET (RFC 5652 §5.4). */
export class SignedAttributeSet extends AsnArray<Attribute> {
  constructor(items: Attribute[] = []) {
    super(items);
    Object.setPrototypeOf(this, SignedAttributeSet.prototype);
  }
}
AsnType({ type: AsnTypeTypes.Set, itemType: Attribute })(SignedAttributeSet);
