// Example: an enveloped XAdES-BES signature of an XML document with a token key.
// Run: node examples/sign-xml.js  (provisions a throw-away SoftHSM token)
// Check the result with xmlsec1:
//   xmlsec1 --verify --trusted-pem signer.pem --id-attr:Id 'http://uri.etsi.org/01903/v1.3.2#:SignedProperties' signed.xml
'use strict';
const crypto = require('node:crypto');
const x509 = require('@peculiar/x509');
const xadesjs = require('xadesjs');
const { createSoftHSM } = require('../scripts/softhsm.js');
const { Module, Pkcs11Crypto } = require('../dist/index.js');
const { signXml } = require('../dist/documents/index.js');

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

/** Verifies the first ds:Signature with xadesjs (the certificate comes from its KeyInfo); a changed reference throws there. */
async function verifies(xml) {
  const doc = xadesjs.Parse(xml);
  const signed = new xadesjs.SignedXml(doc);
  signed.LoadXml(doc.getElementsByTagNameNS('http://www.w3.org/2000/09/xmldsig#', 'Signature')[0]);
  try {
    return await signed.Verify();
  } catch {
    return false;
  }
}

(async () => {
  const fx = createSoftHSM();
  const mod = await Module.open(fx.modulePath);
  try {
    const session = await (await mod.findSlot(fx.tokens[0].label)).openSession({ write: true });
    await session.login(fx.tokens[0].userPin);
    const { key, certificate } = await signerOnToken(session);

    const xml = '<invoice id="42"><amount currency="EUR">100.00</amount></invoice>';
    const signed = await signXml(xml, { key });
    console.log(`signed XML by ${certificate.subject}: ${signed.length} characters`);
    const ok = await verifies(signed);
    const changed = await verifies(signed.replace('100.00', '900.00'));
    console.log(`verifies: ${ok}; with a changed amount: ${changed}`);
    await session.close();
    if (!ok || changed) process.exit(1);
    console.log('sign-xml example OK');
  } finally {
    await mod.close();
    fx.cleanup();
  }
})().catch((e) => {
  console.error(e);
  process.exit(1);
});
