// Group bases of the generated per-CKR error classes: catch a family (`instanceof PinError`) or
// one code (`instanceof PinIncorrectError`); all are Pkcs11Error with rv, rvName and function.
import { Pkcs11Error } from './pkcs11-error';

export { Pkcs11Error };

/** PIN wrong, locked, expired, too weak, not initialized … */
export class PinError extends Pkcs11Error {}
/** Session handle invalid, closed, read-only, login state … */
export class SessionError extends Pkcs11Error {}
/** Token not present, not recognized, write-protected, slot invalid, RNG … */
export class TokenError extends Pkcs11Error {}
/** Key handle invalid, wrong type or size, not wrappable or extractable … */
export class KeyError extends Pkcs11Error {}
/** Object handle invalid, attribute and template problems … */
export class ObjectError extends Pkcs11Error {}
/** Mechanism invalid or its parameter invalid. */
export class MechanismError extends Pkcs11Error {}
/** Operation state: not initialized, active, signature invalid, AEAD failure … */
export class OperationError extends Pkcs11Error {}
/** Bad arguments as the module sees them: ARGUMENTS_BAD, data length/range, buffer too small. */
export class ArgumentsError extends Pkcs11Error {}
/** The device or host failed: DEVICE_ERROR/REMOVED/MEMORY, GENERAL_ERROR, HOST_MEMORY … */
export class DeviceError extends Pkcs11Error {}
/** Library-level: not initialized, function not supported, locking, vendor codes … */
export class CryptokiError extends Pkcs11Error {}
