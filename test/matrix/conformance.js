#!/usr/bin/env node
// The module matrix's conformance run: one real PKCS#11 module through the typed layer (dist/),
// in a child process so each module gets the environment it needs (SOFTHSM2_CONF,
// P11_KIT_SERVER_ADDRESS, TPM2_PKCS11_TCTI …) and a crash fails one test instead of jest.
//
//   node test/matrix/conformance.js '<json config>'
// config: {
//   modulePath, initialize?: { libraryParameters?, flags? },
//   token?: label of the token to use (default: the first slot with a token),
//   userPin?, soPin?,            // absent: public operations only
//   wrongPinAttempts?: 0 | 1,    // 0 for tokens that lock quickly (default 1)
//   keys?: ['EC', 'RSA', 'AES'], // key types to generate (default: whatever the mechanism list allows)
//   tokenKeys?: true,            // generate token objects (modules that refuse session keys), destroyed after
//   readOnly?: true,             // never open a read-write session (trust modules)
// }
// Prints one JSON line: { module: {...}, steps: [{ name, status: 'pass'|'fail'|'skip', detail }] }.
// Exit 0 when no step failed.
'use strict';
const crypto = require('node:crypto');
const path = require('node:path');

// P11BRIDGE_PACKAGE=p11bridge: an installed package instead of this checkout's dist/
// (scripts/platform-test.js).
const dist = process.env.P11BRIDGE_PACKAGE || path.join(__dirname, '..', '..', 'dist', 'index.js');
const p11 = require(dist);
const { Module, PinIncorrectError, ObjectHandleInvalidError, Pkcs11Error, CKM_SHA256, CKM_EC_KEY_PAIR_GEN, CKM_RSA_PKCS_KEY_PAIR_GEN, CKM_AES_KEY_GEN, CKM_ECDSA, CKM_SHA256_RSA_PKCS, CKM_AES_CBC_PAD } = p11;

const config = JSON.parse(process.argv[2] || '{}');
const steps = [];
const result = { module: {}, steps };

async function step(name, fn) {
  const t0 = process.hrtime.bigint();
  try {
    const out = await fn();
    const detail = out === undefined ? undefined : out;
    if (detail && detail.skip) steps.push({ name, status: 'skip', detail: detail.skip });
    else steps.push({ name, status: 'pass', detail, ms: Number(process.hrtime.bigint() - t0) / 1e6 });
  } catch (e) {
    steps.push({ name, status: 'fail', detail: `${e && e.name}: ${e && e.message}${e && e.rvName ? ` (${e.rvName} from ${e.function})` : ''}` });
  }
}

function ecPublicKey(ecPoint, curve) {
  // CKA_EC_POINT is a DER OCTET STRING around the point; some modules store the bare point.
  const der = ecPoint[0] === 0x04 && (ecPoint[1] === ecPoint.length - 2 || (ecPoint[1] === 0x81 && ecPoint[2] === ecPoint.length - 3));
  const q = der ? ecPoint.subarray(ecPoint[1] === 0x81 ? 3 : 2) : ecPoint;
  const n = (q.length - 1) / 2;
  return crypto.createPublicKey({ key: { kty: 'EC', crv: curve, x: q.subarray(1, 1 + n).toString('base64url'), y: q.subarray(1 + n).toString('base64url') }, format: 'jwk' });
}

