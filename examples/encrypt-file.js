// Example: encrypt a multi-MB file on the token with stream.pipeline (AES-CBC with padding), then
// check it with node:crypto; decrypt it back through the token; digest it on the token and
// compare with crypto.createHash.
// Run: node examples/encrypt-file.js  (provisions a throw-away SoftHSM token)
'use strict';
const crypto = require('node:crypto');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { pipeline } = require('node:stream/promises');
const { createSoftHSM } = require('../scripts/softhsm.js');
const { Module } = require('../dist/index.js');

(async () => {
  const fx = createSoftHSM();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'p11bridge-encrypt-file-'));
  const mod = await Module.open(fx.modulePath);
  try {
    const slot = await mod.findSlot(fx.tokens[0].label);
    const session = await slot.openSession({ write: true });
    await session.login(fx.tokens[0].userPin);

    // An AES-256 key from known bytes (a session object), so node:crypto can check the result.
    const keyBytes = crypto.randomBytes(32);
    const key = await session.createObject({ class: 'secretKey', keyType: 'aes', token: false, value: keyBytes, encrypt: true, decrypt: true });

    const plainFile = path.join(dir, 'plain.bin');
    const encFile = path.join(dir, 'plain.bin.enc');
    const decFile = path.join(dir, 'plain.bin.dec');
    const plain = crypto.randomBytes(8 * 1024 * 1024 + 5); // not a multiple of the block size
    fs.writeFileSync(plainFile, plain);

    // File → token (C_EncryptUpdate per chunk, C_EncryptFinal at the end) → file.
    const iv = crypto.randomBytes(16);
    await pipeline(fs.createReadStream(plainFile), session.encryptStream({ name: 'AES-CBC', iv }, key), fs.createWriteStream(encFile));
    const ct = fs.readFileSync(encFile);
    const d = crypto.createDecipheriv('aes-256-cbc', keyBytes, iv);
    const byNode = Buffer.concat([d.update(ct), d.final()]);
    console.log(`encrypted ${plain.length} bytes into ${ct.length}; node:crypto decrypts it: ${byNode.equals(plain)}`);

    // And back through the token.
    await pipeline(fs.createReadStream(encFile), session.decryptStream({ name: 'AES-CBC', iv }, key), fs.createWriteStream(decFile));
    const roundTrip = fs.readFileSync(decFile).equals(plain);
    console.log(`decrypted on the token: ${roundTrip}`);

    // A Writable digest: `result` settles when the pipeline finishes.
    const digest = session.digestStream({ name: 'SHA-256' });
    await pipeline(fs.createReadStream(plainFile), digest);
    const tokenHash = await digest.result;
    const nodeHash = crypto.createHash('sha256').update(plain).digest();
    console.log(`SHA-256 on the token ${tokenHash.toString('hex').slice(0, 16)}… equals node:crypto: ${tokenHash.equals(nodeHash)}`);

    await session.close();
    if (!byNode.equals(plain) || !roundTrip || !tokenHash.equals(nodeHash)) throw new Error('a result did not match node:crypto');
    console.log('encrypt-file example OK');
  } finally {
    await mod.close();
    fs.rmSync(dir, { recursive: true, force: true });
    fx.cleanup();
  }
})().catch((e) => {
  console.error(e);
  process.exit(1);
});
