// The module matrix, p11-kit: a SoftHSM token exported by `p11-kit server` and used through
// p11-kit-client.so over a unix socket (a remote token), and p11-kit-trust.so, the read-only
// trust module over the system CA store. Installed from Debian by scripts/p11kit.js (p11-kit,
// p11-kit-modules, ca-certificates). Notes and timings: docs/modules/p11kit.md.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { X509Certificate } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { runConformance, statuses, expectNoFailures } from './helpers/matrix';
import { runChild, repoRoot } from './helpers/child-process';
import { Module, Certificate, TokenWriteProtectedError, RandomNoRngError } from '../lib/index';

interface SoftHSMFixture {
  dir: string;
  conf: string;
  modulePath: string;
  cleanup(): void;
}
interface P11KitServer {
  address: string;
  socket: string;
  pid: number;
  startupMs: number;
  env: Record<string, string>;
  log(): string;
  stop(o?: { graceMs?: number }): Promise<{ code: number | null; signal: string | null; forced: boolean; stopMs: number; log: string }>;
}
/* eslint-disable @typescript-eslint/no-var-requires */
const softhsm = require('../scripts/softhsm.js') as {
  createSoftHSM(o: { tokens: Array<{ label: string; soPin: string; userPin: string }>; setEnv: false }): SoftHSMFixture;
};
const p11kit = require('../scripts/p11kit.js') as {
  ensureP11KitClient(): string;
  ensureP11KitTrust(): string;
  startP11KitServer(o: { provider: string; tokens: string[]; env?: Record<string, string>; timeoutMs?: number }): Promise<P11KitServer>;
  CA_BUNDLES: string[];
};
/* eslint-enable @typescript-eslint/no-var-requires */

const OPEN = 'open (C_Initialize with CKF_OS_LOCKING_OK)';
const RANDOM_CHILD = `
  const { Module } = require('./dist/index.js');
  (async () => {
    const mod = await Module.open(process.argv[1]);
    const session = await (await mod.findSlot('System Trust')).openSession();
    const e = await session.random(8).then(() => null, (e) => e);
    console.log(e ? e.constructor.name : 'no error');
    await session.close();
    await mod.close();
  })();
`;
const READ_ONLY = 'skip: read-only or no PIN';

