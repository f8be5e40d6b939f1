// The published types under every module/moduleResolution setting TypeScript 5.x supports: the
// packed tarball installed into an empty app (as test/package.test.ts does), @types/node beside it
// (the package's optional peer dependency), and `tsc --noEmit --strict` over test/types/*.ts, whose
// `@ts-expect-error` lines must fail to compile (tsc reports an unused one), so each file checks
// both what must and what must not compile.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { packAndInstall, repoRoot, type Installed } from './helpers/packed';

const TSC = require.resolve('typescript/bin/tsc');
const CASES = path.join(repoRoot, 'test', 'types');

interface Setting {
  name: string;
  options: Record<string, unknown>;
  /** Files of test/types/ compiled under it. */
  files: string[];
}

// .ts files are CommonJS under node16/nodenext here (the app's package.json has no "type"), .mts
// are ES modules; under bundler/preserve everything is ESM syntax resolved with the import condition.
const SETTINGS: Setting[] = [
  { name: 'commonjs + node10', options: { module: 'commonjs', moduleResolution: 'node10' }, files: ['cjs.ts', 'usage.ts'] },
  { name: 'node16', options: { module: 'node16', moduleResolution: 'node16' }, files: ['cjs.ts', 'esm.mts', 'usage.ts'] },
  { name: 'nodenext', options: { module: 'nodenext', moduleResolution: 'nodenext' }, files: ['cjs.ts', 'esm.mts', 'usage.ts'] },
  { name: 'esnext + bundler', options: { module: 'esnext', moduleResolution: 'bundler' }, files: ['cjs.ts', 'usage.ts'] },
  { name: 'preserve (bundler)', options: { module: 'preserve' }, files: ['cjs.ts', 'usage.ts'] },
];

function tsc(app: string, name: string, options: Record<string, unknown>, files: string[]): { status: number | null; out: string } {
  const dir = path.join(app, name.replace(/\W+/g, '-'));
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(dir);
  for (const f of files) fs.copyFileSync(path.join(CASES, f), path.join(dir, f));
  const config = {
    compilerOptions: { strict: true, noEmit: true, target: 'es2022', lib: ['es2022'], skipLibCheck: false, ...options },
    files,
  };
  fs.writeFileSync(path.join(dir, 'tsconfig.json'), JSON.stringify(config, null, 2));
  const r = spawnSync(process.execPath, [TSC, '-p', path.join(dir, 'tsconfig.json')], { cwd: dir, encoding: 'utf8', timeout: 120_000, killSignal: 'SIGKILL' });
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}

describe('the published types, tarball installed in an empty app', () => {
  let inst: Installed;
  beforeAll(() => {
    inst = packAndInstall('types');
    // The optional peer dependency, as a TypeScript user has it.
    const types = path.join(inst.app, 'node_modules', '@types');
    fs.mkdirSync(types, { recursive: true });
    fs.symlinkSync(path.join(repoRoot, 'node_modules', '@types', 'node'), path.join(types, 'node'), 'dir');
  }, 180_000);
  afterAll(() => inst?.cleanup());

  test('package.json declares @types/node as an optional peer dependency', () => {
    const pkg = JSON.parse(fs.readFileSync(path.join(inst.pkg, 'package.json'), 'utf8'));
    expect(pkg.peerDependencies?.['@types/node']).toBeDefined();
    expect(pkg.peerDependenciesMeta?.['@types/node']).toEqual({ optional: true });
    expect(pkg.dependencies?.['@types/node']).toBeUndefined();
  });

  test.each(SETTINGS)(
    '$name: test/types compiles, and every @ts-expect-error line is an error',
    ({ name, options, files }) => {
      const r = tsc(inst.app, name, options, files);
      expect(r.out).toBe('');
      expect(r.status).toBe(0);
    },
    120_000,
  );

  test('a @ts-expect-error line that compiles fails the check (the check can fail)', () => {
    const dir = fs.mkdtempSync(path.join(inst.app, 'probe-'));
    const file = path.join(dir, 'probe.ts');
    fs.writeFileSync(file, "import { Module } from 'p11bridge';\n// @ts-expect-error\nexport const m: typeof Module = Module;\n");
    const r = spawnSync(process.execPath, [TSC, '--noEmit', '--strict', '--module', 'nodenext', '--moduleResolution', 'nodenext', file], {
      cwd: inst.app,
      encoding: 'utf8',
      timeout: 120_000,
    });
    expect(r.status).not.toBe(0);
    expect(r.stdout).toContain("Unused '@ts-expect-error' directive");
  }, 120_000);

  // Last: it removes the app's @types/node.
  test('without @types/node the declarations do not compile (why it is declared)', () => {
    fs.unlinkSync(path.join(inst.app, 'node_modules', '@types', 'node'));
    const r = tsc(inst.app, 'no-types-node', { module: 'nodenext', moduleResolution: 'nodenext', types: [] }, ['cjs.ts']);
    expect(r.status).not.toBe(0);
    expect(r.out).toMatch(/Cannot find (name 'Buffer'|module 'node:)/);
  }, 120_000);
});
