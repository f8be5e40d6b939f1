// The attribute table: camelCase name → CKA type and codec. Templates are plain objects
// ({ label: 'k1', token: true, class: 'privateKey', wrapTemplate: { extractable: false } }),
// encoded here into the raw `{ type, value }` arrays, and reads are decoded with the same table.
import * as C from '../constants/generated';
import type { Attribute, AttributeResult, AttributeStatus, Ulong } from '../binding/raw-types';
import { bool, bytes, camelNames, Codec, date, enumeration, ulong, ulongArray, utf8 } from './codecs';

export const OBJECT_CLASSES = camelNames(C, 'CKO_');
export const KEY_TYPES = camelNames(C, 'CKK_');
export const CERTIFICATE_TYPES = camelNames(C, 'CKC_');

type AnyCodec = Codec<unknown>;
interface AttributeDef {
  type: Ulong;
  codec: AnyCodec;
  nested?: boolean;
}

const nestedMarker = {} as AnyCodec;

const table = new Map<string, AttributeDef>();
const byType = new Map<string, string>();

/** Registers an attribute (vendor or missing) under a camelCase name. */
export function registerAttribute<T>(name: string, type: Ulong, codec: Codec<T>): void {
  table.set(name, { type, codec: codec as AnyCodec });
  byType.set(String(type), name);
}

function def(name: string, type: number, codec: Codec<never> | AnyCodec): void {
  registerAttribute(name, type, codec as AnyCodec);
}

