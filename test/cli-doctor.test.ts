// `p11bridge doctor` on the module matrix available here: SoftHSM (a token of its own), NSS softokn
// (with and without its library parameters), OpenSC with no reader, p11-kit's trust module, the
// fault shim over SoftHSM (C_Initialize failing, C_Initialize hanging past the deadline), a shared
// library that is not a PKCS#11 module and a missing file. Everything runs through bin/p11bridge.js
// in child processes. Figures are cross-checked with tools nobody here wrote: pkcs11-tool for the
// mechanism count and slot list, ldd for the glibc version, sha256sum for the addon.
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { cliFixture, runCli, ROOT, CLI_BIN } from './helpers/cli';
import type { CliFixture } from './helpers/cli';
import { shimModule } from './helpers/shim';
import type { ShimModule } from './helpers/shim';
import type { DoctorReport, ModuleReport } from '../lib/cli/commands/doctor';

/* eslint-disable @typescript-eslint/no-var-requires */
const nss = require('../scripts/nss.js') as { createNssDb(o?: { password?: string }): { dir: string; modulePath: string; libraryParameters: string; cleanup(): void } };
const p11kit = require('../scripts/p11kit.js') as { ensureOpenscPkcs11(): string; ensureP11KitTrust(): string; ensurePkcs11Tool(): string };
/* eslint-enable @typescript-eslint/no-var-requires */

// A PIN nobody would print by accident: it is in the children's environment (CLI_PIN) and must
// never show up in anything doctor writes.
const PIN = 'doctor-pin-58213';
const LIBZ = ['/usr/lib/x86_64-linux-gnu/libz.so.1', '/lib/x86_64-linux-gnu/libz.so.1', '/usr/lib/aarch64-linux-gnu/libz.so.1', '/usr/lib64/libz.so.1'].find((p) =>
  fs.existsSync(p),
);

let fx: CliFixture;
let db: ReturnType<typeof nss.createNssDb>;
let failing: ShimModule;
let hanging: ShimModule;
let env: NodeJS.ProcessEnv;
let report: DoctorReport;
let out: { stdout: string; stderr: string };

/** runCli with a longer deadline: doctor waits for every probe, the hanging one included. */
function runDoctor(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [CLI_BIN, ...args], { cwd: ROOT, env, timeout: 200_000, maxBuffer: 64 << 20, encoding: 'utf8' });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

function byPath(p: string): ModuleReport {
  const m = report.modules.find((x) => x.path === p);
  if (!m) throw new Error(`no report for ${p}: ${report.modules.map((x) => x.path).join(', ')}`);
  return m;
}

beforeAll(() => {
  fx = cliFixture('doctor-a', PIN, 'p11bridge-doctor-');
  db = nss.createNssDb();
  failing = shimModule(['rv C_Initialize CKR_GENERAL_ERROR'], { target: fx.modulePath });
  hanging = shimModule(['delay C_Initialize 120000'], { target: fx.modulePath });
  // OpenSC and ykcs11-style modules talk to pcscd: point them at a socket that is not there, so
  // the system's pcscd (if any) is never touched.
  env = { ...fx.env, PCSCLITE_CSOCK_NAME: path.join(fx.tmp, 'no-pcscd.sock') };
  // The deadline covers the probe's Node start-up too: 20 s keeps a loaded CI machine from turning
  // slow starts into timeouts, and stays far below the hanging shim's 120 s.
  const args = ['doctor', '--json', '--no-discover', '--timeout', '20', '--jobs', '2'];
  for (const m of [
    fx.modulePath,
    db.modulePath,
    p11kit.ensureOpenscPkcs11(),
    p11kit.ensureP11KitTrust(),
    failing.path,
    hanging.path,
    LIBZ ?? '/nonexistent/libz.so.1',
    '/nonexistent/module.so',
  ]) {
    args.push('--module', m);
  }
  args.push('--library-parameters', `${db.modulePath}=${db.libraryParameters}`);
  const r = runDoctor(args);
  out = { stdout: r.stdout, stderr: r.stderr };
  if (r.status !== 0) throw new Error(`doctor exited ${String(r.status)}: ${r.stderr}`);
  report = JSON.parse(out.stdout) as DoctorReport;
}, 240_000);

