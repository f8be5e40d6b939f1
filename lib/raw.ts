// `p11bridge/raw`: the PKCS#11 functions one to one, as pkcs11js users know them, with
// CK_ULONG at full width, typed errors and Promise forms.
export * from './binding/raw-types';
export * from './constants/generated';
export { Pkcs11Error, ModuleLoadError } from './errors/pkcs11-error';
export { createPkcs11Error } from './errors/create';
export * from './errors/groups';
export * from './errors/generated';
export type { ModuleLoadErrorCode } from './errors/pkcs11-error';
export { PKCS11, ULONG_SIZE, CK_UNAVAILABLE_INFORMATION, BINDING_PATH, structLayout } from './binding/pkcs11';

/** Builders for the spec's mechanism parameter structs (CK_GCM_PARAMS, CK_RSA_PKCS_OAEP_PARAMS …). */
export * as params from './mechanisms/params';
