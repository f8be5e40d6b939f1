// Shared by the document-signing examples (sign-cms.js, sign-pdf.js, sign-xml.js); not an example
// itself (the runners take examples/*.js only). It provisions a throw-away SoftHSM token, logs in,
// and puts a signer on it: a token EC P-256 key pair and a certificate for it, self-signed by the
// token key with @peculiar/x509 over the WebCrypto provider and stored with the key's CKA_ID, where
// signCms, signPdf and signXml find it. With a real token, the certificate from your CA is already
// there and only the login is needed.
'use strict';
// @peculiar/x509 2 resolves its algorithms through tsyringe, which needs a Reflect metadata
// polyfill loaded before it (its README's choice: reflect-metadata).
require('reflect-metadata');
const crypto = require('node:crypto');
const x509 = require('@peculiar/x509');
const { createSoftHSM } = require('../../scripts/softhsm.js');
const { Module, Pkcs11Crypto } = require('../../dist/index.js');

/** A token key pair and a self-signed certificate for it, stored with the key's CKA_ID. */
async function signerOnToken(session) {
  const wc = new Pkcs11Crypto(session);
  const alg = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' };
  const keys = await wc.subtle.generateKey(alg, false, ['sign', 'verify']);
  x509.cryptoProvider.set(wc);
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: '01',
    name: 'CN=p11bridge example signer',
    notBefore: new Date(Date.now() - 60_000),
    notAfter: new Date(Date.now() + 86_400_000),
    keys,
    signingAlgorithm: alg,
    extensions: [new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.nonRepudiation, true)],
  });
  const der = Buffer.from(cert.rawData);
  await session.importCertificate(der, { id: await keys.privateKey.key.getAttribute('id'), label: 'signer' });
  return { key: keys.privateKey.key, certificate: new crypto.X509Certificate(der) };
}

/**
 * Runs `example({ session, key, certificate })` on a fresh token with a signer, then closes the
 * session and the module and removes the token. An error (a failed check included) is printed and
 * the process exits with status 1.
 */
function withSigner(example) {
  (async () => {
    const fx = createSoftHSM();
    const mod = await Module.open(fx.modulePath);
    try {
      const session = await (await mod.findSlot(fx.tokens[0].label)).openSession({ write: true });
      try {
        await session.login(fx.tokens[0].userPin);
        await example({ session, ...(await signerOnToken(session)) });
      } finally {
        await session.close();
      }
    } finally {
      await mod.close();
      fx.cleanup();
    }
  })().catch((e) => {
    console.error(e);
    process.exit(1);
  });
}

module.exports = { withSigner, signerOnToken };
