// `p11bridge/raw`: the PKCS#11 functions one to one, as pkcs11js users know them, with
// CK_ULONG at full width, typed errors and Promise forms.
import binding, { bindingPath } from './native';
import type { PKCS11 as RawModule } from './raw-types';

export * from './raw-types';
export * from './constants/generated';
export { Pkcs11Error, ModuleLoadError } from './errors/pkcs11-error';
export { createPkcs11Error } from './errors/create';
export * from './errors/groups';
export * from './errors/generated';
export type { ModuleLoadErrorCode } from './errors/pkcs11-error';

/** Loads and drives one PKCS#11 module: `new PKCS11()`, `load(path)`, `C_Initialize()` … */
export const PKCS11: new () => RawModule = binding.PKCS11;

// interfaces(): what C_GetInterfaceList reports; a 2.x module (no such function) offers none.
(PKCS11.prototype as RawModule).interfaces = function interfaces(this: RawModule) {
  return this.has('C_GetInterfaceList') ? this.C_GetInterfaceList() : [];
};
export type PKCS11 = RawModule;

/** sizeof(CK_ULONG) on this platform: 8 on Linux/macOS x64, 4 on Windows. */
export const ULONG_SIZE: number = binding.ulongSize;

/** ~0 at this platform's CK_ULONG width (a bigint where that exceeds 2^53). */
export const CK_UNAVAILABLE_INFORMATION = binding.CK_UNAVAILABLE_INFORMATION;

/** Where the native addon was loaded from. */
export const BINDING_PATH: string = bindingPath;

/** The size, alignment and field offsets native code gives a struct description on this platform. */
export function structLayout(fields: import('./raw-types').StructField[]): import('./native').StructLayout {
  return binding.structLayout(fields);
}

/** Builders for the spec's mechanism parameter structs (CK_GCM_PARAMS, CK_RSA_PKCS_OAEP_PARAMS …). */
export * as params from './mechanisms/params';
