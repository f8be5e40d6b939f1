// Certificates (CKO_CERTIFICATE): the DER value and, for X.509 ones, a node:crypto X509Certificate.
import { X509Certificate } from 'node:crypto';
import { Pkcs11Object } from './object';

export class Certificate extends Pkcs11Object {
  /** The certificate's encoding (CKA_VALUE): DER for X.509. */
  async der(): Promise<Buffer> {
    const a = await this.getAttributes(['value']);
    if (!(a.value instanceof Buffer)) throw new TypeError(`certificate value is not readable (${a.unreadable.value ?? 'empty'})`);
    return a.value;
  }

  /** The certificate parsed by node:crypto (X.509 certificates only). */
  async x509(): Promise<X509Certificate> {
    const a = await this.getAttributes(['certificateType', 'value']);
    if (a.certificateType !== undefined && a.certificateType !== 'x509') {
      throw new TypeError(`certificate type '${String(a.certificateType)}' is not X.509`);
    }
    if (!(a.value instanceof Buffer) || a.value.length === 0) throw new TypeError(`certificate value is not readable (${a.unreadable.value ?? 'empty'})`);
    return new X509Certificate(a.value);
  }
}
