// Typed declarations of the native binding: one method per PKCS#11 function, with the spec's
// name, and its Promise twin `C_XAsync` that runs on the libuv pool.
import type { Ulong } from '../errors/pkcs11-error';

export type { Ulong };

/** Input bytes: a Buffer, any TypedArray, a DataView or an ArrayBuffer. */
export type Bytes = NodeJS.ArrayBufferView | ArrayBuffer;

/**
 * An attribute value; its JS type picks the encoding: boolean → CK_BBOOL, number/bigint →
 * CK_ULONG, string → UTF-8, bytes, Date → CK_DATE (UTC), Ulong[] → CK_ULONG array
 * (CKA_ALLOWED_MECHANISMS), Attribute[] → nested template (CKA_WRAP_TEMPLATE …), null → NULL.
 */
export type AttributeValue = boolean | Ulong | string | Bytes | Date | Ulong[] | Attribute[] | null | undefined;

export interface Attribute {
  type: Ulong;
  value?: AttributeValue;
}
export type Template = Attribute[];

export type AttributeStatus = 'ok' | 'sensitive' | 'typeInvalid' | 'unavailable';

/** One attribute read by C_GetAttributeValue; `value` is present when status is 'ok'. */
export interface AttributeResult {
  type: Ulong;
  status: AttributeStatus;
  /** Raw bytes, or for CKA_WRAP/UNWRAP/DERIVE_TEMPLATE the nested attributes. */
  value?: Buffer | AttributeResult[];
}

/**
 * One field of a parameter struct described from JS; native code lays the struct out with the
 * platform's C ABI (natural alignment, 1-byte packing on Windows), so a new or vendor struct needs
 * no C++ change.
 */
export type StructField =
  | { ulong: Ulong } // CK_ULONG (handles, flags, enums, lengths)
  | { byte: number | boolean } // CK_BYTE / CK_BBOOL
  | { bytes: Bytes | null } // pointer to bytes (NULL when null or empty)
  | { fixed: Bytes } // bytes embedded in the struct (CK_AES_CTR_PARAMS.cb[16])
  | { struct: StructField[] | null } // pointer to a nested struct
  | { structs: StructField[][] } // pointer to an array of structs
  | { inline: StructField[] } // a struct embedded by value
  | { out: Uint8Array } // pointer to caller memory the module writes (GCM message IV / tag)
  | { template: Attribute[] }; // pointer to a CK_ATTRIBUTE array (CK_DERIVED_KEY.pTemplate)

/** A mechanism or message parameter: raw bytes, a struct description, or nothing. */
export type Parameter = Bytes | StructField[] | null | undefined;

export interface Mechanism {
  mechanism: Ulong;
  /** Raw bytes (an IV), or a struct description (see lib/mechanisms/params.ts). */
  parameter?: Parameter;
}

export interface InterfaceInfo {
  name: string | null;
  version: Version;
  flags: Ulong;
}

export interface AsyncData {
  version: Ulong;
  value: Buffer | null;
  object: Ulong;
  additionalObject: Ulong;
}

export interface EncapsulateResult {
  ciphertext: Buffer;
  key: Ulong;
}

export interface InitializeOptions {
  /** CKF_OS_LOCKING_OK by default; 0 asks for no locking. */
  flags?: Ulong;
  /** NSS-style library parameters, passed through pReserved. */
  libraryParameters?: string | null;
}

export interface LoadOptions {
  /** Linux only: load with RTLD_DEEPBIND (default true) so the module's libcrypto stays its own. */
  deepBind?: boolean;
  /**
   * Unmap the library when its last user closes it (default false: it stays mapped, and a later
   * load re-initializes the same copy). Unloading vendor libraries that leave threads or TLS
   * destructors behind can crash the process later.
   */
  unload?: boolean;
  /**
   * Cap on the module's call threads (the addon's own, never libuv's), from 1 to 4096. Default 64,
   * or the P11BRIDGE_MAX_THREADS environment variable. The threads belong to the module, so every
   * object that loads it shares them; the last value given applies.
   */
  maxThreads?: number;
}

/** The module's call threads (see README, "Threads"). */
export interface ThreadStats {
  /** Threads alive now, and how many of them wait for work. */
  alive: number;
  idle: number;
  /** Calls waiting for a thread. */
  queued: number;
  /** Most threads alive at once, and threads started since load. */
  peak: number;
  started: number;
  /** Threads started as soon as calls need them (the CPU count); more only when calls starve. */
  core: number;
  max: number;
  /**
   * Times calls waited for a thread but none was added, because the busy threads were computing
   * (on CPU) rather than waiting on their token: more threads would not have run them sooner.
   */
  heldBack: number;
}

export interface Version {
  major: number;
  minor: number;
}

