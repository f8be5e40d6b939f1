// p11bridge: the typed layer (Module → Slot → Session) over `p11bridge/raw`, which is
// re-exported here too (constants, error classes, PKCS11).
export * from './raw';
export { Module, ModuleClosedError } from './core/module';
export type { ModuleInfo, ModuleOpenOptions } from './core/module';
export { Slot } from './core/slot';
export { SlotWatcher } from './core/events';
export type { SlotEvent, SlotEventMode, SlotEventOptions } from './core/events';
export type { OpenSessionOptions } from './session';
export { Session } from './session';
export { SessionNotOpenError } from './session/session';
// The typed layer's info types under their plain names: they take precedence over the raw structs
// of the same names that `export * from './raw'` brings (those stay under 'p11bridge/raw').
// The Typed* names are kept as aliases for code written against 0.1.
export type { SessionInfo, SessionInfo as TypedSessionInfo, SessionState, UserType, CallOptions } from './session/session';
export type { Limit, MechanismInfo, SlotInfo, TokenInfo, MechanismInfo as TypedMechanismInfo, SlotInfo as TypedSlotInfo, TokenInfo as TypedTokenInfo } from './core/token';
export { RUTOKEN_ERRORS, VendorPkcs11Error, registerVendorErrors, vendorErrorTable, vendorErrorTableFor, applyVendorErrors } from './errors/vendors';
export type { VendorErrorTable } from './errors/vendors';
export { Pkcs11Object } from './objects/object';
export { Data } from './objects/data';
export { Certificate } from './objects/certificate';
export { DomainParameters } from './objects/domain-parameters';
export type { DomainParameterValues } from './objects/domain-parameters';
export type { AttributeValues } from './objects/object';
export { registerAttribute, encodeTemplate, attributeType, OBJECT_CLASSES, KEY_TYPES } from './template/attributes';
export type { TemplateObject } from './template/attributes';
export { Key, PrivateKey, PublicKey, SecretKey } from './objects/keys';
export type { KeyPairSpec, SecretKeySpec } from './objects/generate';
export { resolveMechanism } from './mechanisms';
export { curveParams, CURVES, rawEcPoint } from './encoding/ec';
export type { MechanismSpec, HashName } from './mechanisms';
export { SessionPool, PoolTimeoutError, PoolClosedError, PoolDeadlineError, StaleHandleError, RETRY_SAFE_CALLS } from './core/pool';
export { KeyMechanismMismatchError } from './errors/library';
export type { ObjectOfClass, ObjectOfTemplate } from './session/objects';
export type { PoolOptions, PoolStats, UseOptions, UseContext, RecoveryPolicy, BackoffOptions } from './core/pool';
export { CALL_CHANNEL, POOL_CHANNEL } from './core/diagnostics';
export type { CallTraceContext, PoolEvent } from './core/diagnostics';
export { SignOperation, VerifyOperation, CipherOperation, DigestOperation, OperationFinishedError } from './session/operations';
export type { ByteSource } from './session/operations';
export { CipherStream, OperationWritable } from './session/streams';
export type { OperationStreamOptions } from './session/streams';
export { MessageEncryptOperation, MessageDecryptOperation, MessageSignOperation, MessageVerifyOperation } from './session/messages';
export type { MessageCipherSpec, MessageEncryptOptions, MessageDecryptOptions, EncryptedMessage, MessageSignOptions } from './session/messages';
export { planKem } from './session/kem';
export type { KemSpec, KemPlan } from './session/kem';
export type { KeyClassName, KeyOfClass, UnwrapTemplate, UnwrappedKey, DerivedKey } from './objects/keys';
export type { Pbkdf2Spec, SecretKeyPlanContext } from './objects/generate';
export { resolveWrapMechanism, pbkdf2Mechanism } from './mechanisms/kdf';
export { resolveDeriveMechanism } from './objects/keys';
export type {
  WrapSpec,
  DeriveSpec,
  PrivateKeyDeriveSpec,
  SecretKeyDeriveSpec,
  EcdhSpec,
  EcdhKdf,
  HkdfSpec,
  KdfHash,
  AesEcbEncryptDataSpec,
  AesCbcEncryptDataSpec,
  Des3EcbEncryptDataSpec,
  Sp800108Spec,
  Sp800108Prf,
} from './mechanisms/kdf';
export { parse as parseUri, format as formatUri, matchesModule, matchesSlot, matchesToken, toTemplate as uriTemplate, uriTypeOf, Pkcs11UriError } from './locate/uri';
export type { Pkcs11Uri, UriObjectType, FormatOptions as UriFormatOptions, Pkcs11UriErrorCode } from './locate/uri';
export { discover, readP11KitConfig, findWellKnownModules, WELL_KNOWN_MODULES, parseP11KitConfig } from './locate/discovery';
export type {
  DiscoveredModule,
  DiscoverOptions,
  DiscoverySource,
  DiscoveryIssue,
  P11KitModule,
  P11KitModuleConfig,
  P11KitConfiguration,
  P11KitPaths,
  WellKnownModule,
  UserConfigMode,
} from './locate/discovery';
export {
  exportPublicKey,
  exportSpki,
  exportJwk,
  publicKeyJwk,
  importKey,
  importPrivateKey,
  importPublicKey,
  importSecretKey,
  privateKeyAttributes,
  publicKeyAttributes,
  ecdsaToDer,
  derToEcdsa,
  ecPointBytes,
  curveOfParams,
} from './interop/keyobject';
export { storeCertificate, readCertificate, certificateFields } from './interop/x509';
export type { CertificateFields } from './interop/x509';
export { signJws, signJwt, jwkOf, JWS_ALGORITHMS } from './interop/jws';
export type { JwsAlgorithm, JwsHeader, SignJwtOptions, JwkOfOptions, PublicJwk } from './interop/jws';
export { Pkcs11Crypto, Pkcs11SubtleCrypto, Pkcs11CryptoKey, Pkcs11KeyStorage, Pkcs11CertificateStorage } from './interop/webcrypto';
export type { Pkcs11KeyAlgorithm, Pkcs11CryptoOptions } from './interop/webcrypto';

// Methods the layers above add to Session (docs/architecture.md): loaded with the entry point.