def('class', C.CKA_CLASS, enumeration(OBJECT_CLASSES));
def('token', C.CKA_TOKEN, bool);
def('private', C.CKA_PRIVATE, bool);
def('label', C.CKA_LABEL, utf8);
def('application', C.CKA_APPLICATION, utf8);
def('value', C.CKA_VALUE, bytes);
def('objectId', C.CKA_OBJECT_ID, bytes);
def('certificateType', C.CKA_CERTIFICATE_TYPE, enumeration(CERTIFICATE_TYPES));
def('issuer', C.CKA_ISSUER, bytes);
def('serialNumber', C.CKA_SERIAL_NUMBER, bytes);
def('trusted', C.CKA_TRUSTED, bool);
def('certificateCategory', C.CKA_CERTIFICATE_CATEGORY, ulong);
def('checkValue', C.CKA_CHECK_VALUE, bytes);
def('keyType', C.CKA_KEY_TYPE, enumeration(KEY_TYPES));
def('subject', C.CKA_SUBJECT, bytes);
def('id', C.CKA_ID, bytes);
def('sensitive', C.CKA_SENSITIVE, bool);
def('encrypt', C.CKA_ENCRYPT, bool);
def('decrypt', C.CKA_DECRYPT, bool);
def('wrap', C.CKA_WRAP, bool);
def('unwrap', C.CKA_UNWRAP, bool);
def('sign', C.CKA_SIGN, bool);
def('signRecover', C.CKA_SIGN_RECOVER, bool);
def('verify', C.CKA_VERIFY, bool);
def('verifyRecover', C.CKA_VERIFY_RECOVER, bool);
def('derive', C.CKA_DERIVE, bool);
def('startDate', C.CKA_START_DATE, date);
def('endDate', C.CKA_END_DATE, date);
def('modulus', C.CKA_MODULUS, bytes);
def('modulusBits', C.CKA_MODULUS_BITS, ulong);
def('publicExponent', C.CKA_PUBLIC_EXPONENT, bytes);
def('privateExponent', C.CKA_PRIVATE_EXPONENT, bytes);
def('prime1', C.CKA_PRIME_1, bytes);
def('prime2', C.CKA_PRIME_2, bytes);
def('exponent1', C.CKA_EXPONENT_1, bytes);
def('exponent2', C.CKA_EXPONENT_2, bytes);
def('coefficient', C.CKA_COEFFICIENT, bytes);
def('publicKeyInfo', C.CKA_PUBLIC_KEY_INFO, bytes);
def('prime', C.CKA_PRIME, bytes);
def('subprime', C.CKA_SUBPRIME, bytes);
def('base', C.CKA_BASE, bytes);
def('valueBits', C.CKA_VALUE_BITS, ulong);
def('valueLen', C.CKA_VALUE_LEN, ulong);
def('extractable', C.CKA_EXTRACTABLE, bool);
def('local', C.CKA_LOCAL, bool);
def('neverExtractable', C.CKA_NEVER_EXTRACTABLE, bool);
def('alwaysSensitive', C.CKA_ALWAYS_SENSITIVE, bool);
def('keyGenMechanism', C.CKA_KEY_GEN_MECHANISM, ulong);
def('modifiable', C.CKA_MODIFIABLE, bool);
def('copyable', C.CKA_COPYABLE, bool);
def('destroyable', C.CKA_DESTROYABLE, bool);
def('ecParams', C.CKA_EC_PARAMS, bytes);
def('ecPoint', C.CKA_EC_POINT, bytes);
def('alwaysAuthenticate', C.CKA_ALWAYS_AUTHENTICATE, bool);
def('wrapWithTrusted', C.CKA_WRAP_WITH_TRUSTED, bool);
def('wrapTemplate', C.CKA_WRAP_TEMPLATE, nestedMarker);
def('unwrapTemplate', C.CKA_UNWRAP_TEMPLATE, nestedMarker);
def('deriveTemplate', C.CKA_DERIVE_TEMPLATE, nestedMarker);
def('allowedMechanisms', C.CKA_ALLOWED_MECHANISMS, ulongArray);
def('uniqueId', C.CKA_UNIQUE_ID, utf8);
// Certificates, data, domain parameters, hardware features and the 3.x additions.
def('url', C.CKA_URL, utf8);
def('hashOfSubjectPublicKey', C.CKA_HASH_OF_SUBJECT_PUBLIC_KEY, bytes);
def('hashOfIssuerPublicKey', C.CKA_HASH_OF_ISSUER_PUBLIC_KEY, bytes);
def('nameHashAlgorithm', C.CKA_NAME_HASH_ALGORITHM, ulong);
def('javaMidpSecurityDomain', C.CKA_JAVA_MIDP_SECURITY_DOMAIN, ulong);
def('owner', C.CKA_OWNER, bytes);
def('acIssuer', C.CKA_AC_ISSUER, bytes);
def('attrTypes', C.CKA_ATTR_TYPES, bytes);
def('primeBits', C.CKA_PRIME_BITS, ulong);
def('subprimeBits', C.CKA_SUBPRIME_BITS, ulong);
def('hwFeatureType', C.CKA_HW_FEATURE_TYPE, ulong);
def('mechanismType', C.CKA_MECHANISM_TYPE, ulong);
def('profileId', C.CKA_PROFILE_ID, ulong);
def('encapsulate', C.CKA_ENCAPSULATE, bool);
def('decapsulate', C.CKA_DECAPSULATE, bool);
def('encapsulateTemplate', C.CKA_ENCAPSULATE_TEMPLATE, nestedMarker);
def('decapsulateTemplate', C.CKA_DECAPSULATE_TEMPLATE, nestedMarker);
def('parameterSet', C.CKA_PARAMETER_SET, ulong);
def('seed', C.CKA_SEED, bytes);

/** CKA_CLASS as a number from its camelCase name ('privateKey'), a number, or a bigint. */
export function classNumber(cls: unknown): number | undefined {
  if (typeof cls === 'string') return OBJECT_CLASSES[cls];
  if (typeof cls === 'number') return cls;
  if (typeof cls === 'bigint' && cls <= BigInt(Number.MAX_SAFE_INTEGER)) return Number(cls);
  return undefined;
}

/** A template as a plain object: camelCase attribute names to values. */
export type TemplateObject = { [name: string]: unknown };

/**
 * The JS type each attribute of the table reads as (getAttributes, getAttribute): enumerations
 * (class, keyType, certificateType) as their camelCase name, or a number the table has no name for.
 * Names registered at run time (registerAttribute) read as `unknown`.
 */
