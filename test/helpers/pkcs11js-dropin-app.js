// The application of test/pkcs11js-dropin.test.ts, run inside an app where npm installed
// graphene-pk11 and node-webcrypto-p11 from the registry with "overrides": { "pkcs11js": <the
// @p11bridge/pkcs11js tarball> }: graphene's README walk-through and node-webcrypto-p11's usage
// on SoftHSM, unmodified libraries, every result checked with node:crypto. Prints one JSON object.
//   node pkcs11js-dropin-app.js <module> <token label> <user PIN> <certificate.der>
'use strict';
const nodeCrypto = require('node:crypto');
const fs = require('node:fs');

const [modulePath, label, pin, certFile] = process.argv.slice(2);
const report = {};
const DATA = Buffer.from('graphene and node-webcrypto-p11 on p11bridge');

function graphene() {
  const graphene = require('graphene-pk11');
  const mod = graphene.Module.load(modulePath, 'SoftHSM');
  mod.initialize();
  try {
    report.module = { libFile: mod.libFile, manufacturerID: mod.manufacturerID.trim(), libraryDescription: mod.libraryDescription.trim(), cryptokiVersion: mod.cryptokiVersion };
    const slots = mod.getSlots(true);
    let slot = null;
    for (let i = 0; i < slots.length; i++) {
      if (slots.items(i).getToken().label.trim() === label) {
        slot = slots.items(i);
        report.slotIndex = i;
      }
    }
    const token = slot.getToken();
    report.slot = { description: slot.slotDescription.trim(), token: token.label.trim(), tokenFlags: token.flags, mechanisms: slot.getMechanisms().length };
    const session = slot.open(graphene.SessionFlag.SERIAL_SESSION | graphene.SessionFlag.RW_SESSION);
    session.login(pin);

    // AES: generate, encrypt + decrypt through graphene; node decrypts the ciphertext too.
    const aes = session.generateKey(graphene.KeyGenMechanism.AES, {
      class: graphene.ObjectClass.SECRET_KEY, keyType: graphene.KeyType.AES, token: false, valueLen: 32,
      label: 'My AES secret key', encrypt: true, decrypt: true, sensitive: false, extractable: true,
    });
    const iv = nodeCrypto.randomBytes(16);
    const alg = { name: 'AES_CBC_PAD', params: iv };
    const cipher = session.createCipher(alg, aes);
    const enc = Buffer.concat([cipher.update(DATA), cipher.final()]);
    const decipher = session.createDecipher(alg, aes);
    const dec = Buffer.concat([decipher.update(enc), decipher.final()]);
    const value = aes.getAttribute({ value: null }).value;
    const nodeDec = nodeCrypto.createDecipheriv('aes-256-cbc', value, iv);
    report.aes = { roundTrip: dec.equals(DATA), nodeDecrypts: Buffer.concat([nodeDec.update(enc), nodeDec.final()]).equals(DATA) };

    // RSA: key pair, sign/verify through graphene; node verifies the signature.
    const rsa = session.generateKeyPair(
      graphene.KeyGenMechanism.RSA,
      { keyType: graphene.KeyType.RSA, modulusBits: 2048, publicExponent: Buffer.from([1, 0, 1]), token: false, verify: true, encrypt: true, wrap: true },
      { keyType: graphene.KeyType.RSA, token: false, sign: true, decrypt: true, unwrap: true },
    );
    const sign = session.createSign('SHA256_RSA_PKCS', rsa.privateKey);
    sign.update(DATA);
    const rsaSig = sign.final();
    const verify = session.createVerify('SHA256_RSA_PKCS', rsa.publicKey);
    verify.update(DATA);
    const verifies = verify.final(rsaSig);
    const pub = rsa.publicKey.getAttribute({ modulus: null, publicExponent: null });
    const rsaKey = nodeCrypto.createPublicKey({ key: { kty: 'RSA', n: pub.modulus.toString('base64url'), e: pub.publicExponent.toString('base64url') }, format: 'jwk' });
    const oaepCt = nodeCrypto.publicEncrypt({ key: rsaKey, oaepHash: 'sha1' }, DATA);
    const rsaDec = session.createDecipher({ name: 'RSA_PKCS_OAEP', params: new graphene.RsaOaepParams() }, rsa.privateKey).once(oaepCt, Buffer.alloc(256));
    report.rsa = { verifies, nodeVerifies: nodeCrypto.verify('sha256', DATA, rsaKey, rsaSig), nodeEncryptedDecrypts: rsaDec.equals(DATA) };

    // EC P-256: key pair, ECDSA over a SHA-256 digest; node verifies.
    const ec = session.generateKeyPair(
      graphene.KeyGenMechanism.EC,
      { keyType: graphene.KeyType.EC, token: false, verify: true, paramsEC: graphene.NamedCurve.getByName('secp256r1').value },
      { keyType: graphene.KeyType.EC, token: false, sign: true },
    );
    const digest = nodeCrypto.createHash('sha256').update(DATA).digest();
    const ecSig = session.createSign('ECDSA', ec.privateKey).once(digest);
    const point = ec.publicKey.getAttribute({ pointEC: null }).pointEC.subarray(2); // DER OCTET STRING → 04|X|Y
    const ecKey = nodeCrypto.createPublicKey({ key: { kty: 'EC', crv: 'P-256', x: point.subarray(1, 33).toString('base64url'), y: point.subarray(33).toString('base64url') }, format: 'jwk' });
    report.ec = {
      verifies: session.createVerify('ECDSA', ec.publicKey).once(digest, ecSig),
      nodeVerifies: nodeCrypto.verify('sha256', DATA, { key: ecKey, dsaEncoding: 'ieee-p1363' }, ecSig),
    };

    // Digest.
    const sha = session.createDigest('sha256');
    sha.update(DATA);
    report.digest = { equalsNode: sha.final().equals(digest) };

    // Find objects: the session's secret key by label, the RSA and EC key pairs by class.
    const secret = session.find({ class: graphene.ObjectClass.SECRET_KEY, label: 'My AES secret key' });
    const privates = session.find({ class: graphene.ObjectClass.PRIVATE_KEY });
    report.find = { secretKeys: secret.length, secretIsAes: secret.length === 1 && secret.items(0).toType().getAttribute({ keyType: null }).keyType === graphene.KeyType.AES, privateKeys: privates.length };

    session.logout();
    session.close();
  } finally {
    mod.finalize();
  }
}

