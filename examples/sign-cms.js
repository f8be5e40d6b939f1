// Example: a detached CMS / CAdES-BES signature of a file with a token key, and its verification.
// Run: node examples/sign-cms.js  (provisions a throw-away SoftHSM token)
// The certificate here is self-signed by the token key (@peculiar/x509 over the WebCrypto
// provider) and stored with the key's CKA_ID, where signCms finds it; with a real token, the
// certificate from your CA is already there.
'use strict';
const crypto = require('node:crypto');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const x509 = require('@peculiar/x509');
const { createSoftHSM } = require('../scripts/softhsm.js');
const { Module, Pkcs11Crypto } = require('../dist/index.js');
const { signCms, verifyCms } = require('../dist/documents/index.js');

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

(async () => {
  const fx = createSoftHSM();
  const mod = await Module.open(fx.modulePath);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'p11bridge-example-'));
  try {
    const session = await (await mod.findSlot(fx.tokens[0].label)).openSession({ write: true });
    await session.login(fx.tokens[0].userPin);
    const { key, certificate } = await signerOnToken(session);

    const file = path.join(dir, 'contract.txt');
    fs.writeFileSync(file, 'The parties agree.\n'.repeat(10000));
    // The file streams through the hash; the token signs only the signed attributes.
    const signed = await signCms(fs.createReadStream(file), { key });
    fs.writeFileSync(path.join(dir, 'contract.txt.p7s'), signed.der);
    console.log(`signed ${signed.length} bytes: ${signed.der.length}-byte CMS by ${signed.certificate.subject}`);
    // openssl cms -verify -binary -inform DER -in contract.txt.p7s -content contract.txt -CAfile signer.pem

    const v = await verifyCms(signed.der, { data: fs.createReadStream(file), trusted: [certificate] });
    console.log(`verifyCms: ${v.valid}`);
    const tampered = await verifyCms(signed.der, { data: Buffer.from('The parties disagree.\n'), trusted: [certificate] });
    console.log(`changed content: ${tampered.valid} (${tampered.signers[0].reason})`);
    await session.close();
    if (!v.valid || tampered.valid) process.exit(1);
    console.log('sign-cms example OK');
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
    await mod.close();
    fx.cleanup();
  }
})().catch((e) => {
  console.error(e);
  process.exit(1);
});
