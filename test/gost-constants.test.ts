// The TC26 / Rutoken GOST constants (scripts/constants/*.tc26.tsv): the generated TypeScript and C
// header against p11-kit's <p11-kit/pkcs11x.h> (a header nobody here wrote: a C program is built
// against each and prints the values), the Rutoken-only values against Aktiv-Soft's published
// offsets, the aliases, the value→name maps, and the generator refusing a vendor row whose
// symbolic form disagrees with its value.
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as raw from '../lib/raw';
import { constantName } from '../lib/constants/generated';

const root = path.join(__dirname, '..');
const table = raw as unknown as Record<string, number | undefined>;

// Every TC26 name p11-kit 0.24 defines, plus the standard GOST ones both headers have.
const P11KIT_NAMES = [
  'CK_VENDOR_PKCS11_RU_TEAM_TC26',
  'CKK_GOSTR3410',
  'CKK_GOSTR3411',
  'CKK_GOST28147',
  'CKK_GOSTR3410_512',
  'CKK_KUZNECHIK',
  'CKK_MAGMA',
  'CKA_GOSTR3410_PARAMS',
  'CKA_GOSTR3411_PARAMS',
  'CKA_GOST28147_PARAMS',
  'CKP_PKCS5_PBKD2_HMAC_GOSTR3411_2012_512',
  'CKM_GOSTR3410_KEY_PAIR_GEN',
  'CKM_GOSTR3410',
  'CKM_GOSTR3410_WITH_GOSTR3411',
  'CKM_GOSTR3410_DERIVE',
  'CKM_GOSTR3411',
  'CKM_GOSTR3411_HMAC',
  'CKM_GOST28147_ECB',
  'CKM_GOSTR3410_512_KEY_PAIR_GEN',
  'CKM_GOSTR3410_512',
  'CKM_GOSTR3410_2012_DERIVE',
  'CKM_GOSTR3410_WITH_GOSTR3411_2012_256',
  'CKM_GOSTR3410_WITH_GOSTR3411_2012_512',
  'CKM_GOSTR3410_PUBLIC_KEY_DERIVE',
  'CKM_GOSTR3411_2012_256',
  'CKM_GOSTR3411_2012_512',
  'CKM_GOSTR3411_2012_256_HMAC',
  'CKM_GOSTR3411_2012_512_HMAC',
  'CKM_TLS_GOST_PRF_2012_256',
  'CKM_TLS_GOST_PRF_2012_512',
  'CKM_TLS_GOST_MASTER_KEY_DERIVE_2012_256',
  'CKM_KDF_4357',
  'CKM_KDF_GOSTR3411_2012_256',
];