describe('module matrix: p11-kit remote token (p11-kit server + p11-kit-client.so)', () => {
  let hsm: SoftHSMFixture;
  let server: P11KitServer;
  let client: string;

  beforeAll(async () => {
    client = p11kit.ensureP11KitClient();
    // Two tokens; only the first is exported, so the client must see exactly one slot.
    hsm = softhsm.createSoftHSM({
      tokens: [
        { label: 'p11kit-remote', soPin: '12345678', userPin: '1234' },
        { label: 'p11kit-hidden', soPin: '87654321', userPin: '5678' },
      ],
      setEnv: false,
    });
    server = await p11kit.startP11KitServer({ provider: hsm.modulePath, tokens: ['p11kit-remote'], env: { SOFTHSM2_CONF: hsm.conf } });
  }, 120_000);

  afterAll(async () => {
    if (server) await server.stop();
    if (hsm) hsm.cleanup();
  });

  test('the server listens on a unix socket in a private dir and prints its address', () => {
    expect(server.address).toBe(`unix:path=${server.socket}`);
    expect(fs.statSync(server.socket).isSocket()).toBe(true);
    expect(fs.statSync(path.dirname(server.socket)).mode & 0o777).toBe(0o700);
    expect(server.log()).toContain(`P11_KIT_SERVER_PID=${server.pid}`);
  });

  test('conformance over the socket: every step passes except AES, whose mechanisms p11-kit RPC drops', () => {
    const r = runConformance({ modulePath: client, token: 'p11kit-remote', userPin: '1234' }, server.env);
    expectNoFailures(r);
    expect(statuses(r)).toEqual({
      [OPEN]: 'pass',
      'module info': 'pass',
      slots: 'pass',
      'token info and mechanisms': 'pass',
      'open session': 'pass',
      'wrong PIN is PinIncorrectError': 'pass',
      login: 'pass',
      random: 'pass',
      'digest SHA-256 equals node': 'pass',
      'EC P-256 key pair, ECDSA verified by node': 'pass',
      'RSA-2048 key pair, PKCS#1 v1.5 SHA-256 verified by node': 'pass',
      // p11-kit 0.24's RPC only forwards mechanisms whose parameters it knows how to serialize
      // (p11_rpc_mechanism_is_supported) and removes the others from C_GetMechanismList.
      'AES-256 key, CBC-PAD round trip': 'skip: no CKM_AES_CBC_PAD',
      'data object create, find, read, destroy': 'pass',
      'find all objects, read class and label in one call each': 'pass',
      'invalid object handle is a typed error': 'pass',
      logout: 'pass',
      'close session': 'pass',
      'close module (C_Finalize)': 'pass',
    });
    expect(r.module).toMatchObject({
      manufacturerID: 'PKCS#11 Kit',
      description: 'PKCS#11 Kit Proxy Module',
      functionCount: 68,
      interface: null,
      slots: 1, // p11kit-hidden and SoftHSM's free slot are not exported
      tokens: 1,
      token: { label: 'p11kit-remote', model: 'SoftHSM v2' },
    });
    const detail = Object.fromEntries(r.steps.map((s) => [s.name, s.detail]));
    expect(detail['EC P-256 key pair, ECDSA verified by node']).toBe('CKM_ECDSA');
    expect(detail['invalid object handle is a typed error']).toBe('ObjectHandleInvalidError');

    // The same token loaded directly offers more mechanisms (AES-CBC-PAD among them).
    const direct = runConformance({ modulePath: hsm.modulePath, token: 'p11kit-remote', userPin: '1234' }, { SOFTHSM2_CONF: hsm.conf });
    expectNoFailures(direct);
    expect(statuses(direct)['AES-256 key, CBC-PAD round trip']).toBe('pass');
    expect(r.module.mechanisms as number).toBeLessThan(direct.module.mechanisms as number);
  });

  test('a second client process is served by the same server (EC only)', () => {
    const r = runConformance({ modulePath: client, token: 'p11kit-remote', userPin: '1234', keys: ['EC'], wrongPinAttempts: 0 }, server.env);
    expectNoFailures(r);
    expect(statuses(r)).toEqual({
      [OPEN]: 'pass',
      'module info': 'pass',
      slots: 'pass',
      'token info and mechanisms': 'pass',
      'open session': 'pass',
      login: 'pass',
      random: 'pass',
      'digest SHA-256 equals node': 'pass',
      'EC P-256 key pair, ECDSA verified by node': 'pass',
      'RSA-2048 key pair, PKCS#1 v1.5 SHA-256 verified by node': 'skip: not requested (config.keys)',
      'AES-256 key, CBC-PAD round trip': 'skip: not requested (config.keys)',
      'data object create, find, read, destroy': 'pass',
      'find all objects, read class and label in one call each': 'pass',
      'invalid object handle is a typed error': 'pass',
      logout: 'pass',
      'close session': 'pass',
      'close module (C_Finalize)': 'pass',
    });
  });

  test('no server at the address: the client initializes, reports "no connection" and no slots', () => {
    const r = runConformance({ modulePath: client, expectNoSlots: true }, { P11_KIT_SERVER_ADDRESS: `unix:path=${path.join(hsm.dir, 'nobody-listens.sock')}` });
    expect(statuses(r)).toEqual({ [OPEN]: 'pass', 'module info': 'pass', slots: 'pass', close: 'pass' });
    expect(r.module).toMatchObject({ manufacturerID: 'p11-kit', description: 'p11-kit (no connection)', slots: 0, tokens: 0 });
  });

  test('the server goes away mid-session: calls fail with typed errors, no crash, C_Finalize fine', async () => {
    const own = await p11kit.startP11KitServer({ provider: hsm.modulePath, tokens: ['p11kit-remote'], env: { SOFTHSM2_CONF: hsm.conf } });
    try {
      const script = path.join(hsm.dir, 'server-gone-child.js');
      fs.writeFileSync(
        script,
        `'use strict';
const p11 = require(${JSON.stringify(path.join(repoRoot, 'dist', 'index.js'))});
(async () => {
  const [modulePath, pgid] = [process.argv[2], Number(process.argv[3])];
  const out = {};
  const mod = await p11.Module.open(modulePath);
  const [slot] = await mod.slots();
  const session = await slot.openSession();
  out.before = (await session.random(8)).length;
  process.kill(-pgid, 'SIGKILL'); // the server and its per-connection p11-kit-remote
  await new Promise((r) => setTimeout(r, 300));
  const calls = { random: () => session.random(8), tokenInfo: () => slot.tokenInfo(), slots: () => mod.slots(), openSession: () => slot.openSession() };
  for (const [name, fn] of Object.entries(calls)) {
    out[name] = await fn().then(() => 'resolved', (e) => (e instanceof p11.Pkcs11Error ? e.name + ' ' + e.rvName + ' ' + e.function : 'untyped ' + e));
  }
  await mod.close();
  out.closed = true;
  console.log(JSON.stringify(out));
})();
`,
      );
      const r = runChild(script, [client, String(own.pid)], { env: own.env, timeoutMs: 60_000 });
      if (r.status !== 0 || !r.json) throw new Error(r.summary);
      expect(r.json).toEqual({
        before: 8,
        random: 'DeviceErrorError CKR_DEVICE_ERROR C_GenerateRandom',
        tokenInfo: 'DeviceErrorError CKR_DEVICE_ERROR C_GetTokenInfo',
        slots: 'DeviceErrorError CKR_DEVICE_ERROR C_GetSlotList',
        openSession: 'DeviceErrorError CKR_DEVICE_ERROR C_OpenSession',
        closed: true,
      });
    } finally {
      const st = await own.stop();
      expect(st.forced).toBe(false);
    }
  });

  test('stop() ends the server and removes its socket dir', async () => {
    const own = await p11kit.startP11KitServer({ provider: hsm.modulePath, tokens: ['p11kit-remote'], env: { SOFTHSM2_CONF: hsm.conf } });
    const st = await own.stop();
    // p11-kit 0.24 leaves its accept loop on SIGTERM, removes the socket and exits with 255
    // (the -1 of the interrupted pselect becomes its return value).
    expect(st).toMatchObject({ code: 255, signal: null, forced: false });
    expect(fs.existsSync(path.dirname(own.socket))).toBe(false);
    expect(() => process.kill(own.pid, 0)).toThrow();
  });
});

