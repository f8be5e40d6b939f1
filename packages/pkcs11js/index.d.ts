// Types of pkcs11js 2.1.7 (PKCS11, Pkcs11Error, NativeError, the constants, Template, Handle …).
export * from 'p11bridge/pkcs11js';
