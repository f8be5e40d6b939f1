// The published shape: pack the package, install the tarball into an empty directory with
// install scripts off (npm 11's default for dependencies), and reach SoftHSM from there. The addon
// must come from prebuilds/ — no compiler, no build/ directory. Then what the tarball holds: every
// prebuild with a checksum that matches, the sources for a build from source, no test material,
// and a size within budget.
import { execFileSync, spawnSync } from 'node:child_process';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fixture } from './helpers/softhsm';
import { packAndInstall, repoRoot as root, type Installed } from './helpers/packed';

// Linux binaries carry their libc in the name (prebuildify --tag-libc, scripts/prebuild.js).
const PREBUILD = process.platform === 'linux' ? 'p11bridge.glibc.node' : 'p11bridge.node';

// Size budget. With one prebuild (linux-x64, libstdc++ not yet linked in) the package was about
// 0.8 MB packed, 3.0 MB unpacked, of which the prebuild was 1.3 MB (0.4 MB compressed) and dist/
// 1.3 MB. The budget leaves room for about six more prebuilds (linux-arm64, linux musl, darwin
// x64/arm64, win32 x64/arm64) of 1–2 MB each:
// unpacked 3.0 + 6 × 2 = 15 MB, so 16 MB; packed 0.8 + 6 × 2 MB × 0.4 (binaries compress to about
// a third, as this one does; 0.4 for slack) ≈ 5.6 MB, so 6 MB. Passing it means something that
// should not ship (a build/ tree, a debug binary, a test token) got in, or the budget needs a
// deliberate raise here.
const MAX_PACKED_BYTES = 6 * 1024 * 1024;
const MAX_UNPACKED_BYTES = 16 * 1024 * 1024;

// What ships: the code, its types, the CLI, the prebuilds, and src-native/ + binding.gyp for the
// source build that node-gyp-build falls back to. Examples are not shipped: they provision their
// SoftHSM token with the repository's scripts/softhsm.js, so they run only from a checkout.
const TOP_LEVEL = ['CHANGELOG.md', 'LICENSE', 'README.md', 'bin', 'binding.gyp', 'dist', 'esm', 'package.json', 'prebuilds', 'src-native'];
const NOT_SHIPPED = ['test/', 'bench/', 'examples/', '.tmp/', 'build/', 'scripts/', 'lib/', 'docs/', 'coverage/', 'node_modules/'];

/** Every file under dir, as '/'-separated paths relative to base. */
function walk(dir: string, base = dir): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    return e.isDirectory() ? walk(p, base) : [path.relative(base, p).split(path.sep).join('/')];
  });
}

