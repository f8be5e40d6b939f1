import { constantName } from '../constants/generated';

/** A CK_ULONG: a number when it is a safe integer, otherwise a bigint (never rounded). */
export type Ulong = number | bigint;

function hex(v: Ulong): string {
  return '0x' + v.toString(16).toUpperCase();
}

/**
 * A PKCS#11 function returned something other than CKR_OK. `rv` is the code, `rvName` its
 * name (unknown and vendor codes get stable names such as `CKR_VENDOR_DEFINED+0x1`), `function`
 * the C function that returned it. Messages never contain argument values (PINs).
 */
export class Pkcs11Error extends Error {
  readonly rv: Ulong;
  readonly rvName: string;
  readonly function: string;
  readonly detail: string | undefined;

  constructor(rv: Ulong, fn: string, detail?: string) {
    const rvName = constantName('CKR', rv);
    super(`${fn} failed: ${rvName} (${hex(rv)})${detail ? ': ' + detail : ''}`);
    this.name = new.target.name;
    this.rv = rv;
    this.rvName = rvName;
    this.function = fn;
    this.detail = detail;
  }
}

/** The error for a module's return value: the generated class for the code, else Pkcs11Error. */
export function createPkcs11Error(rv: Ulong, fn: string, detail?: string): Pkcs11Error {
  // Lazy: generated.ts imports this module through groups.ts.
  // eslint-disable-next-line @typescript-eslint/no-var-requires
  const { ERROR_CLASSES, VendorDefinedError } = require('./generated') as typeof import('./generated');
  const cls = typeof rv === 'number' ? ERROR_CLASSES.get(rv) : undefined;
  if (cls) return new cls(rv, fn, detail);
  // Every vendor code (CKR_VENDOR_DEFINED + n) shares one class; rvName tells them apart.
  if (typeof rv === 'number' ? rv >= 0x80000000 : rv >= 0x80000000n) return new VendorDefinedError(rv, fn, detail);
  return new Pkcs11Error(rv, fn, detail);
}

export type ModuleLoadErrorCode =
  | 'MODULE_NOT_FOUND'
  | 'MODULE_IS_DIRECTORY'
  | 'MODULE_LOAD_FAILED'
  | 'NOT_A_PKCS11_MODULE'
  | 'FUNCTION_LIST_FAILED';

/** A module could not be loaded; `message` includes the system loader's own text. */
export class ModuleLoadError extends Error {
  readonly code: ModuleLoadErrorCode;
  readonly path: string;
  readonly rv: Ulong | undefined;

  constructor(code: ModuleLoadErrorCode, message: string, path: string, rv?: Ulong) {
    super(message);
    this.name = 'ModuleLoadError';
    this.code = code;
    this.path = path;
    this.rv = rv;
  }
}
