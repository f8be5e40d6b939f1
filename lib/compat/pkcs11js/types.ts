// The types of pkcs11js 2.1.7's index.d.ts, as its users' code names them (`pkcs11js.Template`,
// `pkcs11js.Handle` …). Numbers are CK_ULONG values; handles are Buffers (see handles.ts).

/** A slot, session or object handle: sizeof(CK_ULONG) bytes in host byte order. */
export type Handle = Buffer;

export interface Version {
  major: number;
  minor: number;
}

export interface ModuleInfo {
  cryptokiVersion: Version;
  manufacturerID: string;
  flags: number;
  libraryDescription: string;
  libraryVersion: Version;
}

export interface SlotInfo {
  slotDescription: string;
  manufacturerID: string;
  flags: number;
  hardwareVersion: Version;
  firmwareVersion: Version;
}

export interface TokenInfo {
  label: string;
  manufacturerID: string;
  model: string;
  serialNumber: string;
  flags: number;
  maxSessionCount: number;
  sessionCount: number;
  maxRwSessionCount: number;
  rwSessionCount: number;
  maxPinLen: number;
  minPinLen: number;
  hardwareVersion: Version;
  firmwareVersion: Version;
  utcTime: string;
  /** bigint, as pkcs11js returns them (its index.d.ts says number). */
  totalPublicMemory: bigint;
  freePublicMemory: bigint;
  totalPrivateMemory: bigint;
  freePrivateMemory: bigint;
}

export interface MechanismInfo {
  minKeySize: number;
  maxKeySize: number;
  flags: number;
}

export interface SessionInfo {
  slotID: Buffer;
  state: number;
  flags: number;
  deviceError: number;
}

export interface Attribute {
  type: number;
  value?: number | boolean | string | Buffer | Date | null;
}
export type Template = Attribute[];

export interface AttributeResult {
  type: number;
  value: Buffer;
}
export type TemplateResult = AttributeResult[];

export interface KeyPair {
  privateKey: Handle;
  publicKey: Handle;
}

export interface InitializationOptions {
  libraryParameters?: string;
  flags?: number;
}

/** Node-style callback of the asynchronous forms. */
export type Callback<T> = (error: Error | null, result: T) => void;

export interface Mechanism {
  mechanism: number;
  parameter?: Buffer | number | IParams | null;
}

export interface IParams {
  type: number;
}
export interface ECDH1 extends IParams {
  kdf: number;
  sharedData?: Buffer;
  publicData: Buffer;
}
export interface AesCBC extends IParams {
  iv: Buffer;
  data?: Buffer;
}
export interface AesCCM extends IParams {
  dataLen: number;
  nonce?: Buffer;
  aad?: Buffer;
  macLen: number;
}
export interface AesGCM extends IParams {
  iv?: Buffer;
  aad?: Buffer;
  ivBits: number;
  tagBits: number;
}
export interface RsaOAEP extends IParams {
  hashAlg: number;
  mgf: number;
  source: number;
  sourceData?: Buffer;
}
export interface RsaPSS extends IParams {
  hashAlg: number;
  mgf: number;
  saltLen: number;
}
export interface Ecdh2Derive extends IParams {
  kdf: number;
  sharedData?: Buffer;
  publicData: Buffer;
  privateDataLen: number;
  privateData: Handle;
  publicData2?: Buffer;
}
export interface EcmqvDerive extends IParams {
  kdf: number;
  sharedData?: Buffer;
  publicData: Buffer;
  privateDataLen: number;
  publicData2?: Buffer;
  privateData: Handle;
}
export interface X942DH1Derive extends IParams {
  kdf: number;
  otherInfo?: Buffer;
  publicData: Buffer;
  privateData: Handle;
}
export interface X942DH2Derive extends IParams {
  kdf: number;
  otherInfo?: Buffer;
  publicData: Buffer;
  privateData: Handle;
  privateDataLen: number;
  publicData2?: Buffer;
}
export interface X942MQvDeriveParams {
  kdf: number;
  otherInfo?: Buffer;
  publicData: Buffer;
  privateData: Handle;
  publicData2?: Buffer;
  publicKey: Handle;
}
export interface RC2CBCParams extends IParams {
  effectiveBits: number;
  iv: Buffer;
}
export interface RC2MACGeneralParams extends IParams {
  effectiveBits: number;
  macLength: number;
}
export interface RC5Params extends IParams {
  wordSize: number;
  rounds: number;
}
export interface RC5CBCParams extends RC5Params {
  wordSize: number;
  rounds: number;
  iv: Buffer;
}
export interface RC5MACGeneralParams extends RC5Params {
  wordSize: number;
  rounds: number;
  macLength: number;
}
export interface DesCbcEncryptDataParams extends IParams {
  iv: Buffer;
  data?: Buffer;
}
export interface SkipjackPrivateWrapParams extends IParams {
  password: Buffer;
  publicData: Buffer;
  primeP: Buffer;
  baseG: Buffer;
  subprimeQ: Buffer;
  randomA: Buffer;
}
export interface SkipjackRelayXParams extends IParams {
  oldWrappedX: Buffer;
  oldPassword: Buffer;
  oldPublicData: Buffer;
  oldRandomA: Buffer;
  newPassword: Buffer;
  newPublicData: Buffer;
  newRandomA: Buffer;
}
export interface PbeParams extends IParams {
  initVector: Buffer;
  password: Buffer;
  salt: Buffer;
  iteration: number;
}
export interface KeyWrapSetOaepParams extends IParams {
  bc: number;
  x: Buffer;
}
export interface GcmParams extends IParams {
  iv: Buffer;
  ivBits: number;
  aad?: Buffer;
  tagBits?: number;
}
export interface CcmParams extends IParams {
  dataLen: number;
  nonce?: Buffer;
  aad?: Buffer;
  macLen?: number;
}
export interface GostR3410DeriveParams extends IParams {
  kdf: number;
  publicData: Buffer;
  ukm?: Buffer;
}
export interface GostR3410KeyWrapParams extends IParams {
  wrapOID: Buffer;
  ukm?: Buffer;
  key: Handle;
}
