// Every parameter struct described in lib/mechanisms/params.ts must get exactly the layout the C
// compiler gives the project's own header struct (offsetof/sizeof, from test/native/layout.c).
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as raw from '../lib/raw';
import { structLayout, StructField } from '../lib/raw';
import * as P from '../lib/mechanisms/params';

const root = path.join(__dirname, '..');
const b = (n: number) => Buffer.alloc(n, 1);

// One sample description per header struct: the list the Windows run uses too (plain JS there).
// eslint-disable-next-line @typescript-eslint/no-var-requires
const describedFor = require('./native/layout-described.js') as (params: typeof P, rawApi: typeof raw) => Record<string, StructField[]>;
const described = describedFor(P, raw);

let header: Record<string, { size: number; offsets: number[] }>;

beforeAll(() => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'p11bridge-layout-'));
  const exe = path.join(dir, 'layout');
  execFileSync('cc', ['-std=c99', '-Wall', '-Werror', '-o', exe, '-I', path.join(root, 'src-native/pkcs11'), path.join(root, 'test/native/layout.c')]);
  header = JSON.parse(execFileSync(exe, { encoding: 'utf8' }));
  fs.rmSync(dir, { recursive: true, force: true });
});

test('the layout program covers every described struct and vice versa', () => {
  expect(Object.keys(header).sort()).toEqual(Object.keys(described).sort());
});

test.each(Object.keys(described))('%s: size and offsets match the header', (name) => {
  const got = structLayout(described[name]);
  expect({ size: got.size, offsets: got.offsets }).toEqual(header[name]);
});

test('layout rules: natural alignment, trailing padding, inline structs', () => {
  expect(structLayout([{ byte: 1 }, { ulong: 2 }])).toEqual({ size: 16, align: 8, offsets: [0, 8] });
  expect(structLayout([{ ulong: 2 }, { byte: 1 }])).toEqual({ size: 16, align: 8, offsets: [0, 8] });
  expect(structLayout([{ byte: 1 }, { byte: 2 }, { fixed: b(3) }])).toEqual({ size: 5, align: 1, offsets: [0, 1, 2] });
  expect(structLayout([{ byte: 1 }, { inline: [{ ulong: 1 }, { byte: 2 }] }, { byte: 3 }])).toEqual({ size: 32, align: 8, offsets: [0, 8, 24] });
});

test('bad descriptions give TypeError/RangeError naming the field', () => {
  expect(() => structLayout([{ nope: 1 } as unknown as StructField])).toThrow(/fields\[0\]/);
  expect(() => structLayout([{ byte: 300 }])).toThrow(RangeError);
  expect(() => structLayout([{ ulong: -1 }])).toThrow(RangeError);
  expect(() => structLayout([{ bytes: 5 as unknown as Buffer }])).toThrow(TypeError);
  const cyclic: StructField[] = [];
  cyclic.push({ struct: cyclic });
  expect(() => structLayout(cyclic)).toThrow(/too deeply/);
  expect(() => structLayout([{ structs: [[{ ulong: 1 }], [{ byte: 1 }, { byte: 2 }]] }])).toThrow(/one layout/);
});
