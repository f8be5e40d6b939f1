// Example: a PAdES-B-B signature of a PDF with a token key (an invisible signature field).
// Run: node examples/sign-pdf.js  (provisions a throw-away SoftHSM token)
// Check the result with poppler: pdfsig signed.pdf ("Signature is Valid"). The certificate is
// self-signed by the token key here and stored with the key's CKA_ID, where signPdf finds it.
'use strict';
const crypto = require('node:crypto');
const x509 = require('@peculiar/x509');
const { createSoftHSM } = require('../scripts/softhsm.js');
const { Module, Pkcs11Crypto } = require('../dist/index.js');
const { signPdf, verifyCms } = require('../dist/documents/index.js');

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

/** A one-page PDF with a classic cross-reference table (what the placeholder package reads). */
function onePagePdf() {
  const objects = ['<< /Type /Catalog /Pages 2 0 R >>', '<< /Type /Pages /Kids [3 0 R] /Count 1 >>', '<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] >>'];
  let out = '%PDF-1.7\n';
  const offsets = objects.map((o, i) => {
    const at = out.length;
    out += `${i + 1} 0 obj\n${o}\nendobj\n`;
    return at;
  });
  const xref = out.length;
  out += `xref\n0 ${objects.length + 1}\n0000000000 65535 f \n${offsets.map((o) => `${String(o).padStart(10, '0')} 00000 n \n`).join('')}`;
  out += `trailer\n<< /Size ${objects.length + 1} /Root 1 0 R >>\nstartxref\n${xref}\n%%EOF\n`;
  return Buffer.from(out, 'latin1');
}

(async () => {
  const fx = createSoftHSM();
  const mod = await Module.open(fx.modulePath);
  try {
    const session = await (await mod.findSlot(fx.tokens[0].label)).openSession({ write: true });
    await session.login(fx.tokens[0].userPin);
    const { key, certificate } = await signerOnToken(session);

    const signed = await signPdf(onePagePdf(), { key, reason: 'approved', location: 'Example City' });
    console.log(`signed PDF: ${signed.length} bytes`);

    // What a PDF reader does: the CMS in /Contents over the two byte ranges around it.
    const [a, b, c, d] = /\/ByteRange\s*\[(\d+) (\d+) (\d+) (\d+)\s*\]/.exec(signed.toString('latin1')).slice(1).map(Number);
    const cms = Buffer.from(
      signed
        .subarray(b + 1, c - 1)
        .toString('latin1')
        .replace(/(00)+$/, ''),
      'hex',
    );
    const v = await verifyCms(cms, { data: Buffer.concat([signed.subarray(a, a + b), signed.subarray(c, c + d)]), trusted: [certificate] });
    console.log(`signature over the byte ranges: ${v.valid}`);
    await session.close();
    if (!v.valid) process.exit(1);
    console.log('sign-pdf example OK');
  } finally {
    await mod.close();
    fx.cleanup();
  }
})().catch((e) => {
  console.error(e);
  process.exit(1);
});