afterAll(() => {
  failing?.cleanup();
  hanging?.cleanup();
  db?.cleanup();
  fx?.cleanup();
});

test('the runtime: Node, platform, libc (as ldd reports it) and the addon in use', () => {
  expect(report.node.version).toBe(process.version);
  expect(report.node.napi).toBe(process.versions.napi);
  expect(report.platform).toBe(process.platform);
  expect(report.arch).toBe(process.arch);
  if (process.platform === 'linux' && report.libc.family === 'glibc') {
    const ldd = execFileSync('ldd', ['--version'], { encoding: 'utf8' }).split('\n')[0];
    expect(ldd.endsWith(` ${report.libc.version}`)).toBe(true);
  }
  const binding = execFileSync(process.execPath, ['-p', `require(${JSON.stringify(path.join(ROOT, 'dist', 'raw.js'))}).BINDING_PATH`], { encoding: 'utf8', env }).trim();
  expect(report.addon.path).toBe(binding);
  expect(['prebuild', 'build']).toContain(report.addon.kind);
  const sum = execFileSync('sha256sum', [binding], { encoding: 'utf8' }).split(' ')[0];
  expect(report.addon.sha256).toBe(sum);
  expect(report.addon.bytes).toBe(fs.statSync(binding).size);
});

test('SoftHSM: info, slots, token flags; the mechanism count and slots agree with pkcs11-tool', () => {
  const m = byPath(fx.modulePath);
  expect(m.status).toBe('ok');
  expect(m.info).toMatchObject({ manufacturerID: 'SoftHSM', cryptokiVersion: '2.40', functionCount: 68, interface: null });
  expect(m.interfaces).toEqual([]);
  const withToken = m.slots?.find((s) => s.token?.label === 'doctor-a');
  expect(withToken?.token?.flags).toEqual(expect.arrayContaining(['tokenInitialized', 'userPinInitialized', 'loginRequired', 'rng']));
  const tool = p11kit.ensurePkcs11Tool();
  const toolEnv = { ...process.env, SOFTHSM2_CONF: fx.conf };
  const mechs = execFileSync(tool, ['--module', fx.modulePath, '--slot', String(withToken?.id), '--list-mechanisms'], { encoding: 'utf8', env: toolEnv });
  const count = mechs.split('\n').filter((l) => /^\s{2}\S/.test(l)).length;
  expect(count).toBeGreaterThan(20);
  expect(withToken?.token?.mechanismCount).toBe(count);
  const slots = execFileSync(tool, ['--module', fx.modulePath, '--list-slots'], { encoding: 'utf8', env: toolEnv });
  expect(m.slots?.length).toBe((slots.match(/^Slot \d+/gm) ?? []).length);
});

test('NSS softokn with its library parameters: 3.0 through C_GetInterface, two slots', () => {
  const m = byPath(db.modulePath);
  expect(m.status).toBe('ok');
  expect(m.libraryParameters).toBe('given');
  expect(m.info).toMatchObject({ manufacturerID: 'Mozilla Foundation', functionCount: 92, interface: 'PKCS 11' });
  expect(m.interfaces?.map((i) => i.name)).toContain('PKCS 11');
  expect(m.slots?.map((s) => s.token?.label)).toEqual(expect.arrayContaining(['NSS Generic Crypto Services', 'NSS Certificate DB']));
});

