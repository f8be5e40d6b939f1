#!/usr/bin/env node
// Generates the PKCS#11 constants for both sides of the bridge from one table:
//   scripts/constants/<group>.tsv  ->  lib/constants/generated.ts
//                                  ->  src-native/pkcs11/pkcs11_constants.h
//
// Table format (one file per prefix group, file name = group, e.g. ckr.tsv -> CKR;
// ck.tsv holds the CK_ specials and CRYPTOKI_VERSION_*). Vendor-defined constants live in
// <group>.<vendor>.tsv (e.g. ckm.tc26.tsv), read after the group's own file; each file's header
// comment names its sources. Lines starting with '#' and
// blank lines are ignored; other lines are TAB separated:
//   NAME  VALUE  [SYMBOLIC]  [FLAGS]
// VALUE is the final number as a hex literal. SYMBOLIC is '-' or the spec's form: for
// an alias the canonical name, or "NAME|0x..." (both are checked against VALUE).
// FLAGS is a comma list of:
//   alias      another name for an existing constant; left out of value->name maps
//   nomap      a different enumeration sharing the prefix; left out of value->name maps
//   int        plain int in C (no UL suffix), as the spec writes it
//   ulong-max  all CK_ULONG bits set; width is platform dependent, so C gets (~0UL)
//              and TypeScript gets nothing (the native runtime exports it)
//
// Usage: node scripts/gen-constants.js           write both files
//        node scripts/gen-constants.js --check   exit 1 if the files on disk are stale
'use strict';

const fs = require('node:fs');
const path = require('node:path');

const ROOT = path.resolve(__dirname, '..');
const TABLE_DIR = path.join(__dirname, 'constants');
const TS_OUT = path.join(ROOT, 'lib', 'constants', 'generated.ts');
const H_OUT = path.join(ROOT, 'src-native', 'pkcs11', 'pkcs11_constants.h');
const ERR_OUT = path.join(ROOT, 'lib', 'errors', 'generated.ts');

// Groups that get a value->name map. Not CKF (flag families reuse the same bits), CKV
// (two enumerations over the same values), CKT or the CK_ specials.
const MAPPED = ['CKR', 'CKA', 'CKM', 'CKK', 'CKO', 'CKC', 'CKH', 'CKU', 'CKS', 'CKD', 'CKG', 'CKZ', 'CKP', 'CKN'];
const KNOWN_FLAGS = new Set(['alias', 'nomap', 'int', 'ulong-max']);
const ULONG32_MAX = 0xffffffffn;
const ULONG64_MAX = 0xffffffffffffffffn;

function fail(msg) {
  throw new Error(`gen-constants: ${msg}`);
}