describe('module matrix: p11-kit-trust.so (system CA store, read-only)', () => {
  let trust: string;
  let bundle: string;
  beforeAll(() => {
    trust = p11kit.ensureP11KitTrust();
    bundle = p11kit.CA_BUNDLES.find((b) => fs.existsSync(b))!;
  }, 120_000);

  test('typed layer: slots, token, and every certificate object parses with X509Certificate', async () => {
    const mod = await Module.open(trust);
    try {
      const info = await mod.info();
      expect(info).toMatchObject({ manufacturerID: 'PKCS#11 Kit', description: 'PKCS#11 Kit Trust Module', functionCount: 68, interface: null });
      const slots = await mod.slots();
      expect(slots.length).toBeGreaterThanOrEqual(1);
      const slot = (await mod.findSlot('System Trust'))!;
      expect(slot).toBeDefined();
      // The slot description is the trust path it serves.
      expect((await slot.info()).description).toBe(bundle);
      const t = await slot.tokenInfo();
      expect(t.model).toBe('p11-kit-trust');
      expect(t.flags).toMatchObject({ writeProtected: true, loginRequired: false, rng: false, tokenInitialized: true });
      expect(await slot.mechanisms()).toEqual([]);

      const rw = await slot.openSession({ write: true }).then(
        () => null,
        (e: unknown) => e,
      );
      expect(rw).toBeInstanceOf(TokenWriteProtectedError);

      const session = await slot.openSession();
      try {
        // In a child: p11-kit-trust prints "shouldn't be reached at sys_C_GenerateRandom" on stderr
        // (no switch turns it off), which must not land in the test log.
        const child = spawnSync(process.execPath, ['-e', RANDOM_CHILD, trust], { cwd: repoRoot, encoding: 'utf8', timeout: 60_000, killSignal: 'SIGKILL' });
        expect(child.stdout.trim()).toBe(RandomNoRngError.name);
        expect(child.stderr).toContain("shouldn't be reached at sys_C_GenerateRandom");
        const certs = await session.findAll({ class: 'certificate' });
        expect(certs.length).toBeGreaterThan(10);
        const fingerprints = new Set<string>();
        for (const c of certs) {
          expect(c).toBeInstanceOf(Certificate);
          const a = await c.getAttributes(['certificateType', 'value', 'label', 'token', 'modifiable']);
          expect(a).toMatchObject({ certificateType: 'x509', token: true, modifiable: false });
          const x = new X509Certificate(a.value as Buffer);
          expect(x.subject.length).toBeGreaterThan(0);
          expect((await (c as Certificate).x509()).fingerprint256).toBe(x.fingerprint256);
          fingerprints.add(x.fingerprint256);
        }
        // Exactly the certificates of the system bundle, no more, no fewer.
        const pems = fs.readFileSync(bundle, 'utf8').match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g) ?? [];
        const fromBundle = new Set(pems.map((p) => new X509Certificate(p).fingerprint256));
        expect(fingerprints).toEqual(fromBundle);
        // Besides certificates the token holds NSS trust objects and certificate extensions.
        let all = 0;
        for await (const _ of session.find({}, { batchSize: 64 })) all++;
        expect(all).toBeGreaterThan(certs.length);
      } finally {
        await session.close();
      }
    } finally {
      await mod.close();
    }
  });

  test('conformance, read-only with no PIN: public steps pass, the rest skip with their reasons', () => {
    const r = runConformance({ modulePath: trust, readOnly: true });
    expectNoFailures(r);
    expect(statuses(r)).toEqual({
      [OPEN]: 'pass',
      'module info': 'pass',
      slots: 'pass',
      'token info and mechanisms': 'pass',
      'open session': 'pass',
      random: 'skip: token has no RNG (CKF_RNG unset)',
      'digest SHA-256 equals node': 'skip: no CKM_SHA256',
      'EC P-256 key pair, ECDSA verified by node': READ_ONLY,
      'RSA-2048 key pair, PKCS#1 v1.5 SHA-256 verified by node': READ_ONLY,
      'AES-256 key, CBC-PAD round trip': READ_ONLY,
      'data object create, find, read, destroy': READ_ONLY,
      'find all objects, read class and label in one call each': 'pass',
      'invalid object handle is a typed error': 'pass',
      'close session': 'pass',
      'close module (C_Finalize)': 'pass',
    });
    expect(r.module).toMatchObject({
      manufacturerID: 'PKCS#11 Kit',
      description: 'PKCS#11 Kit Trust Module',
      mechanisms: 0,
      token: { label: 'System Trust', model: 'p11-kit-trust' },
    });
    const detail = Object.fromEntries(r.steps.map((s) => [s.name, s.detail]));
    expect(detail['find all objects, read class and label in one call each']).toBe('200 objects'); // the run stops at 200
    expect(detail['invalid object handle is a typed error']).toBe('ObjectHandleInvalidError');
  });
});