async function webcrypto() {
  const { Crypto } = require('node-webcrypto-p11');
  const crypto = new Crypto({ library: modulePath, name: 'SoftHSM', slot: report.slotIndex, readWrite: true, pin });
  try {
    const keys = await crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, ['sign', 'verify']);
    const sig = Buffer.from(await crypto.subtle.sign({ name: 'ECDSA', hash: 'SHA-256' }, keys.privateKey, DATA));
    const jwk = await crypto.subtle.exportKey('jwk', keys.publicKey);
    const spki = Buffer.from(await crypto.subtle.exportKey('spki', keys.publicKey));
    const nodeKey = nodeCrypto.createPublicKey({ key: jwk, format: 'jwk' });
    const hmac = await crypto.subtle.generateKey({ name: 'HMAC', hash: 'SHA-256', length: 256 }, true, ['sign', 'verify']);
    const raw = Buffer.from(await crypto.subtle.exportKey('raw', hmac));
    const mac = Buffer.from(await crypto.subtle.sign('HMAC', hmac, DATA));
    report.webcrypto = {
      verifies: await crypto.subtle.verify({ name: 'ECDSA', hash: 'SHA-256' }, keys.publicKey, sig, DATA),
      nodeVerifies: nodeCrypto.verify('sha256', DATA, { key: nodeKey, dsaEncoding: 'ieee-p1363' }, sig),
      spkiMatchesJwk: nodeCrypto.createPublicKey({ key: spki, format: 'der', type: 'spki' }).export({ format: 'jwk' }).x === jwk.x,
      hmacEqualsNode: mac.equals(nodeCrypto.createHmac('sha256', raw).update(DATA).digest()),
    };

    // keyStorage: a token key pair, stored, listed, read back and used.
    const stored = await crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256', token: true, label: 'dropin' }, false, ['sign', 'verify']);
    const index = await crypto.keyStorage.setItem(stored.privateKey);
    const keyIds = await crypto.keyStorage.keys();
    const back = await crypto.keyStorage.getItem(index);
    const pubIndex = await crypto.keyStorage.setItem(stored.publicKey);
    const pubBack = await crypto.keyStorage.getItem(pubIndex);
    const sig2 = await crypto.subtle.sign({ name: 'ECDSA', hash: 'SHA-256' }, back, DATA);
    report.keyStorage = { listed: keyIds.includes(index), algorithm: back.algorithm.name, verifies: await crypto.subtle.verify({ name: 'ECDSA', hash: 'SHA-256' }, pubBack, sig2, DATA) };

    // certStorage: an X.509 certificate made by openssl, imported, stored, listed, read back.
    const der = fs.readFileSync(certFile);
    const cert = await crypto.certStorage.importCert('raw', der, { name: 'ECDSA', namedCurve: 'P-256' }, ['verify']);
    const certIndex = await crypto.certStorage.setItem(cert);
    const certIds = await crypto.certStorage.keys();
    const certBack = await crypto.certStorage.getItem(certIndex);
    const exported = Buffer.from(await crypto.certStorage.exportCert('raw', certBack));
    report.certStorage = { listed: certIds.includes(certIndex), sameDer: exported.equals(der), subject: new nodeCrypto.X509Certificate(exported).subject };
  } finally {
    crypto.close();
  }
}

(async () => {
  graphene();
  await webcrypto();
  // Whose native code ran: p11bridge's addon, and no pkcs11js addon (file name pkcs11.node).
  const maps = fs.readFileSync('/proc/self/maps', 'utf8');
  const pkcs11js = require('pkcs11js/package.json');
  report.process = {
    pkcs11jsPackage: pkcs11js.name,
    pkcs11jsNodeMapped: /pkcs11\.node\b/.test(maps),
    pkcs11jsNodeRequired: Object.keys(require.cache).some((k) => /pkcs11js[\\/].*\.node$/.test(k) || /[\\/]pkcs11\.node$/.test(k)),
    p11bridgeMapped: /p11bridge[^\n]*\.node/.test(maps),
  };
  process.stdout.write(JSON.stringify(report) + '\n');
})().catch((e) => {
  console.error(e && e.stack ? e.stack : e);
  process.exit(1);
});
