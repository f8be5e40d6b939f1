// Data objects (CKO_DATA): application-defined bytes with an application name and an object ID.
import { Pkcs11Object } from './object';

export class Data extends Pkcs11Object {
  /** CKA_VALUE (empty when the object has none). */
  async value(): Promise<Buffer> {
    const a = await this.getAttributes(['value']);
    return a.value instanceof Buffer ? a.value : Buffer.alloc(0);
  }
}
