// The class an object handle gets: chosen by its CKA_CLASS, so find() and unwrap() hand back
// a PrivateKey, a Certificate … rather than a generic object.
import * as C from '../constants/generated';
import type { Ulong } from '../binding/raw-types';
import type { Session } from '../session/session';
import { classNumber } from '../template/attributes';

export { classNumber };
import { ulong } from '../template/codecs';
import { Certificate } from './certificate';
import { Data } from './data';
import { DomainParameters } from './domain-parameters';
import { PrivateKey, PublicKey, SecretKey } from './keys';
import { Pkcs11Object } from './object';

type ObjectClass = new (session: Session, handle: Ulong) => Pkcs11Object;

const BY_CLASS = new Map<number, ObjectClass>([
  [C.CKO_DATA, Data],
  [C.CKO_CERTIFICATE, Certificate],
  [C.CKO_PUBLIC_KEY, PublicKey],
  [C.CKO_PRIVATE_KEY, PrivateKey],
  [C.CKO_SECRET_KEY, SecretKey],
  [C.CKO_DOMAIN_PARAMETERS, DomainParameters],
]);

/** Wraps a handle in the class for `cls` (a generic Pkcs11Object for other or unknown classes). */
export function objectFor(session: Session, handle: Ulong, cls: unknown): Pkcs11Object {
  const n = classNumber(cls);
  const Ctor = (n !== undefined && BY_CLASS.get(n)) || Pkcs11Object;
  return new Ctor(session, handle);
}

/** Reads CKA_CLASS (one call) and wraps the handle in its class. */
export async function objectOfHandle(session: Session, handle: Ulong): Promise<Pkcs11Object> {
  const [r] = await session.run('object', (raw, h) => raw.C_GetAttributeValueAsync(h, handle, [C.CKA_CLASS]));
  return objectFor(session, handle, r.status === 'ok' && r.value instanceof Buffer ? ulong.decode(r.value) : undefined);
}
