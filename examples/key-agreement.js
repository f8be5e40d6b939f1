// Example: ECDH between a token key and a node:crypto peer (both sides get the same secret), then
// the agreed key wraps another key with AES-KW: node unwraps it, and so does the token.
// Run: node examples/key-agreement.js  (provisions a throw-away SoftHSM token)
'use strict';
const crypto = require('node:crypto');
const { createSoftHSM } = require('../scripts/softhsm.js');
const { Module, rawEcPoint } = require('../dist/index.js');

const RFC3394_IV = Buffer.from('a6a6a6a6a6a6a6a6', 'hex');

(async () => {
  const fx = createSoftHSM();
  const mod = await Module.open(fx.modulePath);
  try {
    const slot = await mod.findSlot(fx.tokens[0].label);
    const session = await slot.openSession({ write: true });
    await session.login(fx.tokens[0].userPin);

    // The token's side: a P-256 key pair whose private key may derive.
    const { publicKey, privateKey } = await session.generateKeyPair({ name: 'EC', curve: 'P-256' }, { privateKey: { derive: true } });
    const tokenPoint = rawEcPoint(await publicKey.getAttribute('ecPoint')); // CKA_EC_POINT without its DER wrapper

    // node's side.
    const peer = crypto.createECDH('prime256v1');
    peer.generateKeys();
    const nodeSecret = peer.computeSecret(tokenPoint);

    // ECDH on the token (CKD_NULL: the shared x coordinate itself), as a readable AES key here so
    // the example can compare it; a real one would stay sensitive.
    const kek = await privateKey.derive(
      { name: 'ECDH', publicKey: peer.getPublicKey() },
      { keyType: 'aes', valueLen: 32, sensitive: false, extractable: true, wrap: true, unwrap: true },
    );
    const tokenSecret = await kek.getAttribute('value');
    const agreed = tokenSecret.equals(nodeSecret);
    console.log(`ECDH secret on the token equals node computeSecret: ${agreed}`);

    // A key to move: sensitive, but extractable (wrapping needs that).
    const dataKey = await session.generateKey({ name: 'AES', length: 256 }, { extractable: true });
    const iv = crypto.randomBytes(12);
    const message = Buffer.from('sealed under the wrapped key');
    const sealed = await dataKey.encrypt({ name: 'AES-GCM', iv }, message);

    // AES-KW (RFC 3394) under the agreed key; node unwraps with the secret it computed itself.
    // 'aes256-wrap' is OpenSSL's alias of id-aes256-wrap, and the name Deno's node:crypto knows.
    const wrapped = await kek.wrap({ name: 'AES-KW' }, dataKey);
    const unwrappedByNode = crypto.createDecipheriv('aes256-wrap', nodeSecret, RFC3394_IV);
    const dataKeyBytes = Buffer.concat([unwrappedByNode.update(wrapped), unwrappedByNode.final()]);
    const g = crypto.createDecipheriv('aes-256-gcm', dataKeyBytes, iv);
    g.setAuthTag(sealed.subarray(-16));
    const openedByNode = Buffer.concat([g.update(sealed.subarray(0, -16)), g.final()]);
    console.log(`node unwrapped the key and opened the message: ${openedByNode.equals(message)}`);

    // The token unwraps it too (the template must say the class and key type).
    const back = await kek.unwrap({ name: 'AES-KW' }, wrapped, { class: 'secretKey', keyType: 'aes' });
    const openedByToken = await back.decrypt({ name: 'AES-GCM', iv }, sealed);
    console.log(`the token's unwrapped key opens it as well: ${openedByToken.equals(message)}`);

    await session.close();
    if (!agreed || !openedByNode.equals(message) || !openedByToken.equals(message)) throw new Error('a result did not match node:crypto');
    console.log('key-agreement example OK');
  } finally {
    await mod.close();
    fx.cleanup();
  }
})().catch((e) => {
  console.error(e);
  process.exit(1);
});
