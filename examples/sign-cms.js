// Example: a detached CMS / CAdES-BES signature of a file with a token key, and its verification.
// Run: node examples/sign-cms.js  (provisions a throw-away SoftHSM token)
// The certificate here is self-signed by the token key and stored with the key's CKA_ID, where
// signCms finds it (examples/shared/signer.js); with a real token, the certificate from your CA
// is already there.
'use strict';
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { signCms, verifyCms } = require('../dist/documents/index.js');
const { withSigner } = require('./shared/signer.js');

withSigner(async ({ key, certificate }) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'p11bridge-example-'));
  try {
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
    if (!v.valid || tampered.valid) throw new Error('sign-cms: the CMS checks failed');
    console.log('sign-cms example OK');
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
