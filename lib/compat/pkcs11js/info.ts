// The info structs as pkcs11js returns them: fixed-width text fields at their full width (the
// core trims the blank padding; pkcs11js hands the bytes over as they are), CK_ULONG counts as
// 32-bit numbers (pkcs11js's napi_create_uint32, so ~0 reads 4294967295), the token's memory
// sizes as bigints, slot IDs as handle Buffers.
import type {
  Info as CoreInfo,
  MechanismInfo as CoreMechanismInfo,
  SessionInfo as CoreSessionInfo,
  SlotInfo as CoreSlotInfo,
  TokenInfo as CoreTokenInfo,
  Ulong,
} from '../../binding/raw-types';
import { toHandle } from './handles';
import type { MechanismInfo, ModuleInfo, SessionInfo, SlotInfo, TokenInfo, Version } from './types';

/** `s` blank-padded to `width` UTF-8 bytes, as the C field holds it. @internal */
export function pad(s: string, width: number): string {
  const bytes = Buffer.byteLength(s);
  return bytes >= width ? s : s + ' '.repeat(width - bytes);
}

/** A CK_ULONG as pkcs11js's napi_create_uint32 gives it: the low 32 bits. @internal */
export function u32(v: Ulong): number {
  if (typeof v === 'bigint') return Number(BigInt.asUintN(32, v));
  return v <= 0xffffffff ? v : v % 0x100000000;
}

function version(v: Version): Version {
  return { major: v.major, minor: v.minor };
}

/** @internal */
export function moduleInfo(i: CoreInfo): ModuleInfo {
  return {
    cryptokiVersion: version(i.cryptokiVersion),
    manufacturerID: pad(i.manufacturerID, 32),
    flags: u32(i.flags),
    libraryDescription: pad(i.libraryDescription, 32),
    libraryVersion: version(i.libraryVersion),
  };
}

/** @internal */
export function slotInfo(i: CoreSlotInfo): SlotInfo {
  return {
    slotDescription: pad(i.slotDescription, 64),
    manufacturerID: pad(i.manufacturerID, 32),
    flags: u32(i.flags),
    hardwareVersion: version(i.hardwareVersion),
    firmwareVersion: version(i.firmwareVersion),
  };
}

/** @internal */
export function tokenInfo(i: CoreTokenInfo): TokenInfo {
  return {
    label: pad(i.label, 32),
    manufacturerID: pad(i.manufacturerID, 32),
    model: pad(i.model, 16),
    serialNumber: pad(i.serialNumber, 16),
    flags: u32(i.flags),
    maxSessionCount: u32(i.maxSessionCount),
    sessionCount: u32(i.sessionCount),
    maxRwSessionCount: u32(i.maxRwSessionCount),
    rwSessionCount: u32(i.rwSessionCount),
    maxPinLen: u32(i.maxPinLen),
    minPinLen: u32(i.minPinLen),
    hardwareVersion: version(i.hardwareVersion),
    firmwareVersion: version(i.firmwareVersion),
    utcTime: pad(i.utcTime, 16),
    totalPublicMemory: BigInt(i.totalPublicMemory),
    freePublicMemory: BigInt(i.freePublicMemory),
    totalPrivateMemory: BigInt(i.totalPrivateMemory),
    freePrivateMemory: BigInt(i.freePrivateMemory),
  };
}

/** @internal */
export function mechanismInfo(i: CoreMechanismInfo): MechanismInfo {
  return { minKeySize: u32(i.minKeySize), maxKeySize: u32(i.maxKeySize), flags: u32(i.flags) };
}

/** @internal */
export function sessionInfo(i: CoreSessionInfo): SessionInfo {
  return { slotID: toHandle(i.slotID), state: u32(i.state), flags: u32(i.flags), deviceError: u32(i.deviceError) };
}
