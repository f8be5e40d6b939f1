// Example: the WebCrypto provider. A token ECDH key agrees an AES-GCM key with node's WebCrypto
// (each side derives it; the token's never leaves the token), the token key pair is stored on the
// token with keyStorage, and a second session, as a later process would, finds it again by index.
// Run: node examples/webcrypto.js  (provisions a throw-away SoftHSM token)
'use strict';
const crypto = require('node:crypto');
const { createSoftHSM } = require('../scripts/softhsm.js');
const { Module, Pkcs11Crypto } = require('../dist/index.js');

const node = crypto.webcrypto.subtle;

async function main(fx) {
  const mod = await Module.open(fx.modulePath);
  try {
    const slot = await mod.findSlot(fx.tokens[0].label);
    const session = await slot.openSession({ write: true });
    await session.login(fx.tokens[0].userPin);
    const wc = new Pkcs11Crypto(session);

    // Both sides make an ECDH P-256 key pair; the token's private key is sensitive.
    const mine = await wc.subtle.generateKey({ name: 'ECDH', namedCurve: 'P-256' }, false, ['deriveKey']);
    const theirs = await node.generateKey({ name: 'ECDH', namedCurve: 'P-256' }, true, ['deriveKey']);

    // Each side derives AES-256-GCM from its private key and the other's public key.
    const onToken = await wc.subtle.deriveKey({ name: 'ECDH', public: theirs.publicKey }, mine.privateKey, { name: 'AES-GCM', length: 256 }, false, ['encrypt', 'decrypt']);
    const tokenPublic = await node.importKey('spki', await wc.subtle.exportKey('spki', mine.publicKey), { name: 'ECDH', namedCurve: 'P-256' }, true, []);
    const inNode = await node.deriveKey({ name: 'ECDH', public: tokenPublic }, theirs.privateKey, { name: 'AES-GCM', length: 256 }, false, ['encrypt', 'decrypt']);

    const iv = crypto.randomBytes(12);
    const message = Buffer.from('agreed by ECDH, sealed on the token');
    const sealed = await wc.subtle.encrypt({ name: 'AES-GCM', iv }, onToken, message);
    const opened = Buffer.from(await node.decrypt({ name: 'AES-GCM', iv }, inNode, sealed));
    console.log(`node opened what the token sealed with the agreed key: ${opened.equals(message)}`);

    // Keep the token's ECDH key pair: token objects with a shared CKA_ID.
    const index = await wc.keyStorage.setItem(mine.privateKey, { label: 'example ecdh' });
    await wc.keyStorage.setItem(mine.publicKey, { label: 'example ecdh' });
    console.log(`stored as ${index}`);

    // Later (here: another session), the key is found by its index and agrees the same key again.
    const later = new Pkcs11Crypto(await slot.openSession());
    const stored = await later.keyStorage.getItem(index);
    console.log(`found again: ${stored.algorithm.name} ${stored.algorithm.namedCurve}, usages ${stored.usages.join(', ')}`);
    const again = await later.subtle.deriveKey({ name: 'ECDH', public: theirs.publicKey }, stored, { name: 'AES-GCM', length: 256 }, false, ['decrypt']);
    const reopened = Buffer.from(await later.subtle.decrypt({ name: 'AES-GCM', iv }, again, sealed));
    console.log(`the stored key derives the same AES key: ${reopened.equals(message)}`);

    await later.session.close();
    await session.close();
    if (!opened.equals(message) || !reopened.equals(message)) throw new Error('a result did not match');
    console.log('webcrypto example OK');
  } finally {
    await mod.close();
  }
}

const fixture = createSoftHSM();
main(fixture)
  .catch((e) => {
    console.error(e);
    process.exitCode = 1;
  })
  .finally(() => fixture.cleanup());
