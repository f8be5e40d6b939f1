// Example: an enveloped XAdES-BES signature of an XML document with a token key.
// Run: node examples/sign-xml.js  (provisions a throw-away SoftHSM token; the signer's
// certificate is self-signed by the token key, examples/shared/signer.js)
// Check the result with xmlsec1:
//   xmlsec1 --verify --trusted-pem signer.pem --id-attr:Id 'http://uri.etsi.org/01903/v1.3.2#:SignedProperties' signed.xml
'use strict';
const xadesjs = require('xadesjs');
const { signXml } = require('../dist/documents/index.js');
const { withSigner } = require('./shared/signer.js');

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

withSigner(async ({ key, certificate }) => {
  const xml = '<invoice id="42"><amount currency="EUR">100.00</amount></invoice>';
  const signed = await signXml(xml, { key });
  console.log(`signed XML by ${certificate.subject}: ${signed.length} characters`);
  const ok = await verifies(signed);
  const changed = await verifies(signed.replace('100.00', '900.00'));
  console.log(`verifies: ${ok}; with a changed amount: ${changed}`);
  if (!ok || changed) throw new Error('sign-xml: the XAdES checks failed');
  console.log('sign-xml example OK');
});