function readTable() {
  const rows = [];
  const byName = new Map();
  // <group>.tsv first, then its <group>.<vendor>.tsv files, so every group stays contiguous.
  const parts = (f) => path.basename(f, '.tsv').split('.');
  const files = fs
    .readdirSync(TABLE_DIR)
    .filter((f) => /^[a-z]+(\.[a-z0-9]+)?\.tsv$/.test(f))
    .sort((a, b) => {
      const [ga, va = ''] = parts(a);
      const [gb, vb = ''] = parts(b);
      return ga < gb ? -1 : ga > gb ? 1 : va < vb ? -1 : va > vb ? 1 : 0;
    });
  for (const file of files) {
    const [base, vendor] = parts(file);
    const group = base.toUpperCase();
    const prefixes = group === 'CK' ? ['CK_', 'CRYPTOKI_'] : [`${group}_`];
    const lines = fs.readFileSync(path.join(TABLE_DIR, file), 'utf8').split('\n');
    lines.forEach((line, i) => {
      if (line.trim() === '' || line.startsWith('#')) return;
      const where = `${file}:${i + 1}`;
      const [name, hex, symbolic = '-', flagText = '', extra] = line.split('\t');
      if (extra !== undefined) fail(`${where}: too many columns`);
      if (!/^[A-Z][A-Z0-9_]*$/.test(name) || !prefixes.some((p) => name.startsWith(p))) {
        fail(`${where}: bad name "${name}" for group ${group}`);
      }
      if (!/^0x[0-9a-fA-F]+$/.test(hex || '')) fail(`${where}: bad value "${hex}"`);
      const flags = new Set(flagText.split(',').filter(Boolean));
      for (const f of flags) if (!KNOWN_FLAGS.has(f)) fail(`${where}: unknown flag "${f}"`);
      const value = BigInt(hex);
      if (flags.has('ulong-max') ? value !== ULONG64_MAX : value > ULONG32_MAX) {
        fail(`${where}: value ${hex} out of range`);
      }
      if (byName.has(name)) fail(`${where}: duplicate name ${name}`);
      const row = { group, name, value, symbolic, flags, where, vendor: vendor || null, file };
      byName.set(name, row);
      rows.push(row);
    });
  }
  // The symbolic column doubles as a cross-check of the hand-resolved numbers.
  for (const row of rows) {
    const expr = /^([A-Z][A-Z0-9_]*)(?:\|(0x[0-9a-fA-F]+))?$/.exec(row.symbolic);
    if (row.flags.has('alias')) {
      const target = expr && !expr[2] ? byName.get(expr[1]) : undefined;
      if (!target || target.flags.has('alias') || target.value !== row.value) {
        fail(`${row.where}: alias ${row.name} must name a canonical constant with the same value`);
      }
    } else if (expr && expr[2]) {
      const base = byName.get(expr[1]);
      if (!base || (base.value | BigInt(expr[2])) !== row.value) fail(`${row.where}: ${row.symbolic} != ${row.name}`);
    }
  }
  return rows;
}

// Value->name maps hold canonical names only, so every value must be unique there.
function nameMaps(rows) {
  const maps = new Map();
  for (const group of MAPPED) {
    const seen = new Map();
    for (const r of rows) {
      if (r.group !== group || r.flags.has('alias') || r.flags.has('nomap')) continue;
      if (seen.has(r.value)) fail(`${r.where}: ${r.name} and ${seen.get(r.value)} share a value in ${group}_NAMES`);
      seen.set(r.value, r.name);
    }
    if (seen.size === 0) fail(`no constants for mapped group ${group}`);
    maps.set(group, [...seen].sort((a, b) => (a[0] < b[0] ? -1 : 1)));
  }
  return maps;
}

const hexTs = (v) => `0x${v.toString(16)}`;