(async () => {
  let mod;
  await step('open (C_Initialize with CKF_OS_LOCKING_OK)', async () => {
    mod = await Module.open(config.modulePath, { initialize: config.initialize });
  });
  if (!mod) return finish();
  await step('module info', async () => {
    const i = await mod.info();
    result.module = { manufacturerID: i.manufacturerID, description: i.description, cryptokiVersion: i.cryptokiVersion, libraryVersion: i.libraryVersion, functionCount: i.functionCount, interface: i.interface };
    return `${i.manufacturerID} / ${i.description} (${i.functionCount} functions)`;
  });
  let slot;
  await step('slots', async () => {
    const all = await mod.slots({ tokenPresent: false });
    const present = await mod.slots();
    result.module.slots = all.length;
    result.module.tokens = present.length;
    for (const s of all) await s.info();
    if (config.token) slot = await mod.findSlot(config.token);
    else slot = present[0];
    if (config.expectNoSlots) {
      if (present.length !== 0) throw new Error(`expected no token, found ${present.length}`);
      return `${all.length} slots, no token`;
    }
    if (!slot) throw new Error(`no token${config.token ? ` labelled '${config.token}'` : ''} among ${present.length}`);
    return `${all.length} slots, ${present.length} with a token`;
  });
  if (!slot) {
    await step('close', () => mod.close());
    return finish();
  }
  let mechs = new Set();
  await step('token info and mechanisms', async () => {
    const t = await slot.tokenInfo();
    result.module.token = { label: t.label, model: t.model, flags: Object.keys(t.flags).filter((k) => t.flags[k]) };
    const list = await slot.mechanisms();
    mechs = new Set(list.map((m) => Number(m.type)));
    result.module.mechanisms = list.length;
    return `${t.label}: ${list.length} mechanisms`;
  });
  const has = (m) => mechs.has(Number(m));
  let session;
  await step('open session', async () => {
    session = await slot.openSession({ write: !config.readOnly });
    const info = await session.info();
    return info.state;
  });
  if (!session) return finish(mod);

  if (config.userPin !== undefined && (config.wrongPinAttempts ?? 1) > 0) {
    await step('wrong PIN is PinIncorrectError', async () => {
      const e = await session.login(config.userPin + '-wrong').then(() => null, (x) => x);
      if (!(e instanceof PinIncorrectError)) throw new Error(`got ${e && e.name} ${e && e.rvName}`);
    });
  }
  if (config.userPin !== undefined) {
    await step('login', () => session.login(config.userPin));
  }
  await step('random', async () => {
    const t = await slot.tokenInfo();
    if (!t.flags.rng) return { skip: 'token has no RNG (CKF_RNG unset)' };
    const r = await session.random(32);
    if (r.length !== 32) throw new Error('short random');
  });
  await step('digest SHA-256 equals node', async () => {
    if (!has(CKM_SHA256)) return { skip: 'no CKM_SHA256' };
    const data = Buffer.from('p11bridge matrix');
    const d = await session.digest({ name: 'SHA-256' }, data);
    if (!d.equals(crypto.createHash('sha256').update(data).digest())) throw new Error('digest differs from node');
  });
  const canWrite = !config.readOnly && config.userPin !== undefined;
  // Why a key step does not run, or null when it does.
  const notRun = (k, m) => {
    if (!canWrite) return 'read-only or no PIN';
    if (config.keys) return config.keys.includes(k) ? null : 'not requested (config.keys)';
    return has(m) ? null : `no ${Object.keys(p11).find((n) => n.startsWith('CKM_') && p11[n] === m)}`;
  };
  const kt = config.tokenKeys ? { token: true } : {};
  const pair = config.tokenKeys ? { privateKey: kt, publicKey: kt } : {};
  await step('EC P-256 key pair, ECDSA verified by node', async () => {
    const why = notRun('EC', CKM_EC_KEY_PAIR_GEN);
    if (why) return { skip: why };
    const { publicKey, privateKey } = await session.generateKeyPair({ name: 'EC', curve: 'P-256' }, pair);
    const data = Buffer.from('matrix ecdsa');
    const sig = await privateKey.sign({ name: 'ECDSA', hash: 'SHA-256' }, data);
    const pub = ecPublicKey(await publicKey.getAttribute('ecPoint'), 'P-256');
    if (!crypto.verify('sha256', data, { key: pub, dsaEncoding: 'ieee-p1363' }, sig)) throw new Error('node rejects the signature');
    if (!(await publicKey.verify({ name: 'ECDSA', hash: 'SHA-256' }, data, sig))) throw new Error('token rejects its own signature');
    if (await publicKey.verify({ name: 'ECDSA', hash: 'SHA-256' }, Buffer.from('other'), sig)) throw new Error('token accepts a wrong signature');
    await privateKey.destroy();
    await publicKey.destroy();
    return has(CKM_ECDSA) ? 'CKM_ECDSA' : 'combined only';
  });
  await step('RSA-2048 key pair, PKCS#1 v1.5 SHA-256 verified by node', async () => {
    const why = notRun('RSA', CKM_RSA_PKCS_KEY_PAIR_GEN);
    if (why) return { skip: why };
    if (!has(CKM_SHA256_RSA_PKCS)) return { skip: 'no CKM_SHA256_RSA_PKCS' };
    const { publicKey, privateKey } = await session.generateKeyPair({ name: 'RSA', modulusLength: 2048 }, pair);
    const data = Buffer.from('matrix rsa');
    const sig = await privateKey.sign({ name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' }, data);
    const a = await publicKey.getAttributes(['modulus', 'publicExponent']);
    const pub = crypto.createPublicKey({ key: { kty: 'RSA', n: a.modulus.toString('base64url'), e: a.publicExponent.toString('base64url') }, format: 'jwk' });
    if (!crypto.verify('sha256', data, pub, sig)) throw new Error('node rejects the signature');
    await privateKey.destroy();
    await publicKey.destroy();
  });
  await step('AES-256 key, CBC-PAD round trip', async () => {
    const why = notRun('AES', CKM_AES_KEY_GEN);
    if (why) return { skip: why };
    if (!has(CKM_AES_CBC_PAD)) return { skip: 'no CKM_AES_CBC_PAD' };
    const key = await session.generateKey({ name: 'AES', length: 256 }, kt);
    const iv = crypto.randomBytes(16);
    const pt = Buffer.from('matrix aes data, longer than one block');
    const ct = await key.encrypt({ name: 'AES-CBC', iv }, pt);
    const back = await key.decrypt({ name: 'AES-CBC', iv }, ct);
    if (!back.equals(pt)) throw new Error('round trip differs');
    await key.destroy();
  });
  await step('data object create, find, read, destroy', async () => {
    if (!canWrite) return { skip: 'read-only or no PIN' };
    const label = `matrix-${process.pid}`;
    const o = await session.createObject({ class: 'data', token: false, label, value: Buffer.from('v') });
    const found = await session.findAll({ class: 'data', label });
    if (found.length !== 1) throw new Error(`found ${found.length}`);
    const a = await found[0].getAttributes(['label', 'value']);
    if (a.label !== label || !a.value.equals(Buffer.from('v'))) throw new Error('attributes differ');
    await o.destroy();
  });
  await step('find all objects, read class and label in one call each', async () => {
    let n = 0;
    for await (const o of session.find({}, { batchSize: 16 })) {
      await o.getAttributes(['class', 'label']);
      if (++n >= 200) break;
    }
    return `${n} objects`;
  });
  await step('invalid object handle is a typed error', async () => {
    const e = await session.object(0x7ffffff0).then(() => null, (x) => x);
    if (!(e instanceof Pkcs11Error)) throw new Error(`got ${e && e.name}`);
    return e instanceof ObjectHandleInvalidError ? 'ObjectHandleInvalidError' : `${e.name} (${e.rvName})`;
  });
  if (config.userPin !== undefined) await step('logout', () => session.logout());
  await step('close session', () => session.close());
  await finish(mod);
})().catch((e) => {
  steps.push({ name: 'runner', status: 'fail', detail: String(e && e.stack) });
  finish();
});

async function finish(mod) {
  if (mod) await step('close module (C_Finalize)', () => mod.close());
  process.stdout.write(JSON.stringify(result) + '\n');
  process.exitCode = steps.some((s) => s.status === 'fail') ? 1 : 0;
}