describe('npm pack + install with scripts off', () => {
  let inst: Installed;
  let files: string[];
  beforeAll(() => {
    // made by `npm run prebuild` (pretest does it when stale)
    expect(fs.existsSync(path.join(root, 'prebuilds', `${process.platform}-${process.arch}`, PREBUILD))).toBe(true);
    inst = packAndInstall('pack');
    files = inst.files.map((f) => f.path).sort();
  }, 180_000);
  afterAll(() => inst?.cleanup());

  test('the installed tarball loads its prebuild and calls C_GetInfo on SoftHSM', () => {
    expect(fs.existsSync(path.join(inst.pkg, 'build'))).toBe(false);
    const script = `
      const raw = require('p11bridge/raw');
      const m = new raw.PKCS11();
      m.load(${JSON.stringify(fixture().modulePath)});
      m.C_Initialize();
      const info = m.C_GetInfo();
      m.C_Finalize();
      m.close();
      console.log(JSON.stringify({ binding: raw.BINDING_PATH, manufacturer: info.manufacturerID, main: typeof require('p11bridge').PKCS11 }));
    `;
    const out = JSON.parse(execFileSync(process.execPath, ['-e', script], { cwd: inst.app, encoding: 'utf8' })) as {
      binding: string;
      manufacturer: string;
      main: string;
    };
    expect(out.manufacturer).toBe('SoftHSM');
    expect(out.main).toBe('function');
    expect(out.binding).toBe(path.join(inst.pkg, 'prebuilds', `${process.platform}-${process.arch}`, PREBUILD));
  });

  test('every prebuild in the repository is in the tarball, with SHA256SUMS and nothing else', () => {
    // Computed from the repository's prebuilds/, so the list follows as platforms are added.
    const prebuilds = path.join(root, 'prebuilds');
    const platforms = fs
      .readdirSync(prebuilds, { withFileTypes: true })
      .filter((e) => e.isDirectory())
      .map((e) => e.name);
    expect(platforms).toContain(`${process.platform}-${process.arch}`);
    for (const p of platforms) expect(fs.readdirSync(path.join(prebuilds, p)).filter((f) => f.endsWith('.node'))).not.toEqual([]);
    const expected = walk(prebuilds).map((f) => `prebuilds/${f}`);
    expect(expected).toContain('prebuilds/SHA256SUMS');
    expect(files.filter((f) => f.startsWith('prebuilds/'))).toEqual(expected.sort());
  });

  // What scripts/prebuild.js makes on linux-x64 (CI's machine): the two Linux binaries, tagged
  // with their libc, and the Windows one cross-built with mingw-w64 (untagged: node-gyp-build on
  // Windows matches no libc tag). file(1) says what each really is.
  const linuxX64 = process.platform === 'linux' && process.arch === 'x64';
  (linuxX64 ? test : test.skip)('linux-x64 ships linux-x64, linux-arm64 and win32-x64, each for its platform', () => {
    const shipped: Record<string, string[]> = {};
    for (const f of files.filter((x) => x.endsWith('.node'))) (shipped[f.split('/')[1]] ??= []).push(f.split('/')[2]);
    expect(shipped).toEqual({ 'linux-arm64': ['p11bridge.glibc.node'], 'linux-x64': ['p11bridge.glibc.node'], 'win32-x64': ['p11bridge.node'] });
    const kind = (p: string) => execFileSync('file', ['-b', path.join(inst.pkg, 'prebuilds', p)], { encoding: 'utf8' });
    expect(kind('linux-x64/p11bridge.glibc.node')).toMatch(/^ELF 64-bit LSB shared object, x86-64/);
    expect(kind('linux-arm64/p11bridge.glibc.node')).toMatch(/^ELF 64-bit LSB shared object, ARM aarch64/);
    expect(kind('win32-x64/p11bridge.node')).toMatch(/^PE32\+ executable \(DLL\) .*x86-64/);
  });

  test('the tarball holds the entry points, the source build and the notices, and no test material', () => {
    expect(files).toEqual(
      expect.arrayContaining([
        'package.json',
        'README.md',
        'LICENSE',
        'CHANGELOG.md',
        'binding.gyp',
        'bin/p11bridge.js',
        'dist/index.js',
        'dist/index.d.ts',
        'dist/raw.js',
        'dist/raw.d.ts',
        'esm/index.mjs',
        'esm/index.d.mts',
        'esm/raw.mjs',
        'esm/raw.d.mts',
      ]),
    );
    // The whole of src-native/, since binding.gyp may name any of it.
    expect(files.filter((f) => f.startsWith('src-native/'))).toEqual(
      walk(path.join(root, 'src-native'))
        .map((f) => `src-native/${f}`)
        .sort(),
    );
    expect([...new Set(files.map((f) => f.split('/')[0]))].sort()).toEqual([...TOP_LEVEL].sort());
    for (const dir of NOT_SHIPPED) expect(files.filter((f) => f.startsWith(dir))).toEqual([]);
    expect(files.filter((f) => /\.test\.|\.tgz$|(^|\/)\.tmp\//.test(f))).toEqual([]);
  });

  test(`the package stays within its size budget (${MAX_PACKED_BYTES >> 20} MB packed, ${MAX_UNPACKED_BYTES >> 20} MB unpacked)`, () => {
    expect(fs.statSync(inst.tarball).size).toBe(inst.size);
    expect(inst.size).toBeLessThan(MAX_PACKED_BYTES);
    expect(inst.unpackedSize).toBeLessThan(MAX_UNPACKED_BYTES);
  });

  // lib/ is not shipped, so every source map carries the TypeScript it maps to (inlineSources):
  // stack traces and debuggers in a user's project show real lines, not a missing file.
  test('every shipped source map carries its sources', () => {
    const maps = walk(path.join(inst.pkg, 'dist')).filter((f) => f.endsWith('.js.map'));
    expect(maps.length).toBeGreaterThan(10);
    for (const f of maps) {
      const map = JSON.parse(fs.readFileSync(path.join(inst.pkg, 'dist', f), 'utf8')) as { sources: string[]; sourcesContent?: Array<string | null> };
      expect({ f, n: map.sourcesContent?.filter((c) => typeof c === 'string' && c.length > 0).length }).toEqual({ f, n: map.sources.length });
    }
  });

  test('the installed prebuilds match their SHA256SUMS, and sha256sum -c agrees', () => {
    const dir = path.join(inst.pkg, 'prebuilds');
    const lines = fs.readFileSync(path.join(dir, 'SHA256SUMS'), 'utf8').trimEnd().split('\n');
    const listed = lines.map((l) => {
      const m = /^([0-9a-f]{64}) {2}(\S+)$/.exec(l);
      if (!m) throw new Error(`not a sha256sum line: ${JSON.stringify(l)}`);
      return { hash: m[1], file: m[2] };
    });
    // Every installed binary is listed, in byte order, and each hash is the file's.
    const binaries = walk(dir)
      .filter((f) => f.endsWith('.node'))
      .sort();
    expect(listed.map((l) => l.file)).toEqual(binaries);
    for (const { hash, file } of listed) {
      expect(
        crypto
          .createHash('sha256')
          .update(fs.readFileSync(path.join(dir, file)))
          .digest('hex'),
      ).toBe(hash);
    }
    const r = spawnSync('sha256sum', ['-c', '--strict', 'SHA256SUMS'], { cwd: dir, encoding: 'utf8' });
    expect(r.stderr).toBe('');
    expect(r.stdout.trimEnd().split('\n')).toEqual(binaries.map((f) => `${f}: OK`));
    expect(r.status).toBe(0);
  });
});

// `npm pack` contains this machine's prebuild whatever ran before: prepack (scripts/ensure-built.js)
// makes it when prebuilds/ is missing or stale. A copy of the repository's files (timestamps kept,
// node_modules linked) with prebuilds/ removed; the prebuild then comes from build/Release, stripped,
// with no compiler run (the addon is newer than its sources).
describe('npm pack after prebuilds/ was removed', () => {
  test('prepack puts the prebuild and SHA256SUMS back, without compiling', () => {
    const copy = fs.mkdtempSync(path.join(os.tmpdir(), 'p11bridge-prepack-'));
    try {
      for (const f of [
        'package.json',
        'binding.gyp',
        'README.md',
        'LICENSE',
        'CHANGELOG.md',
        'bin',
        'dist',
        'esm',
        'lib',
        'scripts',
        'src-native',
        'build/Release/p11bridge.node',
        'build/config.gypi',
      ]) {
        if (fs.existsSync(path.join(root, f))) fs.cpSync(path.join(root, f), path.join(copy, f), { recursive: true, preserveTimestamps: true });
      }
      fs.symlinkSync(path.join(root, 'node_modules'), path.join(copy, 'node_modules'), 'dir');
      expect(fs.existsSync(path.join(copy, 'prebuilds'))).toBe(false);
      const r = spawnSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts=false'], { cwd: copy, encoding: 'utf8', timeout: 300_000 });
      expect(r.status).toBe(0);
      const files = (JSON.parse(r.stdout) as Array<{ files: Array<{ path: string }> }>)[0].files.map((f) => f.path);
      expect(files).toEqual(expect.arrayContaining([`prebuilds/${process.platform}-${process.arch}/${PREBUILD}`, 'prebuilds/SHA256SUMS']));
      expect(r.stderr).not.toMatch(/CXX\(target\)|gyp info/);
      // The same bytes as the repository's own prebuild (prebuildify strips build/Release likewise).
      const mine = path.join(root, 'prebuilds', `${process.platform}-${process.arch}`, PREBUILD);
      const theirs = path.join(copy, 'prebuilds', `${process.platform}-${process.arch}`, PREBUILD);
      if (fs.statSync(mine).mtimeMs >= fs.statSync(path.join(root, 'build', 'Release', 'p11bridge.node')).mtimeMs) {
        expect(crypto.createHash('sha256').update(fs.readFileSync(theirs)).digest('hex')).toBe(crypto.createHash('sha256').update(fs.readFileSync(mine)).digest('hex'));
      }
    } finally {
      fs.rmSync(copy, { recursive: true, force: true });
    }
  }, 300_000);
});
