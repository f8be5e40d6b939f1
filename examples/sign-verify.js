// Example: sign on a token with the typed layer and verify with node:crypto.
// Run: node examples/sign-verify.js  (provisions a throw-away SoftHSM token)
'use strict';
const crypto = require('node:crypto');
const { createSoftHSM } = require('../scripts/softhsm.js');
const { Module } = require('../dist/index.js');

(async () => {
  const fx = createSoftHSM();
  const mod = await Module.open(fx.modulePath);
  try {
    const slot = await mod.findSlot(fx.tokens[0].label);
    const session = await slot.openSession({ write: true });
    await session.login(fx.tokens[0].userPin);
    const { publicKey, privateKey } = await session.generateKeyPair({ name: 'EC', curve: 'P-256' });
    const data = Buffer.from('example');
    const sig = await privateKey.sign({ name: 'ECDSA', hash: 'SHA-256' }, data);
    const q = (await publicKey.getAttribute('ecPoint')).subarray(2);
    const jwk = { kty: 'EC', crv: 'P-256', x: q.subarray(1, 33).toString('base64url'), y: q.subarray(33).toString('base64url') };
    const ok = crypto.verify('sha256', data, { key: crypto.createPublicKey({ key: jwk, format: 'jwk' }), dsaEncoding: 'ieee-p1363' }, sig);
    console.log(`signature verified by node:crypto: ${ok}`);
    await session.close();
    if (!ok) process.exit(1);
    console.log('sign-verify example OK');
  } finally {
    await mod.close();
    fx.cleanup();
  }
})().catch((e) => {
  console.error(e);
  process.exit(1);
});