/** Builds a program printing `name value` for each name, against p11-kit's headers or ours. */
function valuesFrom(header: 'p11-kit' | 'generated', names: readonly string[]): Record<string, number> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'p11bridge-gost-'));
  try {
    const src = path.join(dir, 'values.c');
    const includes = header === 'p11-kit' ? '#include <p11-kit/pkcs11.h>\n#include <p11-kit/pkcs11x.h>\n' : '#include "pkcs11_constants.h"\n';
    const lines = names.map((n) => `  printf("%s %lu\\n", "${n}", (unsigned long)(${n}));`).join('\n');
    fs.writeFileSync(src, `#include <stdio.h>\n${includes}int main(void) {\n${lines}\n  return 0;\n}\n`);
    const exe = path.join(dir, 'values');
    execFileSync('cc', ['-std=c99', '-Wall', '-Werror', '-I', '/usr/include/p11-kit-1', '-I', path.join(root, 'src-native/pkcs11'), '-o', exe, src]);
    const out: Record<string, number> = {};
    for (const line of execFileSync(exe, { encoding: 'utf8' }).trim().split('\n')) {
      const [name, value] = line.split(' ');
      out[name] = Number(value);
    }
    return out;
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

test("every TC26 value p11-kit's pkcs11x.h defines equals ours, in TypeScript and in the C header", () => {
  const p11kit = valuesFrom('p11-kit', P11KIT_NAMES);
  const header = valuesFrom('generated', P11KIT_NAMES);
  const ts = Object.fromEntries(P11KIT_NAMES.map((n) => [n, table[n]]));
  expect(ts).toEqual(p11kit);
  expect(header).toEqual(p11kit);
  expect(p11kit.CK_VENDOR_PKCS11_RU_TEAM_TC26).toBe(0xd4321000);
  expect(p11kit.CKM_GOSTR3410_WITH_GOSTR3411_2012_256).toBe(0xd4321008);
});

test("Rutoken-only values match Aktiv-Soft's published offsets from CK_VENDOR_PKCS11_RU_TEAM_TC26", () => {
  // RtPkcs11Constants.java / Pkcs11Tc26Constants.java (github.com/AktivCo/pkcs11jna): "TC26 | 0x…".
  const aktiv: Record<string, number> = {
    CKK_KUZNECHIK_TWIN_KEY: 0x006,
    CKK_MAGMA_TWIN_KEY: 0x007,
    CKM_GOSTR3410_512_PUBLIC_KEY_DERIVE: 0x00b,
    CKM_KDF_HMAC3411_2012_256: 0x028,
    CKM_KDF_TREE_GOSTR3411_2012_256: 0x02a,
    CKM_KUZNECHIK_KEXP_15_WRAP: 0x02b,
    CKM_MAGMA_KEXP_15_WRAP: 0x02c,
    CKM_KUZNECHIK_MGM: 0x02d,
    CKM_MAGMA_MGM: 0x02e,
    CKM_KUZNECHIK_KEY_GEN: 0x030,
    CKM_KUZNECHIK_ECB: 0x031,
    CKM_KUZNECHIK_CTR_ACPKM: 0x032,
    CKM_KUZNECHIK_MAC: 0x033,
    CKM_MAGMA_KEY_GEN: 0x034,
    CKM_MAGMA_ECB: 0x035,
    CKM_MAGMA_CTR_ACPKM: 0x036,
    CKM_MAGMA_MAC: 0x037,
    CKM_VKO_GOSTR3410_2012_512: 0x038,
    CKM_GOST_KEG: 0x039,
    CKD_KDF_4357: 0x025,
    CKD_KDF_GOSTR3411_2012_256: 0x026,
  };
  for (const [name, offset] of Object.entries(aktiv)) expect([name, table[name]]).toEqual([name, (0xd4321000 | offset) >>> 0]);
  // Rutoken's own numbers in the shared vendor range: CKM_VENDOR_DEFINED + 4 / + 5.
  expect(raw.CKM_VENDOR_VKO_GOSTR3410_2012_512).toBe(0x80000004);
  expect(raw.CKM_VENDOR_GOST_KEG).toBe(0x80000005);
});

test("Rutoken's spellings are aliases of the TC26 names", () => {
  const aliases: Array<[string, string]> = [
    ['CKM_GOSTR3410_WITH_GOSTR3411_12_256', 'CKM_GOSTR3410_WITH_GOSTR3411_2012_256'],
    ['CKM_GOSTR3410_WITH_GOSTR3411_12_512', 'CKM_GOSTR3410_WITH_GOSTR3411_2012_512'],
    ['CKM_GOSTR3410_12_DERIVE', 'CKM_GOSTR3410_2012_DERIVE'],
    ['CKM_GOSTR3411_12_256', 'CKM_GOSTR3411_2012_256'],
    ['CKM_GOSTR3411_12_512', 'CKM_GOSTR3411_2012_512'],
    ['CKM_GOSTR3411_12_256_HMAC', 'CKM_GOSTR3411_2012_256_HMAC'],
    ['CKM_GOSTR3411_12_512_HMAC', 'CKM_GOSTR3411_2012_512_HMAC'],
    ['CKK_KUZNYECHIK', 'CKK_KUZNECHIK'],
    ['CKK_KUZNYECHIK_TWIN_KEY', 'CKK_KUZNECHIK_TWIN_KEY'],
    ['CKM_KUZNYECHIK_KEY_GEN', 'CKM_KUZNECHIK_KEY_GEN'],
    ['CKM_KUZNYECHIK_ECB', 'CKM_KUZNECHIK_ECB'],
    ['CKM_KUZNYECHIK_CTR_ACPKM', 'CKM_KUZNECHIK_CTR_ACPKM'],
    ['CKM_KUZNYECHIK_MAC', 'CKM_KUZNECHIK_MAC'],
    ['CKM_KUZNYECHIK_MGM', 'CKM_KUZNECHIK_MGM'],
    ['CKM_KUZNYECHIK_KEXP_15_WRAP', 'CKM_KUZNECHIK_KEXP_15_WRAP'],
    ['CKK_GOSTR3410_256', 'CKK_GOSTR3410'],
    ['CKA_GOSTR3410_256PARAMS', 'CKA_GOSTR3410_PARAMS'],
    ['CKM_GOSTR3410_256', 'CKM_GOSTR3410'],
    ['CKM_GOSTR3410_256_KEY_PAIR_GEN', 'CKM_GOSTR3410_KEY_PAIR_GEN'],
    ['CKM_GOSTR3411_94', 'CKM_GOSTR3411'],
  ];
  for (const [alias, canonical] of aliases) {
    expect(table[alias]).toBeDefined();
    expect([alias, table[alias]]).toEqual([alias, table[canonical]]);
  }
});

test('value→name maps give the TC26 names; nomap values stay vendor-generic', () => {
  expect(raw.CKM_NAMES[0xd4321008]).toBe('CKM_GOSTR3410_WITH_GOSTR3411_2012_256');
  expect(raw.CKM_NAMES[0xd4321032]).toBe('CKM_KUZNECHIK_CTR_ACPKM');
  expect(raw.CKK_NAMES[0xd4321003]).toBe('CKK_GOSTR3410_512');
  expect(raw.CKK_NAMES[0x30]).toBe('CKK_GOSTR3410');
  expect(raw.CKD_NAMES[0xd4321026]).toBe('CKD_KDF_GOSTR3411_2012_256');
  expect(constantName('CKM', 0xd4321036)).toBe('CKM_MAGMA_CTR_ACPKM');
  // CKM_VENDOR_DEFINED + 4 is Rutoken's VKO-512 but also other vendors' numbers: not named globally.
  expect(raw.CKM_NAMES[0x80000004]).toBeUndefined();
  expect(constantName('CKM', 0x80000004)).toBe('CKM_VENDOR_DEFINED+0x4');
  // A PRF, not a profile ID.
  expect(raw.CKP_NAMES[0xd4321003]).toBeUndefined();
});

test('the generator refuses a vendor row whose symbolic form disagrees with its value', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'p11bridge-gen-'));
  try {
    fs.mkdirSync(path.join(dir, 'scripts'));
    fs.copyFileSync(path.join(root, 'scripts/gen-constants.js'), path.join(dir, 'scripts/gen-constants.js'));
    fs.cpSync(path.join(root, 'scripts/constants'), path.join(dir, 'scripts/constants'), { recursive: true });
    const file = path.join(dir, 'scripts/constants/ckm.tc26.tsv');
    fs.writeFileSync(file, fs.readFileSync(file, 'utf8').replace('CKM_MAGMA_MAC\t0xd4321037', 'CKM_MAGMA_MAC\t0xd4321038'));
    const r = spawnSync(process.execPath, [path.join(dir, 'scripts/gen-constants.js'), '--check'], { encoding: 'utf8' });
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/ckm\.tc26\.tsv:\d+: CK_VENDOR_PKCS11_RU_TEAM_TC26\|0x037 != CKM_MAGMA_MAC/);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
