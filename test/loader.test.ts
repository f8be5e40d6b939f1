// Loading modules: every failure is a ModuleLoadError with a code, the path and the system
// loader's own text; one handle per real path shared by every PKCS11 object; C_Initialize shared
// and C_Finalize only by the last user; RTLD_DEEPBIND on and off.
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { PKCS11, ModuleLoadError } from '../lib/raw';
import { fixture, ensurePkcs11Spy } from './helpers/softhsm';
import { runChild, expectCleanExit } from './helpers/child-process';

const modulePath = fixture().modulePath;
const realModulePath = fs.realpathSync(modulePath);
let tmp: string;

beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'p11bridge-loader-'));
});
afterAll(() => {
  fs.rmSync(tmp, { recursive: true, force: true });
});

function loadError(p: string, options?: { deepBind?: boolean }): ModuleLoadError {
  const m = new PKCS11();
  try {
    m.load(p, options);
  } catch (e) {
    // A failed load leaves the object empty.
    expect(m.moduleInfo()).toBeNull();
    return e as ModuleLoadError;
  }
  m.close();
  throw new Error(`load(${p}) succeeded`);
}

/** The dynamic loader's own message for a file, through Node's process.dlopen (also dlopen). */
function dlopenText(p: string): string {
  try {
    process.dlopen({ exports: {} } as NodeJS.Module, p);
  } catch (e) {
    return (e as Error).message;
  }
  throw new Error('process.dlopen succeeded for ' + p);
}

/** A copy of an x86-64 shared library with one ELF header byte changed. */
function patchedCopy(name: string, offset: number, value: number): string {
  const src = fs.realpathSync('/usr/lib/x86_64-linux-gnu/libz.so.1');
  const bytes = fs.readFileSync(src);
  const p = path.join(tmp, name);
  bytes[offset] = value;
  fs.writeFileSync(p, bytes);
  return p;
}

const ELF_MAGIC = Buffer.from([0x7f, 0x45, 0x4c, 0x46]);

/** A 32-bit (ELFCLASS32) x86 shared object installed on this machine, if any. */
function find32BitLibrary(): string | null {
  const dirs = ['/usr/lib/i386-linux-gnu', '/lib/i386-linux-gnu', '/usr/lib32', '/lib32', '/usr/libexec/valgrind', '/usr/lib/valgrind'];
  for (const d of dirs) {
    let names: string[];
    try {
      names = fs.readdirSync(d);
    } catch {
      continue;
    }
    for (const n of names.filter((x) => /\.so(\.|$)/.test(x)).sort()) {
      const p = path.join(d, n);
      try {
        const fd = fs.openSync(p, 'r');
        const h = Buffer.alloc(20);
        fs.readSync(fd, h, 0, 20, 0);
        fs.closeSync(fd);
        // ELF, ELFCLASS32, little-endian, ET_DYN, EM_386
        if (h.subarray(0, 4).equals(ELF_MAGIC) && h[4] === 1 && h[5] === 1 && h.readUInt16LE(16) === 3 && h.readUInt16LE(18) === 3) return p;
      } catch {
        /* unreadable */
      }
    }
  }
  return null;
}

function expectLoadError(e: ModuleLoadError, code: string, p: string): void {
  expect(e).toBeInstanceOf(ModuleLoadError);
  expect(e).toBeInstanceOf(Error);
  expect(e.name).toBe('ModuleLoadError');
  expect(e.code).toBe(code);
  expect(e.path).toBe(p);
  expect(e.message).toContain(p);
}