function renderTs(rows, maps) {
  const out = [
    '// Generated by scripts/gen-constants.js from scripts/constants/*.tsv — do not edit.',
    // constantName accepts bigint CK_ULONGs; tsc's default (ES5) lib has no BigInt.
    '/// <reference lib="es2020" />',
    '',
    '// CK_UNAVAILABLE_INFORMATION is deliberately absent: it is all bits of CK_ULONG, whose',
    '// width is platform dependent, so the native runtime exports it.',
  ];
  let group = '';
  let file = '';
  for (const r of rows) {
    if (r.flags.has('ulong-max')) continue;
    if (r.group !== group) out.push('', `// ${(group = r.group)}`);
    if (r.file !== file && r.vendor) out.push(`// ${r.group}, vendor-defined (${r.vendor}): scripts/constants/${r.file}`);
    file = r.file;
    const note = r.flags.has('alias') ? ` // alias of ${r.symbolic}` : '';
    out.push(`export const ${r.name} = ${hexTs(r.value)};${note}`);
  }
  out.push('', `export type ConstantGroup = ${MAPPED.map((g) => `'${g}'`).join(' | ')};`);
  for (const [g, entries] of maps) {
    out.push('', `export const ${g}_NAMES: Readonly<Record<number, string>> = Object.freeze({`);
    for (const [v, name] of entries) out.push(`  ${hexTs(v)}: '${name}',`);
    out.push('});');
  }
  out.push('', 'const NAME_MAPS: Readonly<Record<ConstantGroup, Readonly<Record<number, string>>>> = {');
  for (const g of MAPPED) out.push(`  ${g}: ${g}_NAMES,`);
  out.push('};', '', '// <GROUP>_VENDOR_DEFINED for the groups where the spec defines one.');
  out.push('const VENDOR_BASES: Readonly<Partial<Record<ConstantGroup, number>>> = {');
  for (const g of MAPPED) {
    const base = rows.find((r) => r.name === `${g}_VENDOR_DEFINED`);
    if (base) out.push(`  ${g}: ${base.name},`);
  }
  out.push(
    '};',
    '',
    '/**',
    ' * Name of a PKCS#11 value: the canonical spec name if known, else a stable synthetic',
    ' * name, `<GROUP>_VENDOR_DEFINED+0x<offset>` at or above the vendor base, otherwise',
    ' * `<GROUP>_0x<value>` (hex, lower case, no padding). Throws RangeError for values that',
    ' * are not CK_ULONGs (negative, fractional, or unsafe numbers: pass those as bigint).',
    ' */',
    'export function constantName(group: ConstantGroup, value: number | bigint): string {',
    '  let v: bigint;',
    "  if (typeof value === 'bigint') {",
    '    v = value;',
    '  } else if (value >= 0 && value <= 0x1fffffffffffff && Math.floor(value) === value) {',
    '    v = BigInt(value);',
    '  } else {',
    '    throw new RangeError(`constantName: ${value} is not a CK_ULONG value`);',
    '  }',
    '  if (v < 0) throw new RangeError(`constantName: ${v} is not a CK_ULONG value`);',
    '  if (v <= 0xffffffff) {',
    '    const name = NAME_MAPS[group][Number(v)];',
    '    if (name !== undefined) return name;',
    '  }',
    '  const base = VENDOR_BASES[group];',
    '  if (base !== undefined && v >= base) {',
    '    return `${group}_VENDOR_DEFINED+0x${(v - BigInt(base)).toString(16)}`;',
    '  }',
    '  return `${group}_0x${v.toString(16)}`;',
    '}',
    '',
  );
  return out.join('\n');
}

function renderC(rows) {
  const guard = 'P11BRIDGE_PKCS11_CONSTANTS_H';
  const width = Math.max(...rows.map((r) => r.name.length)) + 1;
  const out = [
    '// Generated by scripts/gen-constants.js from scripts/constants/*.tsv -- do not edit.',
    '// PKCS#11 3.2 constants. Plain unsigned long literals, so they also work in #if.',
    `#ifndef ${guard}`,
    `#define ${guard}`,
  ];
  let group = '';
  let file = '';
  for (const r of rows) {
    if (r.group !== group) out.push('', `// ${(group = r.group)}`);
    if (r.file !== file && r.vendor) out.push(`// ${r.group}, vendor-defined (${r.vendor}): scripts/constants/${r.file}`);
    file = r.file;
    let value = `0x${r.value.toString(16).padStart(8, '0')}UL`;
    if (r.flags.has('ulong-max')) value = '(~0UL)';
    else if (r.flags.has('int')) value = r.value.toString();
    const note = r.flags.has('alias') ? `  // alias of ${r.symbolic}` : r.symbolic.includes('|') ? `  // ${r.symbolic}` : '';
    out.push(`#define ${r.name.padEnd(width)}${value}${note}`);
  }
  out.push('', `#endif // ${guard}`, '');
  return out.join('\n');
}

