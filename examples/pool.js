// Example: a server-style session pool. Requests share up to `size` sessions (capped by the
// token's limits), the token is logged in once, and each request has a deadline through an
// AbortSignal. Every signature is checked with node:crypto.
// Run: node examples/pool.js  (provisions a throw-away SoftHSM token)
'use strict';
const crypto = require('node:crypto');
const { createSoftHSM } = require('../scripts/softhsm.js');
const { Module } = require('../dist/index.js');

(async () => {
  const fx = createSoftHSM();
  const mod = await Module.open(fx.modulePath);
  try {
    const slot = await mod.findSlot(fx.tokens[0].label);
    // A token key the pool's sessions all see (session objects belong to one session).
    const setup = await slot.openSession({ write: true });
    await setup.login(fx.tokens[0].userPin);
    const { publicKey } = await setup.generateKeyPair({ name: 'RSA', modulusLength: 2048 }, { privateKey: { token: true, label: 'api-key' }, publicKey: { token: true, label: 'api-key' } });
    const a = await publicKey.getAttributes(['modulus', 'publicExponent']);
    const nodeKey = crypto.createPublicKey({ key: { kty: 'RSA', n: a.modulus.toString('base64url'), e: a.publicExponent.toString('base64url') }, format: 'jwk' });
    await setup.close();

    const pool = await slot.pool({ size: 3, login: fx.tokens[0].userPin, waitTimeout: 5000 });
    const handle = (body) =>
      pool.use(async (session) => {
        const [key] = await session.findAll({ class: 'privateKey', label: 'api-key' });
        return key.sign({ name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' }, body);
      });
    const bodies = Array.from({ length: 12 }, (_, i) => Buffer.from(`request ${i}`));
    const sigs = await Promise.all(bodies.map(handle));
    const ok = sigs.every((s, i) => crypto.verify('sha256', bodies[i], nodeKey, s));
    console.log(`${sigs.length} requests on ${pool.size} sessions; signatures verified by node:crypto: ${ok}`);

    // A deadline: the signal gives up on the call (here it has already expired).
    const session = await slot.openSession();
    const expired = AbortSignal.abort(new Error('deadline passed'));
    const late = await session.random(16, { signal: expired }).catch((e) => e.message);
    console.log(`aborted call: ${late}`);
    await session.close();
    await pool.close();
    if (!ok || late !== 'deadline passed') process.exit(1);
    console.log('pool example OK');
  } finally {
    await mod.close();
    fx.cleanup();
  }
})().catch((e) => {
  console.error(e);
  process.exit(1);
});