test('OpenSC with no reader and p11-kit trust load; their slots are reported', () => {
  const opensc = byPath(p11kit.ensureOpenscPkcs11());
  expect(opensc.status).toBe('ok');
  expect(opensc.info?.manufacturerID).toMatch(/OpenSC/);
  expect(Array.isArray(opensc.slots)).toBe(true);
  const trust = byPath(p11kit.ensureP11KitTrust());
  expect(trust.status).toBe('ok');
  expect(trust.info?.manufacturerID).toMatch(/PKCS#11 Kit/);
  expect(trust.slots?.some((s) => s.token !== undefined)).toBe(true);
});

test('modules that fail say how: C_Initialize error, deadline, not a PKCS#11 module, missing file', () => {
  expect(byPath(failing.path)).toMatchObject({ status: 'failed', error: { name: 'GeneralError', code: 'CKR_GENERAL_ERROR', function: 'C_Initialize' } });
  const hung = byPath(hanging.path);
  expect(hung).toMatchObject({ status: 'timeout', error: { name: 'TimeoutError' } });
  expect(hung.durationMs).toBeGreaterThanOrEqual(20_000);
  expect(hung.durationMs).toBeLessThan(60_000);
  if (LIBZ) expect(byPath(LIBZ)).toMatchObject({ status: 'failed', error: { name: 'ModuleLoadError', code: 'NOT_A_PKCS11_MODULE' } });
  expect(byPath('/nonexistent/module.so')).toMatchObject({ status: 'failed', error: { name: 'ModuleLoadError', code: 'MODULE_NOT_FOUND' } });
});

test('no PIN and no library parameters anywhere in the output', () => {
  for (const text of [out.stdout, out.stderr]) {
    expect(text).not.toContain(PIN);
    expect(text).not.toContain(db.libraryParameters);
    expect(text).not.toContain(db.dir);
  }
});

test('NSS softokn without its parameters fails in C_Initialize; text output names each failure', () => {
  const r = runCli(env, ['doctor', '--no-discover', '--module', db.modulePath, '--module', fx.modulePath, '--module', '/nonexistent/module.so']);
  const text = r.stdout.toString('utf8');
  expect(r.status).toBe(0);
  expect(text).toContain(`node:     ${process.version}`);
  expect(text).toMatch(/modules: {2}3 \(1 ok, 2 failed\)/);
  expect(text).toMatch(/libsoftokn3 .*\n {2}FAILED: \w+ CKR_\w+: C_Initialize failed/);
  expect(text).toMatch(/FAILED: ModuleLoadError MODULE_NOT_FOUND/);
  expect(text).toContain("token 'doctor-a' SoftHSM project SoftHSM v2");
  expect(text).not.toContain(PIN);
});

test('discovery: the SoftHSM p11-kit config is found and probed; --only filters by name', () => {
  const r = runCli(env, ['doctor', '--json', '--only', 'softhsm2', '--timeout', '20']);
  expect(r.status).toBe(0);
  const rep = JSON.parse(r.stdout.toString('utf8')) as DoctorReport;
  expect(rep.modules.length).toBeGreaterThanOrEqual(1);
  for (const m of rep.modules) expect(m.name).toBe('softhsm2');
  const found = rep.modules.find((m) => m.status === 'ok');
  expect(found?.source).toMatch(/^(p11-kit-\w+|well-known)$/);
  expect(found?.slots?.some((s) => s.token?.label === 'doctor-a')).toBe(true);
});

test('a library that crashes the process loading it is reported as crashed; the other modules still are', () => {
  const so = path.join(fx.tmp, 'crash-on-load.so');
  execFileSync('cc', ['-shared', '-fPIC', '-o', so, path.join(ROOT, 'test/native/crash-on-load.c')]);
  const r = runCli(env, ['doctor', '--json', '--no-discover', '--module', so, '--module', fx.modulePath]);
  expect(r.status).toBe(0);
  const rep = JSON.parse(r.stdout.toString('utf8')) as DoctorReport;
  expect(rep.modules.map((m) => m.status)).toEqual(['crashed', 'ok']);
  expect(rep.modules[0].error?.message).toMatch(/killed by SIGSEGV/);
});

test('bad options are usage errors', () => {
  expect(runCli(env, ['doctor', '--timeout', 'soon']).status).toBe(64);
  expect(runCli(env, ['doctor', '--no-discover', '--library-parameters', 'no-equals-sign']).status).toBe(64);
  expect(runCli(env, ['doctor', '--jobs', '0']).status).toBe(64);
});