export interface Info {
  cryptokiVersion: Version;
  manufacturerID: string;
  flags: Ulong;
  libraryDescription: string;
  libraryVersion: Version;
}

export interface SlotInfo {
  slotDescription: string;
  manufacturerID: string;
  flags: Ulong;
  hardwareVersion: Version;
  firmwareVersion: Version;
}

export interface TokenInfo {
  label: string;
  manufacturerID: string;
  model: string;
  serialNumber: string;
  flags: Ulong;
  maxSessionCount: Ulong;
  sessionCount: Ulong;
  maxRwSessionCount: Ulong;
  rwSessionCount: Ulong;
  maxPinLen: Ulong;
  minPinLen: Ulong;
  totalPublicMemory: Ulong;
  freePublicMemory: Ulong;
  totalPrivateMemory: Ulong;
  freePrivateMemory: Ulong;
  hardwareVersion: Version;
  firmwareVersion: Version;
  utcTime: string;
}

export interface SessionInfo {
  slotID: Ulong;
  state: Ulong;
  flags: Ulong;
  deviceError: Ulong;
}

export interface MechanismInfo {
  minKeySize: Ulong;
  maxKeySize: Ulong;
  flags: Ulong;
}

export interface FunctionListInfo {
  version: Version;
  functions: FunctionName[];
}

export interface ModuleInfo {
  /** Real path of the loaded file (the registry key shared by every user in the process). */
  path: string;
  /** "PKCS 11" when found through C_GetInterface, null when C_GetFunctionList was used. */
  interface: string | null;
  interfaceFlags: Ulong;
  functionListVersion: Version;
  /** Length of the function list used: 68 (2.x), 92 (3.0) or 104 (3.2). */
  functionCount: number;
  functions: FunctionName[];
  initialized: boolean;
  /** The module's call threads, shared by every object that loaded it. */
  threads: ThreadStats;
}

export interface KeyPair {
  publicKey: Ulong;
  privateKey: Ulong;
}

/** A PIN: a UTF-8 string or bytes; null uses the protected authentication path. */
export type Pin = string | Bytes | null;

/** Optional caller buffer: the output is written into it and a trimmed view of it returned. */
export type Out = Uint8Array | null | undefined;

/** The 104 functions of PKCS#11 3.2 (sync forms): the 68 of 2.40, 24 of 3.0, 12 of 3.2. */
export interface SyncFunctions {
  C_Initialize(options?: InitializeOptions): void;
  C_Finalize(): void;
  C_GetInfo(): Info;
  C_GetFunctionList(): FunctionListInfo;

  C_GetSlotList(tokenPresent?: boolean): Ulong[];
  C_GetSlotInfo(slotID: Ulong): SlotInfo;
  C_GetTokenInfo(slotID: Ulong): TokenInfo;
  C_GetMechanismList(slotID: Ulong): Ulong[];
  C_GetMechanismInfo(slotID: Ulong, type: Ulong): MechanismInfo;
  C_InitToken(slotID: Ulong, soPin: Pin, label: string): void;
  C_InitPIN(hSession: Ulong, pin: Pin): void;
  C_SetPIN(hSession: Ulong, oldPin: Pin, newPin: Pin): void;

  /** flags default to CKF_SERIAL_SESSION. */
  C_OpenSession(slotID: Ulong, flags?: Ulong): Ulong;
  C_CloseSession(hSession: Ulong): void;
  C_CloseAllSessions(slotID: Ulong): void;
  C_GetSessionInfo(hSession: Ulong): SessionInfo;
  C_GetOperationState(hSession: Ulong, out?: Out): Buffer;
  C_SetOperationState(hSession: Ulong, state: Bytes, hEncryptionKey?: Ulong, hAuthenticationKey?: Ulong): void;
  C_Login(hSession: Ulong, userType: Ulong, pin: Pin): void;
  C_Logout(hSession: Ulong): void;

  C_CreateObject(hSession: Ulong, template: Template): Ulong;
  C_CopyObject(hSession: Ulong, hObject: Ulong, template?: Template | null): Ulong;
  C_DestroyObject(hSession: Ulong, hObject: Ulong): void;
  C_GetObjectSize(hSession: Ulong, hObject: Ulong): Ulong;
  /** Reads every attribute asked for; one that cannot be read gets a status instead of failing the call. */
  C_GetAttributeValue(hSession: Ulong, hObject: Ulong, types: Array<Ulong | { type: Ulong }>): AttributeResult[];
  C_SetAttributeValue(hSession: Ulong, hObject: Ulong, template: Template): void;
  C_FindObjectsInit(hSession: Ulong, template?: Template | null): void;
  /** maxObjectCount defaults to 64. */
  C_FindObjects(hSession: Ulong, maxObjectCount?: Ulong): Ulong[];
  C_FindObjectsFinal(hSession: Ulong): void;