export interface AttributeTypes {
  class: string | Ulong;
  token: boolean;
  private: boolean;
  label: string;
  application: string;
  value: Buffer;
  objectId: Buffer;
  certificateType: string | Ulong;
  issuer: Buffer;
  serialNumber: Buffer;
  trusted: boolean;
  certificateCategory: Ulong;
  checkValue: Buffer;
  keyType: string | Ulong;
  subject: Buffer;
  id: Buffer;
  sensitive: boolean;
  encrypt: boolean;
  decrypt: boolean;
  wrap: boolean;
  unwrap: boolean;
  sign: boolean;
  signRecover: boolean;
  verify: boolean;
  verifyRecover: boolean;
  derive: boolean;
  startDate: Date | null;
  endDate: Date | null;
  modulus: Buffer;
  modulusBits: Ulong;
  publicExponent: Buffer;
  privateExponent: Buffer;
  prime1: Buffer;
  prime2: Buffer;
  exponent1: Buffer;
  exponent2: Buffer;
  coefficient: Buffer;
  publicKeyInfo: Buffer;
  prime: Buffer;
  subprime: Buffer;
  base: Buffer;
  valueBits: Ulong;
  valueLen: Ulong;
  extractable: boolean;
  local: boolean;
  neverExtractable: boolean;
  alwaysSensitive: boolean;
  keyGenMechanism: Ulong;
  modifiable: boolean;
  copyable: boolean;
  destroyable: boolean;
  ecParams: Buffer;
  ecPoint: Buffer;
  alwaysAuthenticate: boolean;
  wrapWithTrusted: boolean;
  wrapTemplate: TemplateObject;
  unwrapTemplate: TemplateObject;
  deriveTemplate: TemplateObject;
  allowedMechanisms: Ulong[];
  uniqueId: string;
  url: string;
  hashOfSubjectPublicKey: Buffer;
  hashOfIssuerPublicKey: Buffer;
  nameHashAlgorithm: Ulong;
  javaMidpSecurityDomain: Ulong;
  owner: Buffer;
  acIssuer: Buffer;
  attrTypes: Buffer;
  primeBits: Ulong;
  subprimeBits: Ulong;
  hwFeatureType: Ulong;
  mechanismType: Ulong;
  profileId: Ulong;
  encapsulate: boolean;
  decapsulate: boolean;
  encapsulateTemplate: TemplateObject;
  decapsulateTemplate: TemplateObject;
  parameterSet: Ulong;
  seed: Buffer;
}

/** The type `name` reads as: from AttributeTypes, else unknown. */
export type AttributeType<N extends string> = N extends keyof AttributeTypes ? AttributeTypes[N] : unknown;

export function attributeType(name: string): Ulong {
  const d = table.get(name);
  if (!d) throw new RangeError(`unknown attribute '${name}' (registerAttribute() adds vendor ones)`);
  return d.type;
}

/** Encodes a template object into raw attributes, in the object's key order. */
export function encodeTemplate(t: TemplateObject, path = 'template'): Attribute[] {
  if (t === null || typeof t !== 'object' || Array.isArray(t)) throw new TypeError(`${path} must be an object of attribute values`);
  return Object.entries(t)
    .filter(([, v]) => v !== undefined)
    .map(([name, v]) => {
      const d = table.get(name);
      if (!d) throw new RangeError(`${path}: unknown attribute '${name}' (registerAttribute() adds vendor ones)`);
      if (d.codec === nestedMarker) return { type: d.type, value: encodeTemplate(v as TemplateObject, `${path}.${name}`) };
      try {
        return { type: d.type, value: d.codec.encode(v) };
      } catch (e) {
        throw new (e instanceof RangeError ? RangeError : TypeError)(`${path}.${name}: ${(e as Error).message}`);
      }
    });
}

/** Decodes one raw read; nested templates come back as template objects. */
export function decodeAttribute(name: string, r: AttributeResult): unknown {
  const d = table.get(name);
  if (!d || r.value === undefined) return undefined;
  if (d.codec === nestedMarker) {
    const out: TemplateObject = {};
    for (const inner of (Array.isArray(r.value) ? r.value : []) as AttributeResult[]) {
      const n = byType.get(String(inner.type));
      if (n && inner.status === 'ok') out[n] = decodeAttribute(n, inner);
    }
    return out;
  }
  return d.codec.decode(r.value as Buffer);
}

export type { AttributeStatus };
