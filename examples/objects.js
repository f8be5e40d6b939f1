// Example: objects come back typed by class (Data, Certificate, PrivateKey …), attributes are read
// in one batched call, and find() is an async iterator that always finalizes the search.
// Run: node examples/objects.js  (provisions a throw-away SoftHSM token)
'use strict';
const { createSoftHSM } = require('../scripts/softhsm.js');
const { Module } = require('../dist/index.js');

(async () => {
  const fx = createSoftHSM();
  const mod = await Module.open(fx.modulePath);
  try {
    const slot = await mod.findSlot(fx.tokens[0].label);
    const session = await slot.openSession({ write: true });
    await session.login(fx.tokens[0].userPin);

    await session.createObject({ class: 'data', token: true, label: 'config', application: 'example', value: Buffer.from('{"a":1}') });
    await session.generateKeyPair({ name: 'EC', curve: 'P-256' }, { privateKey: { label: 'signer', id: Buffer.from('01', 'hex'), token: true }, publicKey: { label: 'signer', token: true } });
    await session.generateKey({ name: 'AES', length: 256 }, { label: 'wrapping', token: true, wrap: true, unwrap: true });

    const seen = [];
    for await (const obj of session.find({ token: true }, { batchSize: 2 })) {
      // One C_GetAttributeValue for all names; what the object lacks is in `unreadable`.
      const a = await obj.getAttributes(['class', 'label', 'keyType', 'sensitive']);
      seen.push(`${obj.constructor.name}:${a.label}`);
      console.log(`${obj.constructor.name.padEnd(10)} label=${a.label} class=${a.class} keyType=${a.keyType ?? '-'} unreadable=${Object.keys(a.unreadable).join(',') || '-'}`);
    }
    const [config] = await session.findAll({ class: 'data', label: 'config' });
    const value = JSON.parse((await config.value()).toString());
    await session.close();
    const expected = ['Data:config', 'PrivateKey:signer', 'PublicKey:signer', 'SecretKey:wrapping'];
    if (seen.sort().join() !== expected.join() || value.a !== 1) throw new Error(`unexpected objects: ${seen}`);
    console.log('objects example OK');
  } finally {
    await mod.close();
    fx.cleanup();
  }
})().catch((e) => {
  console.error(e);
  process.exit(1);
});