  C_EncryptInit(hSession: Ulong, mechanism: Mechanism, hKey: Ulong): void;
  C_Encrypt(hSession: Ulong, data: Bytes, out?: Out): Buffer;
  C_EncryptUpdate(hSession: Ulong, data: Bytes, out?: Out): Buffer;
  C_EncryptFinal(hSession: Ulong, out?: Out): Buffer;
  C_DecryptInit(hSession: Ulong, mechanism: Mechanism, hKey: Ulong): void;
  C_Decrypt(hSession: Ulong, data: Bytes, out?: Out): Buffer;
  C_DecryptUpdate(hSession: Ulong, data: Bytes, out?: Out): Buffer;
  C_DecryptFinal(hSession: Ulong, out?: Out): Buffer;

  C_DigestInit(hSession: Ulong, mechanism: Mechanism): void;
  C_Digest(hSession: Ulong, data: Bytes, out?: Out): Buffer;
  C_DigestUpdate(hSession: Ulong, data: Bytes): void;
  C_DigestKey(hSession: Ulong, hKey: Ulong): void;
  C_DigestFinal(hSession: Ulong, out?: Out): Buffer;

  C_SignInit(hSession: Ulong, mechanism: Mechanism, hKey: Ulong): void;
  C_Sign(hSession: Ulong, data: Bytes, out?: Out): Buffer;
  C_SignUpdate(hSession: Ulong, data: Bytes): void;
  C_SignFinal(hSession: Ulong, out?: Out): Buffer;
  C_SignRecoverInit(hSession: Ulong, mechanism: Mechanism, hKey: Ulong): void;
  C_SignRecover(hSession: Ulong, data: Bytes, out?: Out): Buffer;

  C_VerifyInit(hSession: Ulong, mechanism: Mechanism, hKey: Ulong): void;
  /** true, or false for CKR_SIGNATURE_INVALID; other failures throw. */
  C_Verify(hSession: Ulong, data: Bytes, signature: Bytes): boolean;
  C_VerifyUpdate(hSession: Ulong, data: Bytes): void;
  C_VerifyFinal(hSession: Ulong, signature: Bytes): boolean;
  C_VerifyRecoverInit(hSession: Ulong, mechanism: Mechanism, hKey: Ulong): void;
  C_VerifyRecover(hSession: Ulong, signature: Bytes, out?: Out): Buffer;

  C_DigestEncryptUpdate(hSession: Ulong, data: Bytes, out?: Out): Buffer;
  C_DecryptDigestUpdate(hSession: Ulong, data: Bytes, out?: Out): Buffer;
  C_SignEncryptUpdate(hSession: Ulong, data: Bytes, out?: Out): Buffer;
  C_DecryptVerifyUpdate(hSession: Ulong, data: Bytes, out?: Out): Buffer;

  C_GenerateKey(hSession: Ulong, mechanism: Mechanism, template: Template): Ulong;
  C_GenerateKeyPair(hSession: Ulong, mechanism: Mechanism, publicKeyTemplate: Template, privateKeyTemplate: Template): KeyPair;
  C_WrapKey(hSession: Ulong, mechanism: Mechanism, hWrappingKey: Ulong, hKey: Ulong, out?: Out): Buffer;
  C_UnwrapKey(hSession: Ulong, mechanism: Mechanism, hUnwrappingKey: Ulong, wrappedKey: Bytes, template: Template): Ulong;
  C_DeriveKey(hSession: Ulong, mechanism: Mechanism, hBaseKey: Ulong, template: Template): Ulong;

  C_SeedRandom(hSession: Ulong, seed: Bytes): void;
  /** A new Buffer of `length` random bytes, or `out` filled. */
  C_GenerateRandom(hSession: Ulong, lengthOrOut: Ulong | Uint8Array): Buffer;

  C_GetFunctionStatus(hSession: Ulong): void;
  C_CancelFunction(hSession: Ulong): void;

  /** The slot that had an event, or null when CKF_DONT_BLOCK found none. */
  C_WaitForSlotEvent(flags?: Ulong): Ulong | null;