// Error classes: one per CKR code, each under a group base (lib/errors/groups.ts).
const ERROR_GROUPS = [
  ['PinError', /^(PIN_|USER_PIN_NOT_INITIALIZED$|NEW_PIN_MODE$)/],
  ['SessionError', /^(SESSION_|USER_)/],
  ['TokenError', /^(TOKEN_|SLOT_ID_INVALID$|RANDOM_|SEED_RANDOM_REQUIRED$)/],
  ['KeyError', /^(KEY_|WRAPPED_KEY_|WRAPPING_KEY_|UNWRAPPING_KEY_|PUBLIC_KEY_INVALID$|CURVE_NOT_SUPPORTED$|DOMAIN_PARAMS_INVALID$)/],
  ['ObjectError', /^(OBJECT_|ATTRIBUTE_|TEMPLATE_|ACTION_PROHIBITED$|INFORMATION_SENSITIVE$)/],
  ['MechanismError', /^(MECHANISM_|PARAMETER_SET_NOT_SUPPORTED$)/],
  ['ArgumentsError', /^(ARGUMENTS_BAD$|DATA_|ENCRYPTED_DATA_|BUFFER_TOO_SMALL$)/],
  ['DeviceError', /^(DEVICE_|HOST_MEMORY$|GENERAL_ERROR$|FUNCTION_FAILED$|FIPS_SELF_TEST_FAILED$)/],
  ['OperationError', /^(OPERATION_|SIGNATURE_|AEAD_DECRYPT_FAILED$|SAVED_STATE_INVALID$|STATE_UNSAVEABLE$|FUNCTION_CANCELED$|CANCEL$|PENDING$|NO_EVENT$|EXCEEDED_MAX_ITERATIONS$|NEXT_OTP$)/],
];
const GROUP_NAMES = ['Pkcs11Error', ...ERROR_GROUPS.map(([g]) => g), 'CryptokiError'];

function errorClassName(name) {
  const pascal = name.slice(4).toLowerCase().replace(/(^|_)([a-z0-9])/g, (_, __, ch) => ch.toUpperCase());
  let cls = pascal.endsWith('Error') ? pascal : pascal + 'Error';
  if (GROUP_NAMES.includes(cls)) cls += 'Error'; // CKR_DEVICE_ERROR must not shadow the DeviceError group
  return cls;
}

function renderErrors(rows) {
  // Vendor CKR codes (ckr.<vendor>.tsv) get names from lib/errors/vendors.ts tables, not classes.
  const codes = rows.filter((r) => r.group === 'CKR' && r.name !== 'CKR_OK' && !r.flags.has('alias') && !r.vendor);
  const out = [
    '// Generated by scripts/gen-constants.js from scripts/constants/ckr.tsv — do not edit.',
    '// One class per CKR code, each under its group base; ERROR_CLASSES maps rv to class.',
    `import { ${GROUP_NAMES.join(', ')} } from './groups';`,
    '',
  ];
  const entries = [];
  for (const r of codes) {
    const rest = r.name.slice(4);
    const group = (ERROR_GROUPS.find(([, re]) => re.test(rest)) || ['CryptokiError'])[0];
    const cls = errorClassName(r.name);
    out.push(`/** ${r.name} (${hexTs(r.value)}) */`);
    out.push(`export class ${cls} extends ${group} {`);
    out.push(`  static readonly rv = ${hexTs(r.value)};`);
    out.push('}');
    entries.push(`  [${hexTs(r.value)}, ${cls}],`);
  }
  out.push('');
  out.push('export type Pkcs11ErrorClass = new (rv: number | bigint, fn: string, detail?: string) => Pkcs11Error;');
  out.push('');
  out.push('/** CKR value → its error class. */');
  out.push('export const ERROR_CLASSES: ReadonlyMap<number, Pkcs11ErrorClass> = new Map<number, Pkcs11ErrorClass>([');
  out.push(...entries);
  out.push(']);');
  out.push('');
  return out.join('\n');
}

function main() {
  const check = process.argv.includes('--check');
  const rows = readTable();
  const outputs = [
    [TS_OUT, renderTs(rows, nameMaps(rows))],
    [H_OUT, renderC(rows)],
    [ERR_OUT, renderErrors(rows)],
  ];
  let stale = 0;
  for (const [file, text] of outputs) {
    const rel = path.relative(ROOT, file);
    if (check) {
      const current = fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : null;
      if (current !== text) {
        stale++;
        console.error(`${rel} is out of date; run: node scripts/gen-constants.js`);
      }
    } else {
      fs.mkdirSync(path.dirname(file), { recursive: true });
      fs.writeFileSync(file, text);
      console.log(`wrote ${rel}`);
    }
  }
  if (!check) console.log(`${rows.length} constants from ${path.relative(ROOT, TABLE_DIR)}`);
  process.exitCode = stale ? 1 : 0;
}

try {
  main();
} catch (err) {
  console.error(err.message);
  process.exitCode = 2;
}
