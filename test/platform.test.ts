// The Linux binaries' reach (issue 11): the glibc floor check itself, and the libc tag that keeps
// a musl system (Alpine) from loading a glibc binary. The binaries running on an older
// distribution and on arm64 are shown by scripts/platform-test.js (CI), not here: it needs
// debootstrap roots and qemu.
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

const root = path.join(__dirname, '..');
const checkScript = path.join(root, 'scripts', 'check-glibc.js');
const prebuildDir = path.join(root, 'prebuilds', `${process.platform}-${process.arch}`);

const describeLinux = process.platform === 'linux' ? describe : describe.skip;

describeLinux('glibc floor (scripts/check-glibc.js)', () => {
  test('every shipped Linux binary needs at most GLIBC_2.28, no system libstdc++, and is tagged glibc', () => {
    const r = spawnSync(process.execPath, [checkScript, '--json'], { cwd: root, encoding: 'utf8' });
    expect(r.status).toBe(0);
    const results = JSON.parse(r.stdout) as Array<{ file: string; maxGlibc: string; versions: string[]; problems: string[] }>;
    // The native target at least; arm64 too when the cross compiler was there (CI installs it).
    expect(results.map((x) => path.basename(path.dirname(x.file)))).toContain(`linux-${process.arch}`);
    for (const x of results) {
      expect(x.problems).toEqual([]);
      expect(x.versions.filter((v) => /^(GLIBCXX|CXXABI)_/.test(v))).toEqual([]);
      expect(x.file).toMatch(/\.glibc\.node$/);
    }
  });

  test('the check fails a binary built without the floor (the system libstdc++: GLIBC_2.34, GLIBCXX_)', () => {
    const lib = ['/usr/lib/x86_64-linux-gnu/libstdc++.so.6', '/usr/lib/aarch64-linux-gnu/libstdc++.so.6'].find((p) => fs.existsSync(p));
    expect(lib).toBeDefined();
    const r = spawnSync(process.execPath, [checkScript, '--json', lib as string], { encoding: 'utf8' });
    expect(r.status).toBe(1);
    const [x] = JSON.parse(r.stdout) as Array<{ maxGlibc: string; problems: string[] }>;
    expect(x.problems.join('\n')).toMatch(/requires GLIBC_2\.(29|3\d)/);
  });
});

describeLinux('libc tags (prebuildify --tag-libc, read by node-gyp-build)', () => {
  let dir: string;
  beforeAll(() => {
    // A package with the shipped prebuilds and no build/: what `npm install` leaves.
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'p11bridge-libc-'));
    fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name: 'p11bridge', version: '0.0.0' }));
    fs.cpSync(path.join(root, 'prebuilds'), path.join(dir, 'prebuilds'), { recursive: true });
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  function resolveWith(libc: string): { status: number | null; out: string } {
    const code = `process.stdout.write(require(${JSON.stringify(require.resolve('node-gyp-build'))}).path(${JSON.stringify(dir)}))`;
    const r = spawnSync(process.execPath, ['-e', code], { env: { ...process.env, LIBC: libc }, encoding: 'utf8' });
    return { status: r.status, out: (r.stdout || '') + (r.stderr || '') };
  }

  test('on glibc the tagged binary is chosen', () => {
    const r = resolveWith('glibc');
    expect(r.status).toBe(0);
    expect(r.out).toBe(path.join(dir, 'prebuilds', `linux-${process.arch}`, 'p11bridge.glibc.node'));
  });

  test('on musl it is skipped: no binary found, so the install falls back to a source build', () => {
    expect(fs.readdirSync(prebuildDir)).toEqual(['p11bridge.glibc.node']);
    const r = resolveWith('musl');
    expect(r.status).not.toBe(0);
    expect(r.out).toMatch(/No native build was found for .*libc=musl/);
  });

  test('the glibc binary really is glibc-only: it names glibc’s loader and versioned symbols', () => {
    const elf = execFileSync('readelf', ['-d', '-V', '-W', path.join(prebuildDir, 'p11bridge.glibc.node')], { encoding: 'utf8' });
    expect(elf).toMatch(/GLIBC_2\./);
    expect(elf).toMatch(/libc\.so\.6/);
  });
});
