// ES module consumers of the published package: `import` of both entry points from a real ES
// module in a child node process, and TypeScript's nodenext resolution of their types from .mts
// (the "import" condition) and .cts (the "require" condition) files. Both run against the packed
// and installed tarball, so package.json's "exports", "files" and the generated esm/ wrappers are
// what is tested, as a user gets them.
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { packAndInstall, repoRoot, type Installed } from './helpers/packed';

interface EntryReport {
  resolved: string;
  missing: string[];
  extra: string[];
  different: string[];
  defaultIsCjs: boolean;
  count: number;
}

// Runs in the app as check.mjs. It compares every named export of the ES entry point with the
// CommonJS module that `require` gives in the same process: a name missing from the wrapper (a
// stale generated list) or a different object (a second instance) shows up here.
const ESM_CHECK = `
import { createRequire } from 'node:module';
import * as main from 'p11bridge';
import * as raw from 'p11bridge/raw';
import { PKCS11, Module, CKR_OK, CKM_AES_CBC, Pkcs11Error } from 'p11bridge';
import { PKCS11 as RawPKCS11, CKR_PIN_INCORRECT } from 'p11bridge/raw';

const require = createRequire(import.meta.url);
function compare(spec, ns) {
  const cjs = require(spec);
  const esmKeys = Object.keys(ns).filter((k) => k !== 'default');
  return {
    resolved: import.meta.resolve(spec),
    missing: Object.keys(cjs).filter((k) => !(k in ns)),
    extra: esmKeys.filter((k) => !(k in cjs)),
    different: esmKeys.filter((k) => k in cjs && !Object.is(ns[k], cjs[k])),
    defaultIsCjs: ns.default === cjs,
    count: esmKeys.length,
  };
}
console.log(JSON.stringify({
  main: compare('p11bridge', main),
  raw: compare('p11bridge/raw', raw),
  named: {
    PKCS11: typeof PKCS11,
    Module: typeof Module,
    Pkcs11Error: typeof Pkcs11Error,
    CKR_OK,
    CKM_AES_CBC,
    CKR_PIN_INCORRECT,
    samePKCS11: RawPKCS11 === PKCS11 && PKCS11 === require('p11bridge/raw').PKCS11,
  },
}));
`;

// Type-checked, not run. The @ts-expect-error lines fail the check if the imports were typed
// as any (a resolution that fell back to an untyped file) instead of the declarations.
const MTS = `
import { PKCS11, Module, CKR_OK, CKM_AES_CBC, Pkcs11Error, type Ulong } from 'p11bridge';
import * as raw from 'p11bridge/raw';
import p11 from 'p11bridge';

const m: PKCS11 = new raw.PKCS11();
const rv: number = CKR_OK;
const mech: number = raw.CKM_AES_CBC + CKM_AES_CBC;
const open: typeof Module.open = p11.Module.open;
const isError = (e: unknown): boolean => e instanceof Pkcs11Error;
const handle: Ulong = 0;
// @ts-expect-error not an export of the package
import { NotAnExport } from 'p11bridge';
// @ts-expect-error CKR_OK is a number
const s: string = raw.CKR_OK;
export { m, rv, mech, open, isError, handle, NotAnExport, s };
`;

const CTS = `
import { PKCS11, Module, CKR_OK, Pkcs11Error } from 'p11bridge';
import raw = require('p11bridge/raw');

const m: PKCS11 = new raw.PKCS11();
const rv: number = CKR_OK + raw.CKM_AES_CBC;
const open: typeof Module.open = Module.open;
const isError = (e: unknown): boolean => e instanceof Pkcs11Error;
// @ts-expect-error not an export of the raw entry point
const bad = raw.NotAnExport;
export { m, rv, open, isError, bad };
`;

describe('ES modules and types from the installed tarball', () => {
  let inst: Installed;
  beforeAll(() => {
    inst = packAndInstall('esm');
  }, 180_000);
  afterAll(() => inst?.cleanup());

  test('import gives every CommonJS export, as the same objects, from esm/', () => {
    const file = path.join(inst.app, 'check.mjs');
    fs.writeFileSync(file, ESM_CHECK);
    const out = JSON.parse(execFileSync(process.execPath, [file], { cwd: inst.app, encoding: 'utf8' })) as {
      main: EntryReport;
      raw: EntryReport;
      named: Record<string, unknown>;
    };
    const esmDir = path.join(fs.realpathSync(inst.pkg), 'esm');
    for (const [entry, r] of [
      ['index', out.main],
      ['raw', out.raw],
    ] as const) {
      expect(r.resolved).toBe(`file://${path.join(esmDir, `${entry}.mjs`)}`);
      expect({ missing: r.missing, extra: r.extra, different: r.different }).toEqual({ missing: [], extra: [], different: [] });
      expect(r.defaultIsCjs).toBe(true);
      expect(r.count).toBeGreaterThan(1000); // the CKR/CKM/CKA... constants are all there
    }
    expect(out.named).toEqual({
      PKCS11: 'function',
      Module: 'function',
      Pkcs11Error: 'function',
      CKR_OK: 0,
      CKM_AES_CBC: 0x1082,
      CKR_PIN_INCORRECT: 0xa0,
      samePKCS11: true,
    });
  });

  test('tsc with nodenext resolves both entry points for .mts (import) and .cts (require)', () => {
    fs.writeFileSync(path.join(inst.app, 'check.mts'), MTS);
    fs.writeFileSync(path.join(inst.app, 'check.cts'), CTS);
    fs.writeFileSync(
      path.join(inst.app, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          module: 'nodenext',
          moduleResolution: 'nodenext',
          target: 'es2022',
          strict: true,
          noEmit: true,
          // The package's own declarations are checked too, as a consumer's strict build sees them.
          skipLibCheck: false,
          // The app has no @types/node of its own; a real consumer would.
          typeRoots: [path.join(repoRoot, 'node_modules', '@types')],
          types: ['node'],
        },
        files: ['check.mts', 'check.cts'],
      }),
    );
    const r = spawnSync(path.join(repoRoot, 'node_modules', '.bin', 'tsc'), ['-p', 'tsconfig.json', '--listFiles'], {
      cwd: inst.app,
      encoding: 'utf8',
    });
    expect(r.stdout + r.stderr).not.toMatch(/error TS/);
    expect(r.status).toBe(0);
    // Which declaration files the two conditions chose: esm/*.d.mts for import, dist/*.d.ts for require.
    const listed = r.stdout
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l.includes('node_modules/p11bridge/'))
      .map((l) => l.slice(l.indexOf('node_modules/p11bridge/') + 'node_modules/p11bridge/'.length));
    expect(listed).toEqual(expect.arrayContaining(['esm/index.d.mts', 'esm/raw.d.mts', 'dist/index.d.ts', 'dist/raw.d.ts']));
  });
});