describe('load() failures', () => {
  test('a missing path: MODULE_NOT_FOUND', () => {
    const p = path.join(tmp, 'no-such-module.so');
    const e = loadError(p);
    expectLoadError(e, 'MODULE_NOT_FOUND', p);
    expect(e.message).toContain('No such file or directory');
    expect(e.rv).toBeUndefined();
  });

  test('a directory: MODULE_IS_DIRECTORY', () => {
    const e = loadError(tmp);
    expectLoadError(e, 'MODULE_IS_DIRECTORY', tmp);
  });

  test("a text file: MODULE_LOAD_FAILED with the dynamic loader's text ('invalid ELF header')", () => {
    const p = path.join(tmp, 'not-a-library.so');
    fs.writeFileSync(p, 'This is a text file, not a shared library. '.repeat(4));
    const e = loadError(p);
    expectLoadError(e, 'MODULE_LOAD_FAILED', p);
    expect(e.message).toContain('invalid ELF header');
    expect(e.message).toContain(dlopenText(p));
  });

  test('an empty file: MODULE_LOAD_FAILED with the loader text', () => {
    const p = path.join(tmp, 'empty.so');
    fs.writeFileSync(p, '');
    const e = loadError(p);
    expectLoadError(e, 'MODULE_LOAD_FAILED', p);
    expect(e.message).toContain(dlopenText(p));
  });

  test('a real shared library without PKCS#11 symbols (libz): NOT_A_PKCS11_MODULE', () => {
    const p = '/usr/lib/x86_64-linux-gnu/libz.so.1';
    expect(fs.existsSync(p)).toBe(true);
    const e = loadError(p);
    expectLoadError(e, 'NOT_A_PKCS11_MODULE', p);
    expect(e.message).toMatch(/C_GetInterface|C_GetFunctionList/);
  });

  test("a 32-bit library (an installed i386 .so, else a copy patched to ELFCLASS32): MODULE_LOAD_FAILED, 'wrong ELF class'", () => {
    const p = find32BitLibrary() ?? patchedCopy('elfclass32.so', 4, 1);
    const e = loadError(p);
    expectLoadError(e, 'MODULE_LOAD_FAILED', p);
    expect(e.message).toContain('wrong ELF class: ELFCLASS32');
    expect(e.message).toContain(dlopenText(p));
  });

  test('an x86-64 library patched to e_machine EM_AARCH64: MODULE_LOAD_FAILED with the loader text', () => {
    const p = patchedCopy('aarch64.so', 18, 183);
    const text = dlopenText(p);
    const e = loadError(p);
    expectLoadError(e, 'MODULE_LOAD_FAILED', p);
    // glibc rejects a foreign machine without saying so: its text is "cannot open shared object
    // file: No such file or directory" although the file exists, which is why load() checks the
    // path itself first and does not report MODULE_NOT_FOUND here.
    expect(text).toContain(p);
    expect(e.message).toContain(text);
    expect(e.message).toMatch(/ELF file's machine|wrong ELF class|cannot open shared object file/);
  });

  test('bad load() arguments: TypeError / RangeError naming the argument', () => {
    const m = new PKCS11();
    const call =
      (...args: unknown[]) =>
      () =>
        (m.load as (...a: unknown[]) => void)(...args);
    expect(call()).toThrow(TypeError);
    expect(call(42)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE', message: expect.stringContaining("load: argument 'path'") }));
    expect(call('')).toThrow(expect.objectContaining({ code: 'ERR_OUT_OF_RANGE', message: expect.stringContaining("load: argument 'path'") }));
    expect(call('')).toThrow(RangeError);
    expect(call(modulePath, 5)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE', message: expect.stringContaining("argument 'options'") }));
    expect(call(modulePath, { deepBind: 'yes' })).toThrow(
      expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE', message: expect.stringContaining("argument 'options.deepBind'") }),
    );
    expect(m.moduleInfo()).toBeNull();
  });
});

describe('load() state', () => {
  test('load twice on one object: ERR_P11_STATE; after close() it loads again', () => {
    const m = new PKCS11();
    m.load(modulePath);
    let err: unknown;
    try {
      m.load(modulePath);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(Error);
    expect(err).not.toBeInstanceOf(ModuleLoadError);
    expect(err).toMatchObject({ code: 'ERR_P11_STATE', message: expect.stringContaining('load') });
    expect(m.moduleInfo()!.path).toBe(realModulePath);
    m.close();
    expect(m.moduleInfo()).toBeNull();
    m.load(modulePath);
    expect(m.moduleInfo()!.path).toBe(realModulePath);
    m.close();
  });

  test('a failed load leaves the object usable for a good one', () => {
    const m = new PKCS11();
    expect(() => m.load(path.join(tmp, 'missing.so'))).toThrow(ModuleLoadError);
    m.load(modulePath);
    expect(m.moduleInfo()!.functionCount).toBe(68);
    m.close();
  });
});

describe('one handle per real path (child processes, isolated from other users of SoftHSM)', () => {
  // Through pkcs11-spy over SoftHSM, so the log shows which calls really reached the module.
  function shareScenario(pathA: string, pathB: string, spyLog?: string) {
    const env: Record<string, string> = {};
    if (spyLog) Object.assign(env, { PKCS11SPY: modulePath, PKCS11SPY_OUTPUT: spyLog });
    const r = runChild('loader-child.js', [pathA, pathB], { env });
    expectCleanExit(r);
    return r.json;
  }

  function expectShared(out: any, real: string) {
    expect(out.pathA).toBe(real);
    expect(out.pathB).toBe(real);
    expect(out.pathC).toBe(real);
    expect(out.initA).toBe('ok');
    expect(out.initializedA).toBe(true);
    // Loading alone initializes nothing for the second object.
    expect(out.initializedBBefore).toBe(false);
    expect(out.getInfoBBeforeInit).toBe(0x190); // CKR_CRYPTOKI_NOT_INITIALIZED
    expect(out.initB).toBe('ok'); // shared, not CKR_CRYPTOKI_ALREADY_INITIALIZED
    expect(out.initBAgain).toBe(0x191); // but twice on one object is
    expect(out.sessionAThroughB).toBe(true);
    expect(out.finalizeA).toBe('ok');
    expect(out.getInfoAAfterFinalize).toBe(0x190);
    expect(out.sessionAAfterFinalizeA).toBe(0xb3); // A's sessions ended with its share
    expect(out.sessionBAfterFinalizeA).toBe(true);
    expect(out.getInfoBAfterFinalizeA).toBe('SoftHSM');
    expect(out.signBAfterFinalizeA).toBe(true);
    expect(out.finalizeB).toBe('ok');
    expect(out.initC).toBe('ok');
    expect(out.sessionBAfterLastFinalize).toBe(0xb3);
    expect(out.sessionB2AfterLastFinalize).toBe(0xb3);
    expect(out.getInfoC).toBe('SoftHSM');
    expect(out.reinitA).toBe('ok');
    expect(out.getInfoAReinit).toBe('SoftHSM');
    expect(out.finalizeC).toBe('ok');
    expect(out.getInfoAAfterC).toBe('SoftHSM');
    expect(out.moduleInfoAfterClose).toBeNull();
  }

  test('two objects on the same path: one handle, shared C_Initialize, the first C_Finalize leaves the second working', () => {
    expectShared(shareScenario(modulePath, modulePath), realModulePath);
  });

  test('through a symlink to libsofthsm2.so: the same handle, moduleInfo().path is the real path', () => {
    const link = path.join(tmp, 'softhsm-link.so');
    fs.symlinkSync(modulePath, link);
    expect(fs.realpathSync(link)).toBe(realModulePath);
    expectShared(shareScenario(modulePath, link), realModulePath);
  });

  test('the pkcs11-spy log shows one load, one real C_Initialize per lifetime and C_Finalize only from the last user', () => {
    const spy = ensurePkcs11Spy();
    const link = path.join(tmp, 'spy-link.so');
    fs.symlinkSync(spy, link);
    const log = path.join(tmp, 'share-spy.log');
    const out = shareScenario(spy, link, log);
    expectShared(out, fs.realpathSync(spy));
    const calls = [...fs.readFileSync(log, 'utf8').matchAll(/^\d+: (C_\w+)$/gm)].map((m) => m[1]);
    // One load for the path and the symlink (and the third object): the function list was
    // fetched once.
    expect(calls.filter((c) => c === 'C_GetFunctionList')).toHaveLength(1);
    // A + B share the first initialization; B (last) finalizes it; C initializes again, A joins,
    // and A (last) finalizes.
    expect(calls.filter((c) => c === 'C_Initialize' || c === 'C_Finalize')).toEqual(['C_Initialize', 'C_Finalize', 'C_Initialize', 'C_Finalize']);
    // A's C_Finalize reached SoftHSM only as the C_CloseSession of its session: B's key
    // generation afterwards ran before the first real C_Finalize.
    const firstFinalize = calls.indexOf('C_Finalize');
    const gen = calls.indexOf('C_GenerateKeyPair');
    expect(gen).toBeGreaterThan(calls.indexOf('C_CloseSession'));
    expect(gen).toBeLessThan(firstFinalize);
  });
});

describe('RTLD_DEEPBIND (child processes: a bad symbol binding can crash)', () => {
  function run(mode: 'default' | 'false') {
    const prefix = path.join(tmp, `ld-${mode}`);
    const r = runChild('deepbind-child.js', [mode], { env: { LD_DEBUG: 'bindings', LD_DEBUG_OUTPUT: prefix } });
    const ldLog = fs
      .readdirSync(tmp)
      .filter((n) => n.startsWith(`ld-${mode}.`))
      .map((n) => fs.readFileSync(path.join(tmp, n), 'utf8'))
      .join('\n');
    return { r, ldLog };
  }

  /** Where SoftHSM's references to OpenSSL functions were bound: object name per symbol. */
  function softhsmCryptoBindings(ldLog: string): Map<string, string> {
    const m = new Map<string, string>();
    const re = /binding file (\S*libsofthsm2\.so) \[\d+\] to (\S+) \[\d+\]: normal symbol `((?:EVP|RSA|EC|BN|OPENSSL|ERR)_\w+)'/g;
    for (const x of ldLog.matchAll(re)) m.set(x[3], x[2]);
    return m;
  }

  function expectSignaturesVerify(out: any) {
    const data = Buffer.from(out.data, 'hex');
    expect(out.manufacturerID).toBe('SoftHSM');
    expect(out.rsa.verified).toBe(true);
    expect(out.rsa.moduleVerified).toBe(true);
    expect(out.ec.verified).toBe(true);
    // And checked again here, independently of the child.
    expect(crypto.verify('sha256', data, out.rsa.publicKey, Buffer.from(out.rsa.signature, 'hex'))).toBe(true);
    expect(crypto.verify('sha256', data, { key: out.ec.publicKey, dsaEncoding: 'ieee-p1363' }, Buffer.from(out.ec.signature, 'hex'))).toBe(true);
  }

  test('default (deepBind: true): RSA and EC signatures verify; SoftHSM keeps its own libcrypto', () => {
    const { r, ldLog } = run('default');
    expectCleanExit(r);
    expect(r.json.mode).toBe('default');
    expectSignaturesVerify(r.json);
    const bindings = softhsmCryptoBindings(ldLog);
    expect(bindings.size).toBeGreaterThan(0);
    for (const [sym, target] of bindings) expect([sym, target]).toEqual([sym, expect.stringMatching(/libcrypto\.so/)]);
  }, 120_000);

  test('deepBind: false: no crash, RSA and EC signatures still verify; SoftHSM binds to the OpenSSL Node exports', () => {
    const { r, ldLog } = run('false');
    expectCleanExit(r);
    expect(r.json.mode).toBe('false');
    expectSignaturesVerify(r.json);
    // Without RTLD_DEEPBIND the global scope (the node executable, which exports its OpenSSL)
    // comes first: here that is harmless because Node's OpenSSL and the system's are both 3.0.x.
    const bindings = softhsmCryptoBindings(ldLog);
    expect(bindings.get('EVP_DigestSign')).toBeDefined();
    // (A Node linked against the shared system libcrypto would resolve to that same library.)
    const nodeHasOwnOpenSSL = !fs.readFileSync('/proc/self/maps', 'utf8').includes('libcrypto.so');
    if (nodeHasOwnOpenSSL) expect(bindings.get('EVP_DigestSign')).not.toMatch(/libcrypto\.so/);
  }, 120_000);
});

describe('unloading (child processes: /proc/self/maps tells what is mapped)', () => {
  // A copy of SoftHSM under a unique path, so nothing else in the child maps it.
  function run(unload: boolean | undefined) {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'p11bridge-unload-'));
    const copy = path.join(dir, 'libsofthsm2-copy.so');
    fs.copyFileSync(fixture().modulePath, copy);
    const script = `
      const { PKCS11 } = require(${JSON.stringify(path.join(__dirname, '..', 'dist', 'raw.js'))});
      const fs = require('node:fs');
      const mapped = () => fs.readFileSync('/proc/self/maps', 'utf8').includes(${JSON.stringify(copy)});
      const out = {};
      const m = new PKCS11();
      m.load(${JSON.stringify(copy)}${unload === undefined ? '' : `, { unload: ${unload} }`});
      m.C_Initialize();
      out.loaded = mapped();
      m.C_Finalize();
      m.close();
      out.afterClose = mapped();
      // Loading again works either way (the kept copy is initialized afresh).
      const again = new PKCS11();
      again.load(${JSON.stringify(copy)});
      again.C_Initialize();
      out.reloadSlots = again.C_GetSlotList(true).length;
      again.C_Finalize();
      again.close();
      console.log(JSON.stringify(out));`;
    const file = path.join(dir, 'child.js');
    fs.writeFileSync(file, script);
    const r = runChild(file);
    fs.rmSync(dir, { recursive: true, force: true });
    expectCleanExit(r);
    return r.json as { loaded: boolean; afterClose: boolean; reloadSlots: number };
  }

  test('by default a module stays mapped after its last close (unmapping vendor libraries can crash later)', () => {
    const out = run(undefined);
    expect(out.loaded).toBe(true);
    expect(out.afterClose).toBe(true);
    expect(out.reloadSlots).toBeGreaterThan(0);
  });

  test('{ unload: true } unmaps it at the last close; a later load maps it again', () => {
    const out = run(true);
    expect(out.loaded).toBe(true);
    expect(out.afterClose).toBe(false);
    expect(out.reloadSlots).toBeGreaterThan(0);
  });

  test('a non-PKCS#11 library is still refused (pinning happens only after the function list); a non-boolean unload is a TypeError', () => {
    const libz = ['/usr/lib/x86_64-linux-gnu/libz.so.1', '/lib/x86_64-linux-gnu/libz.so.1'].find((p) => fs.existsSync(p));
    expect(libz).toBeDefined();
    const m = new PKCS11();
    expect(() => m.load(libz!)).toThrow(ModuleLoadError);
    expect(() => m.load(fixture().modulePath, { unload: 'yes' as never })).toThrow(/options\.unload/);
  });
});
