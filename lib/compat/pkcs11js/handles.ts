// Handles as pkcs11js gives them: a Buffer of sizeof(CK_ULONG) bytes holding the CK_ULONG in the
// host's byte order (it copies the C variable's memory), so 8 bytes little-endian on Linux/macOS
// x64 and arm64, 4 bytes on Windows. The core takes and returns numbers; these convert.
import { endianness } from 'node:os';
import binding from '../../binding/native';
import type { Ulong } from '../../binding/raw-types';

/** Bytes of a handle Buffer on this platform (sizeof(CK_ULONG)). @internal */
export const HANDLE_SIZE: number = binding.ulongSize;
const LE = endianness() === 'LE';
const TWO32 = 0x100000000;

/** A new handle Buffer for a CK_ULONG. @internal */
export function toHandle(v: Ulong): Buffer {
  const b = Buffer.allocUnsafe(HANDLE_SIZE);
  if (HANDLE_SIZE === 4) {
    if (LE) b.writeUInt32LE(Number(v), 0);
    else b.writeUInt32BE(Number(v), 0);
  } else if (typeof v === 'bigint') {
    if (LE) b.writeBigUInt64LE(v, 0);
    else b.writeBigUInt64BE(v, 0);
  } else {
    const lo = v % TWO32;
    const hi = (v - lo) / TWO32;
    if (LE) {
      b.writeUInt32LE(lo, 0);
      b.writeUInt32LE(hi, 4);
    } else {
      b.writeUInt32BE(hi, 0);
      b.writeUInt32BE(lo, 4);
    }
  }
  return b;
}

function u32(b: Uint8Array, o: number): number {
  return LE ? b[o] + b[o + 1] * 0x100 + b[o + 2] * 0x10000 + b[o + 3] * 0x1000000 : b[o + 3] + b[o + 2] * 0x100 + b[o + 1] * 0x10000 + b[o] * 0x1000000;
}

/** The message pkcs11js's native code gives for a missing or non-Buffer argument. @internal */
export function bufferTypeError(index: number): TypeError {
  return new TypeError(`Argument ${index} has wrong type. Should be a Buffer`);
}

/**
 * The CK_ULONG in a handle Buffer given as argument `index`; TypeError (pkcs11js's messages) when
 * it is not a Buffer of HANDLE_SIZE bytes.
 * @internal
 */
export function fromHandle(b: unknown, index: number): Ulong {
  if (!(b instanceof Uint8Array)) throw bufferTypeError(index);
  if (b.length !== HANDLE_SIZE) {
    throw new TypeError(`Argument ${index} has wrong length. Should be ${HANDLE_SIZE} bytes.`);
  }
  if (HANDLE_SIZE === 4) return u32(b, 0);
  const lo = u32(b, LE ? 0 : 4);
  const hi = u32(b, LE ? 4 : 0);
  if (hi === 0) return lo;
  if (hi < 0x200000) return hi * TWO32 + lo;
  return (BigInt(hi) << 32n) | BigInt(lo);
}

/** fromHandle for a property of a mechanism parameter (its own TypeError text). @internal */
export function handleProperty(b: unknown, property: string, struct: string): Ulong {
  if (!(b instanceof Uint8Array) || b.length !== HANDLE_SIZE) {
    throw new TypeError(`Property '${property}' of ${struct} mechanism parameter should be Buffer`);
  }
  return fromHandle(b, 0);
}

/**
 * The number (a bigint above 2^53) in a pkcs11js handle Buffer, for p11bridge's raw and typed
 * layers (not in pkcs11js).
 */
export function handleToUlong(handle: Buffer): Ulong {
  return fromHandle(handle, 0);
}

/** A pkcs11js handle Buffer for a handle of p11bridge's raw or typed layers (not in pkcs11js). */
export function ulongToHandle(value: Ulong): Buffer {
  if (typeof value === 'number' ? !Number.isSafeInteger(value) || value < 0 : value < 0n || value > 0xffffffffffffffffn) {
    throw new RangeError(`ulongToHandle: ${String(value)} is not a CK_ULONG`);
  }
  return toHandle(value);
}