  // PKCS#11 3.0
  C_GetInterfaceList(): InterfaceInfo[];
  C_GetInterface(name?: string | null, version?: Version | null, flags?: Ulong): InterfaceInfo;
  C_LoginUser(hSession: Ulong, userType: Ulong, pin: Pin, username: string | Bytes): void;
  C_SessionCancel(hSession: Ulong, flags: Ulong): void;
  C_MessageEncryptInit(hSession: Ulong, mechanism: Mechanism, hKey: Ulong): void;
  /** `parameter` is the per-message struct (CK_GCM_MESSAGE_PARAMS …); its `out` fields get the IV/tag. */
  C_EncryptMessage(hSession: Ulong, parameter: Parameter, associatedData: Bytes, plaintext: Bytes, out?: Out): Buffer;
  C_EncryptMessageBegin(hSession: Ulong, parameter: Parameter, associatedData: Bytes): void;
  /** flags: CKF_END_OF_MESSAGE on the last part. */
  C_EncryptMessageNext(hSession: Ulong, parameter: Parameter, plaintextPart: Bytes, flags?: Ulong, out?: Out): Buffer;
  C_MessageEncryptFinal(hSession: Ulong): void;
  C_MessageDecryptInit(hSession: Ulong, mechanism: Mechanism, hKey: Ulong): void;
  C_DecryptMessage(hSession: Ulong, parameter: Parameter, associatedData: Bytes, ciphertext: Bytes, out?: Out): Buffer;
  C_DecryptMessageBegin(hSession: Ulong, parameter: Parameter, associatedData: Bytes): void;
  C_DecryptMessageNext(hSession: Ulong, parameter: Parameter, ciphertextPart: Bytes, flags?: Ulong, out?: Out): Buffer;
  C_MessageDecryptFinal(hSession: Ulong): void;
  C_MessageSignInit(hSession: Ulong, mechanism: Mechanism, hKey: Ulong): void;
  C_SignMessage(hSession: Ulong, parameter: Parameter, data: Bytes, out?: Out): Buffer;
  C_SignMessageBegin(hSession: Ulong, parameter: Parameter): void;
  /** Intermediate parts return undefined; with final = true the signature. */
  C_SignMessageNext(hSession: Ulong, parameter: Parameter, data: Bytes, final?: boolean, out?: Out): Buffer | undefined;
  C_MessageSignFinal(hSession: Ulong): void;
  C_MessageVerifyInit(hSession: Ulong, mechanism: Mechanism, hKey: Ulong): void;
  C_VerifyMessage(hSession: Ulong, parameter: Parameter, data: Bytes, signature: Bytes): boolean;
  C_VerifyMessageBegin(hSession: Ulong, parameter: Parameter): void;
  /** A null signature marks an intermediate part (true); the last part gives the verdict. */
  C_VerifyMessageNext(hSession: Ulong, parameter: Parameter, data: Bytes, signature?: Bytes | null): boolean;
  C_MessageVerifyFinal(hSession: Ulong): void;

  // PKCS#11 3.2
  C_EncapsulateKey(hSession: Ulong, mechanism: Mechanism, hPublicKey: Ulong, template: Template, out?: Out): EncapsulateResult;
  C_DecapsulateKey(hSession: Ulong, mechanism: Mechanism, hPrivateKey: Ulong, template: Template, ciphertext: Bytes): Ulong;
  C_VerifySignatureInit(hSession: Ulong, mechanism: Mechanism, hKey: Ulong, signature: Bytes): void;
  C_VerifySignature(hSession: Ulong, data: Bytes): boolean;
  C_VerifySignatureUpdate(hSession: Ulong, data: Bytes): void;
  C_VerifySignatureFinal(hSession: Ulong): boolean;
  C_GetSessionValidationFlags(hSession: Ulong, type: Ulong): Ulong;
  C_AsyncComplete(hSession: Ulong, functionName: string): AsyncData;
  C_AsyncGetID(hSession: Ulong, functionName: string): Ulong;
  /** The module fills `data` with the joined operation's result. */
  C_AsyncJoin(hSession: Ulong, functionName: string, id: Ulong, data: Uint8Array): void;
  C_WrapKeyAuthenticated(hSession: Ulong, mechanism: Mechanism, hWrappingKey: Ulong, hKey: Ulong, associatedData: Bytes, out?: Out): Buffer;
  C_UnwrapKeyAuthenticated(hSession: Ulong, mechanism: Mechanism, hUnwrappingKey: Ulong, wrappedKey: Bytes, template: Template, associatedData: Bytes): Ulong;
}

export type FunctionName = keyof SyncFunctions | `C_${string}`;

/** The Promise twin of every function: same arguments, result settled off the event loop. */
export type AsyncFunctions = {
  [K in keyof SyncFunctions as `${K}Async`]: (...args: Parameters<SyncFunctions[K]>) => Promise<ReturnType<SyncFunctions[K]>>;
};

export interface PKCS11 extends SyncFunctions, AsyncFunctions {
  /** Loads a module by path (one process-wide handle per real path). */
  load(path: string, options?: LoadOptions): void;
  /** Waits for work in flight, closes this object's sessions, drops its C_Initialize share, unloads. */
  close(): void;
  /** Whether the module provides a function (a missing one answers CKR_FUNCTION_NOT_SUPPORTED). */
  has(name: FunctionName): boolean;
  moduleInfo(): ModuleInfo | null;
  /** The interfaces C_GetInterfaceList reports; [] for a 2.x module, which has no such function. */
  interfaces(): InterfaceInfo[];
}
