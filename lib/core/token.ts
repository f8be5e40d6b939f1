// Typed slot, token and mechanism information.
import * as C from '../constants/generated';
import type { MechanismInfo as RawMechanismInfo, SlotInfo as RawSlotInfo, TokenInfo as RawTokenInfo, Ulong, Version } from '../binding/raw-types';
import { decodeFlags } from '../util/flags';
import binding from '../binding/native';

/** A count or size a token may not report ('unavailable') or may not limit ('infinite'). */
export type Limit = number | bigint | 'unavailable' | 'infinite';

function limit(v: Ulong, zeroMeansInfinite: boolean): Limit {
  if (v === binding.CK_UNAVAILABLE_INFORMATION) return 'unavailable';
  if (zeroMeansInfinite && (v === 0 || v === 0n)) return 'infinite';
  return v;
}

function plain(v: Ulong): Limit {
  return limit(v, false);
}

const SLOT_FLAGS = { tokenPresent: C.CKF_TOKEN_PRESENT, removableDevice: C.CKF_REMOVABLE_DEVICE, hardwareSlot: C.CKF_HW_SLOT };

export interface SlotInfo {
  description: string;
  manufacturerID: string;
  flags: Record<keyof typeof SLOT_FLAGS, boolean>;
  hardwareVersion: Version;
  firmwareVersion: Version;
}

export function decodeSlotInfo(r: RawSlotInfo): SlotInfo {
  return {
    description: r.slotDescription,
    manufacturerID: r.manufacturerID,
    flags: decodeFlags(r.flags, SLOT_FLAGS),
    hardwareVersion: r.hardwareVersion,
    firmwareVersion: r.firmwareVersion,
  };
}

const TOKEN_FLAGS = {
  rng: C.CKF_RNG,
  writeProtected: C.CKF_WRITE_PROTECTED,
  loginRequired: C.CKF_LOGIN_REQUIRED,
  userPinInitialized: C.CKF_USER_PIN_INITIALIZED,
  restoreKeyNotNeeded: C.CKF_RESTORE_KEY_NOT_NEEDED,
  clockOnToken: C.CKF_CLOCK_ON_TOKEN,
  protectedAuthenticationPath: C.CKF_PROTECTED_AUTHENTICATION_PATH,
  dualCryptoOperations: C.CKF_DUAL_CRYPTO_OPERATIONS,
  tokenInitialized: C.CKF_TOKEN_INITIALIZED,
  secondaryAuthentication: C.CKF_SECONDARY_AUTHENTICATION,
  userPinCountLow: C.CKF_USER_PIN_COUNT_LOW,
  userPinFinalTry: C.CKF_USER_PIN_FINAL_TRY,
  userPinLocked: C.CKF_USER_PIN_LOCKED,
  userPinToBeChanged: C.CKF_USER_PIN_TO_BE_CHANGED,
  soPinCountLow: C.CKF_SO_PIN_COUNT_LOW,
  soPinFinalTry: C.CKF_SO_PIN_FINAL_TRY,
  soPinLocked: C.CKF_SO_PIN_LOCKED,
  soPinToBeChanged: C.CKF_SO_PIN_TO_BE_CHANGED,
  errorState: C.CKF_ERROR_STATE,
  seedRandomRequired: C.CKF_SEED_RANDOM_REQUIRED,
  asyncSessionSupported: C.CKF_ASYNC_SESSION_SUPPORTED,
};

export interface TokenInfo {
  label: string;
  manufacturerID: string;
  model: string;
  serialNumber: string;
  flags: Record<keyof typeof TOKEN_FLAGS, boolean>;
  /** CK_EFFECTIVELY_INFINITE (0) is 'infinite'; CK_UNAVAILABLE_INFORMATION is 'unavailable'. */
  maxSessionCount: Limit;
  sessionCount: Limit;
  maxRwSessionCount: Limit;
  rwSessionCount: Limit;
  maxPinLength: Limit;
  minPinLength: Limit;
  totalPublicMemory: Limit;
  freePublicMemory: Limit;
  totalPrivateMemory: Limit;
  freePrivateMemory: Limit;
  hardwareVersion: Version;
  firmwareVersion: Version;
  /** The token's clock (CKF_CLOCK_ON_TOKEN), as a Date; null when the token has none. */
  utcTime: Date | null;
}

function parseUtcTime(s: string, hasClock: boolean): Date | null {
  const m = /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})/.exec(s);
  if (!hasClock || !m) return null;
  const d = new Date(Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5], +m[6]));
  return Number.isNaN(d.getTime()) ? null : d;
}

export function decodeTokenInfo(r: RawTokenInfo): TokenInfo {
  const flags = decodeFlags(r.flags, TOKEN_FLAGS);
  return {
    label: r.label,
    manufacturerID: r.manufacturerID,
    model: r.model,
    serialNumber: r.serialNumber,
    flags,
    maxSessionCount: limit(r.maxSessionCount, true),
    sessionCount: plain(r.sessionCount),
    maxRwSessionCount: limit(r.maxRwSessionCount, true),
    rwSessionCount: plain(r.rwSessionCount),
    maxPinLength: plain(r.maxPinLen),
    minPinLength: plain(r.minPinLen),
    totalPublicMemory: plain(r.totalPublicMemory),
    freePublicMemory: plain(r.freePublicMemory),
    totalPrivateMemory: plain(r.totalPrivateMemory),
    freePrivateMemory: plain(r.freePrivateMemory),
    hardwareVersion: r.hardwareVersion,
    firmwareVersion: r.firmwareVersion,
    utcTime: parseUtcTime(r.utcTime, flags.clockOnToken),
  };
}

const MECHANISM_FLAGS = {
  hardware: C.CKF_HW,
  messageEncrypt: C.CKF_MESSAGE_ENCRYPT,
  messageDecrypt: C.CKF_MESSAGE_DECRYPT,
  messageSign: C.CKF_MESSAGE_SIGN,
  messageVerify: C.CKF_MESSAGE_VERIFY,
  multiMessage: C.CKF_MULTI_MESSAGE,
  findObjects: C.CKF_FIND_OBJECTS,
  encrypt: C.CKF_ENCRYPT,
  decrypt: C.CKF_DECRYPT,
  digest: C.CKF_DIGEST,
  sign: C.CKF_SIGN,
  signRecover: C.CKF_SIGN_RECOVER,
  verify: C.CKF_VERIFY,
  verifyRecover: C.CKF_VERIFY_RECOVER,
  generate: C.CKF_GENERATE,
  generateKeyPair: C.CKF_GENERATE_KEY_PAIR,
  wrap: C.CKF_WRAP,
  unwrap: C.CKF_UNWRAP,
  derive: C.CKF_DERIVE,
  encapsulate: C.CKF_ENCAPSULATE,
  decapsulate: C.CKF_DECAPSULATE,
};

export interface MechanismInfo {
  type: Ulong;
  /** CKM_ name, or a stable name such as CKM_VENDOR_DEFINED+0x1 for unknown types. */
  name: string;
  minKeySize: Ulong;
  maxKeySize: Ulong;
  flags: Record<keyof typeof MECHANISM_FLAGS, boolean>;
}

export function decodeMechanismInfo(type: Ulong, r: RawMechanismInfo): MechanismInfo {
  return {
    type,
    name: C.constantName('CKM', type),
    minKeySize: r.minKeySize,
    maxKeySize: r.maxKeySize,
    flags: decodeFlags(r.flags, MECHANISM_FLAGS),
  };
}
