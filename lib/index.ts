// p11bridge: the typed layer (Module → Slot → Session) over `p11bridge/raw`, which is
// re-exported here too (constants, error classes, PKCS11).
export * from './raw';
export { Module } from './module';
export type { ModuleInfo, ModuleOpenOptions } from './module';
export { Slot } from './slot';
export type { OpenSessionOptions } from './slot';
export { Session, SessionClosedError } from './session';
export type { SessionInfo as TypedSessionInfo, SessionState, UserType } from './session';
export type { Limit, MechanismInfo as TypedMechanismInfo, SlotInfo as TypedSlotInfo, TokenInfo as TypedTokenInfo } from './token';
export { RUTOKEN_ERRORS, VendorPkcs11Error, registerVendorErrors, vendorErrorTable, vendorErrorTableFor, applyVendorErrors } from './errors/vendors';
export type { VendorErrorTable } from './errors/vendors';
export { Pkcs11Object } from './objects/object';
export type { AttributeValues } from './objects/object';
export { registerAttribute, encodeTemplate, attributeType, OBJECT_CLASSES, KEY_TYPES } from './template/attributes';
export type { TemplateObject } from './template/attributes';
export { Key, PrivateKey, PublicKey, SecretKey } from './objects/keys';
export type { KeyPairSpec, SecretKeySpec } from './objects/generate';
export { resolveMechanism, curveParams, CURVES } from './mechanisms';
export type { MechanismSpec, HashName } from './mechanisms';
export { SessionPool, PoolTimeoutError, PoolClosedError } from './pool';
export type { PoolOptions } from './pool';
export { SignOperation, VerifyOperation, CipherOperation, DigestOperation, OperationFinishedError } from './operations';
