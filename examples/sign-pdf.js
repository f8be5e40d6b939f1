// Example: a PAdES-B-B signature of a PDF with a token key (an invisible signature field).
// Run: node examples/sign-pdf.js  (provisions a throw-away SoftHSM token)
// Check the result with poppler: pdfsig signed.pdf ("Signature is Valid"). The certificate is
// self-signed by the token key here and stored with the key's CKA_ID, where signPdf finds it
// (examples/shared/signer.js).
'use strict';
const { signPdf, verifyCms } = require('../dist/documents/index.js');
const { withSigner } = require('./shared/signer.js');

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

withSigner(async ({ key, certificate }) => {
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
  if (!v.valid) throw new Error('sign-pdf: the signature over the byte ranges does not verify');
  console.log('sign-pdf example OK');
});
