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

export type ModuleLoadErrorCode = 'MODULE_NOT_FOUND' | 'MODULE_IS_DIRECTORY' | 'MODULE_LOAD_FAILED' | 'NOT_A_PKCS11_MODULE' | 'FUNCTION_LIST_FAILED';

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
