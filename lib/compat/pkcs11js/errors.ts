// pkcs11js's two error classes, with its constructors and message parsing, and the conversion of
// p11bridge's errors into them: code written against pkcs11js tests `e instanceof Pkcs11Error`,
// `e.code`, `e.message === 'CKR_…'` and `e.method`, so those must come out the same.
import { Pkcs11Error as CorePkcs11Error } from '../../errors/pkcs11-error';
import { constantName } from '../../constants/generated';

/**
 * An error of the binding itself (not a PKCS#11 return value). As in pkcs11js, a message of the
 * form `NAME:123` is split into `message` NAME and `code` 123.
 */
export class NativeError extends Error {
  /** Stack lines of the original native error (pkcs11js); empty for errors made by the facade. */
  nativeStack: string;
  /** The PKCS#11 function that failed, e.g. `C_Login`. */
  method: string;
  /** The CK_RV for a Pkcs11Error, 0 otherwise. */
  code: number;

  constructor(message?: string, method?: string) {
    super(message || '');
    this.name = NativeError.name;
    this.method = method || '';
    this.nativeStack = '';
    const messages = this.message.split('\n');
    const matches = /(\w+):(\d+)/.exec(this.message);
    if (matches) {
      this.message = matches[1];
      this.code = +matches[2];
      if (messages.length > 1) {
        const stackMatch = /at PKCS11\.(\w+) \(/.exec(messages[1]);
        if (stackMatch) this.method = stackMatch[1];
        this.nativeStack = messages.slice(1).join('\n');
      }
    } else {
      this.message = messages[0];
      this.code = 0;
    }
  }
}

/** A PKCS#11 function returned an error: `message` is the CKR_ name, `code` the CK_RV. */
export class Pkcs11Error extends NativeError {
  static messageReg = /(CKR_[^:]+):(\d+)/;

  static isPkcs11(message: string): boolean {
    return new RegExp(Pkcs11Error.messageReg).test(message);
  }

  constructor(message?: string, code?: number, method?: string) {
    super(message, method);
    this.name = Pkcs11Error.name;
    this.code = code || 0;
    const matches = message ? new RegExp(Pkcs11Error.messageReg).exec(message) : null;
    if (matches) {
      this.message = matches[1];
      this.code = +matches[2];
    }
  }
}

/**
 * The name pkcs11js gives a return value: the spec's name, and CKR_VENDOR_DEFINED for every code
 * from CKR_VENDOR_DEFINED up (p11bridge's core names those `CKR_VENDOR_DEFINED+0x…`).
 * @internal
 */
export function rvName(rv: number): string {
  if (rv >= 0x80000000) return 'CKR_VENDOR_DEFINED';
  const name = constantName('CKR', rv);
  return name.startsWith('CKR_') && !name.includes('+') ? name : 'CKR_VENDOR_DEFINED';
}

/**
 * An error from p11bridge's core as pkcs11js would have thrown it: Pkcs11Error for a CK_RV,
 * TypeError and RangeError (bad arguments) unchanged, NativeError for anything else.
 * @internal
 */
export function toCompatError(e: unknown, method: string): Error {
  if (e instanceof CorePkcs11Error) {
    const rv = Number(e.rv);
    return new Pkcs11Error(`${rvName(rv)}:${rv}`, rv, method);
  }
  if (e instanceof TypeError || e instanceof RangeError || e instanceof NativeError) return e;
  const message = e instanceof Error ? e.message : String(e);
  // pkcs11js's text for a call before load() or after close().
  if (/no module is loaded/.test(message)) return new NativeError('PKCS11 module not loaded yet', method);
  return new NativeError(message, method);
}

/** A Pkcs11Error for a return value the facade reports itself (C_Verify's CKR_SIGNATURE_INVALID). @internal */
export function rvError(rv: number, method: string): Pkcs11Error {
  return new Pkcs11Error(`${rvName(rv)}:${rv}`, rv, method);
}
