// @peculiar/x509 for the tests. Version 2 resolves its algorithms through tsyringe, which throws
// "tsyringe requires a reflect polyfill" unless a Reflect metadata polyfill is loaded before it:
// its README's choice, reflect-metadata, is imported first here. Tests take x509 from this file
// only, so the polyfill stays test-side (lib/ never loads either package).
import 'reflect-metadata';

// Untyped, as the tests always used it: x509's declarations take the DOM `Crypto`, which neither
// node's webcrypto nor Pkcs11Crypto satisfies under TypeScript 5.9's ArrayBuffer generics, although
// both work at run time (each test cross-checks the result with openssl or node:crypto).
// eslint-disable-next-line @typescript-eslint/no-var-requires
export const x509 = require('@peculiar/x509');
