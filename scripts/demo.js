#!/usr/bin/env node
// Demo: provisions a throw-away SoftHSM token, then drives it through p11bridge's raw layer —
// module and token info, mechanisms, an EC P-256 key pair, a signature made on the token (sync
// and async) and verified by node:crypto — and through the typed layer: a self-signed
// certificate issued with a token key (@peculiar/x509 over p11bridge's WebCrypto provider),
// stored on the token and verified by node:crypto.
'use strict';
const crypto = require('node:crypto');
const { createSoftHSM } = require('./softhsm.js');
// P11BRIDGE_PACKAGE=p11bridge runs the demo on an installed package instead of this checkout's
// dist/ (scripts/platform-test.js: a packed tarball inside an older distribution's root).
const pkg = process.env.P11BRIDGE_PACKAGE;
const raw = require(pkg ? `${pkg}/raw` : '../dist/raw.js');

const P256_OID = Buffer.from('06082a8648ce3d030107', 'hex');

function ecPublicKey(mod, session, handle) {
  const [point] = mod.C_GetAttributeValue(session, handle, [raw.CKA_EC_POINT]);
  // CKA_EC_POINT is a DER OCTET STRING around the uncompressed point 04||X||Y.
  const der = point.value;
  const q = der[1] & 0x80 ? der.subarray(2 + (der[1] & 0x7f)) : der.subarray(2);
  const x = q.subarray(1, 33);
  const y = q.subarray(33, 65);
  return crypto.createPublicKey({
    key: { kty: 'EC', crv: 'P-256', x: x.toString('base64url'), y: y.toString('base64url') },
    format: 'jwk',
  });
}

async function main() {
  const fx = createSoftHSM();
  const mod = new raw.PKCS11();
  try {
    mod.load(fx.modulePath);
    mod.C_Initialize();
    const info = mod.C_GetInfo();
    console.log(`module   ${fx.modulePath}`);
    console.log(`         ${info.manufacturerID} ${info.libraryDescription} ${info.libraryVersion.major}.${info.libraryVersion.minor}, Cryptoki ${info.cryptokiVersion.major}.${info.cryptokiVersion.minor}`);
    console.log(`addon    ${raw.BINDING_PATH}`);

    const slots = mod.C_GetSlotList(true);
    for (const slot of slots) {
      const t = mod.C_GetTokenInfo(slot);
      // SoftHSM always offers one more slot with an uninitialized token (empty label and serial).
      if ((BigInt(t.flags) & BigInt(raw.CKF_TOKEN_INITIALIZED)) === 0n) console.log(`slot ${slot}: a token not initialized yet (SoftHSM's free slot; p11bridge init-token makes it usable)`);
      else console.log(`slot ${slot}: token "${t.label}" serial ${t.serialNumber}, PIN ${t.minPinLen}..${t.maxPinLen} characters`);
    }
    // Slot order is the module's; pick the token by label.
    const slot = slots.find((s) => mod.C_GetTokenInfo(s).label === fx.tokens[0].label);
    const mechs = mod.C_GetMechanismList(slot);
    const names = mechs.map((m) => raw.CKM_NAMES[m] || '0x' + m.toString(16));
    console.log(`mechanisms (${mechs.length}): ${names.slice(0, 12).join(', ')} …`);

    const session = mod.C_OpenSession(slot, raw.CKF_SERIAL_SESSION | raw.CKF_RW_SESSION);
    mod.C_Login(session, raw.CKU_USER, fx.tokens[0].userPin);
    const { publicKey, privateKey } = mod.C_GenerateKeyPair(
      session,
      { mechanism: raw.CKM_EC_KEY_PAIR_GEN },
      [
        { type: raw.CKA_EC_PARAMS, value: P256_OID },
        { type: raw.CKA_VERIFY, value: true },
        { type: raw.CKA_LABEL, value: 'demo-key' },
      ],
      [
        { type: raw.CKA_SIGN, value: true },
        { type: raw.CKA_SENSITIVE, value: true },
        { type: raw.CKA_LABEL, value: 'demo-key' },
      ],
    );
    console.log(`generated EC P-256 key pair: public ${publicKey}, private ${privateKey}`);

    const message = Buffer.from('hello from p11bridge');
    const digest = crypto.createHash('sha256').update(message).digest();
    mod.C_SignInit(session, { mechanism: raw.CKM_ECDSA }, privateKey);
    const sig = mod.C_Sign(session, digest);
    mod.C_SignInit(session, { mechanism: raw.CKM_ECDSA }, privateKey);
    const sigAsync = await mod.C_SignAsync(session, digest);

    const pub = ecPublicKey(mod, session, publicKey);
    const ok = crypto.verify('sha256', message, { key: pub, dsaEncoding: 'ieee-p1363' }, sig);
    const okAsync = crypto.verify('sha256', message, { key: pub, dsaEncoding: 'ieee-p1363' }, sigAsync);
    console.log(`signature ${sig.toString('hex').slice(0, 32)}… verified by node:crypto: ${ok}; async: ${okAsync}`);

    const [sens] = mod.C_GetAttributeValue(session, privateKey, [raw.CKA_VALUE]);
    console.log(`private key CKA_VALUE read: status '${sens.status}'`);
    mod.C_Logout(session);
    try {
      mod.C_Login(session, raw.CKU_USER, 'wrong-pin');
    } catch (e) {
      console.log(`typed error: ${e.name} ${e.rvName} from ${e.function}`);
    }
    mod.C_CloseSession(session);
    mod.C_Finalize();
    if (!ok || !okAsync) throw new Error('signature did not verify');
    if (!(await issueCertificate(fx))) throw new Error('certificate did not verify');
    console.log('demo OK');
  } finally {
    mod.close();
    fx.cleanup();
  }
}

// The typed layer: a certificate whose key never leaves the token.
async function issueCertificate(fx) {
  const { Module, Pkcs11Crypto } = require(pkg || '../dist/index.js');
  // @peculiar/x509 2 resolves its algorithms through tsyringe, which needs a Reflect metadata
  // polyfill loaded first (its README: reflect-metadata); both are devDependencies, not p11bridge's.
  require('reflect-metadata');
  const x509 = require('@peculiar/x509');
  const mod = await Module.open(fx.modulePath);
  try {
    const session = await (await mod.findSlot(fx.tokens[0].label)).openSession({ write: true });
    await session.login(fx.tokens[0].userPin);
    const webcrypto = new Pkcs11Crypto(session);
    x509.cryptoProvider.set(webcrypto);
    const keys = await webcrypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, false, ['sign', 'verify']);
    const cert = await x509.X509CertificateGenerator.createSelfSigned(
      {
        serialNumber: '01',
        name: 'CN=p11bridge demo, O=p11bridge',
        notBefore: new Date(Date.now() - 60_000),
        notAfter: new Date(Date.now() + 86_400_000),
        signingAlgorithm: { name: 'ECDSA', hash: 'SHA-256' },
        keys,
      },
      webcrypto,
    );
    const stored = await session.importCertificate(Buffer.from(cert.rawData), { label: 'demo certificate' });
    const nodeCert = await stored.x509();
    const ok = nodeCert.verify(nodeCert.publicKey);
    console.log(`issued certificate "${nodeCert.subject.replace(/\n/g, ', ')}" with a token key, stored on the token; verified by node:crypto: ${ok}`);
    await session.close();
    return ok;
  } finally {
    await mod.close();
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
