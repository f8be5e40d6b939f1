// A WebCrypto provider over token keys: `new Pkcs11Crypto(session)` has `subtle` (the
// SubtleCrypto methods, run on the token through the typed layer), `keyStorage` and
// `certStorage` (token objects that outlive the session), and `getRandomValues`.
// Libraries that take a `Crypto` (e.g. @peculiar/x509's cryptoProvider) can use token keys.
//
// - Private and secret keys stay on the token (sensitive): `exportKey` is for public keys, and
//   `wrapKey` exports the others encrypted, by the token itself.
// - Public keys imported with `importKey('spki' | 'jwk' | 'raw')` become token session objects by
//   default; `new Pkcs11Crypto(session, { importPublicKeys: 'node' })` keeps them as node:crypto
//   KeyObjects and verifies and encrypts in node instead.
// - `getRandomValues` must be synchronous, and the token's RNG is not (C_GenerateRandom runs off
//   the event loop), so it fills the array from node:crypto. `crypto.randomBytes(n)` on the token
//   is `session.random(n)`.
import * as nodeCrypto from 'node:crypto';
import type { Session } from '../../session/session';
import { Pkcs11SubtleCrypto, Pkcs11CryptoOptions } from './subtle';
import { Pkcs11CertificateStorage, Pkcs11KeyStorage } from './storage';

export { Pkcs11SubtleCrypto } from './subtle';
export type { Pkcs11CryptoOptions } from './subtle';
export { Pkcs11CryptoKey } from './key';
export type { Pkcs11KeyAlgorithm } from './algorithms';
export { Pkcs11KeyStorage, Pkcs11CertificateStorage } from './storage';

/**
 * A `Crypto`-shaped object over a session: `subtle` runs on the token; `getRandomValues` and
 * `randomUUID` use node:crypto, because WebCrypto's getRandomValues is synchronous and the
 * token's RNG (C_GenerateRandom, `session.random(n)`) is not.
 */
export class Pkcs11Crypto {
  readonly subtle: Pkcs11SubtleCrypto;
  readonly keyStorage: Pkcs11KeyStorage;
  readonly certStorage: Pkcs11CertificateStorage;

  constructor(
    readonly session: Session,
    options: Pkcs11CryptoOptions = {},
  ) {
    this.subtle = new Pkcs11SubtleCrypto(session, options);
    this.keyStorage = new Pkcs11KeyStorage(session);
    this.certStorage = new Pkcs11CertificateStorage(session);
  }

  get [Symbol.toStringTag](): string {
    return 'Crypto';
  }

  /** node:crypto's CSPRNG (synchronous, so not the token's); at most 65536 bytes, as in WebCrypto. */
  getRandomValues<T extends NodeJS.ArrayBufferView | null>(array: T): T {
    return nodeCrypto.webcrypto.getRandomValues(array as never) as T;
  }

  randomUUID(): string {
    return nodeCrypto.randomUUID();
  }
}
