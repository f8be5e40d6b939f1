// Bad argument values shared by the table-driven argument tests (test/arguments.test.ts for the 68
// functions of 2.40, test/v3-functions.test.ts for the 36 of 3.0 and 3.2): each names the error
// class it must produce and where in the argument the message points.
import { CKA_LABEL, CKA_WRAP_TEMPLATE } from '../../lib/raw';
import type { Pkcs11Error } from '../../lib/raw';

export type ErrKind = 'type' | 'range';
export interface Bad {
  /** How the bad value is described in the report. */
  what: string;
  value?: unknown;
  /** The argument is left out (the call gets fewer arguments). */
  missing?: boolean;
  err: ErrKind;
  /** The argument path named in the message, relative to the parameter name ('' = the parameter). */
  at: string;
}

export const MISSING = (at = ''): Bad => ({ what: 'missing', missing: true, err: 'type', at });
export const T = (what: string, value: unknown, at = ''): Bad => ({ what, value, err: 'type', at });
export const R = (what: string, value: unknown, at = ''): Bad => ({ what, value, err: 'range', at });

export function cyclicTemplate(): unknown[] {
  const arr: unknown[] = [];
  arr.push({ type: CKA_WRAP_TEMPLATE, value: arr });
  return arr;
}

export function nestedTemplate(levels: number): unknown[] {
  let t: unknown[] = [{ type: CKA_LABEL, value: 'leaf' }];
  for (let i = 0; i < levels; i++) t = [{ type: CKA_WRAP_TEMPLATE, value: t }];
  return t;
}

export const TOO_DEEP = '[0].value[0].value[0].value[0].value[0].value';

export const ULONG_TYPE_ERRORS: Bad[] = [
  T('string', '1'),
  T('object', {}),
  T('array', []),
  T('boolean', true),
  T('symbol', Symbol('s')),
  T('function', () => 1),
  T('Date', new Date(0)),
  T('Buffer', Buffer.alloc(8)),
];
export const ULONG_RANGE_ERRORS: Bad[] = [
  R('-1', -1),
  R('NaN', NaN),
  R('Infinity', Infinity),
  R('-Infinity', -Infinity),
  R('0.5', 0.5),
  R('1.5', 1.5),
  R('2**53', 2 ** 53),
  R('2**53+2', 2 ** 53 + 2),
  R('2**64', 2 ** 64),
  R('Number.MAX_VALUE', Number.MAX_VALUE),
  R('-1n', -1n),
  R('2n**64n', 2n ** 64n),
  R('2n**64n+1n', 2n ** 64n + 1n),
  R('2n**100n', 2n ** 100n),
];
export const NULLISH_TYPE_ERRORS: Bad[] = [T('null', null), T('undefined', undefined), MISSING()];

/** Bad templates; `optional` templates accept null/undefined/missing. */
export function templateBads(optional: boolean): Bad[] {
  const fn = () => 0;
  const bads: Bad[] = [
    T('number', 5),
    T('string', 'template'),
    T('object', { type: CKA_LABEL, value: 'x' }),
    T('boolean', true),
    T('symbol', Symbol('t')),
    T('Map', new Map()),
    T('element number', [1], '[0]'),
    T('element string', ['x'], '[0]'),
    T('element null', [null], '[0]'),
    T('element undefined', [undefined], '[0]'),
    T('element function', [fn], '[0]'),
    T('second element number', [{ type: CKA_LABEL, value: 'x' }, 7], '[1]'),
    T('missing type', [{ value: 'x' }], '[0].type'),
    T('array element (no type)', [[]], '[0].type'),
    T('type string', [{ type: '3', value: 'x' }], '[0].type'),
    T('type null', [{ type: null, value: 'x' }], '[0].type'),
    T('value function', [{ type: CKA_LABEL, value: fn }], '[0].value'),
    T('value symbol', [{ type: CKA_LABEL, value: Symbol('v') }], '[0].value'),
    T('value plain object', [{ type: CKA_LABEL, value: { a: 1 } }], '[0].value'),
    T('value Map', [{ type: CKA_LABEL, value: new Map() }], '[0].value'),
    T('value number[] with a string', [{ type: CKA_LABEL, value: [1, 'x'] }], '[0].value[1]'),
    T('nested template with a function value', [{ type: CKA_WRAP_TEMPLATE, value: [{ type: CKA_LABEL, value: fn }] }], '[0].value[0].value'),
    T('nested template missing type', [{ type: CKA_WRAP_TEMPLATE, value: [{ value: 1 }] }], '[0].value[0].type'),
    R('type -1', [{ type: -1, value: 'x' }], '[0].type'),
    R('type 1.5', [{ type: 1.5, value: 'x' }], '[0].type'),
    R('type NaN', [{ type: NaN, value: 'x' }], '[0].type'),
    R('type 2**64', [{ type: 2 ** 64, value: 'x' }], '[0].type'),
    R('type 2n**64n', [{ type: 2n ** 64n, value: 'x' }], '[0].type'),
    R('value -1', [{ type: CKA_LABEL, value: -1 }], '[0].value'),
    R('value NaN', [{ type: CKA_LABEL, value: NaN }], '[0].value'),
    R('value 2**53+2', [{ type: CKA_LABEL, value: 2 ** 53 + 2 }], '[0].value'),
    R('value 2n**64n', [{ type: CKA_LABEL, value: 2n ** 64n }], '[0].value'),
    R('value number[] with -1', [{ type: CKA_LABEL, value: [1, -1] }], '[0].value[1]'),
    R('value invalid Date', [{ type: CKA_LABEL, value: new Date(NaN) }], '[0].value'),
    R('value Date in year 10000', [{ type: CKA_LABEL, value: new Date('+010000-01-01T00:00:00Z') }], '[0].value'),
    R('value number[] of 4097', [{ type: CKA_LABEL, value: new Array(4097).fill(1) }], '[0].value'),
    R('4097 attributes', new Array(4097).fill({ type: CKA_LABEL, value: 'x' })),
    R('nested 10 levels deep', nestedTemplate(10), TOO_DEEP),
    R('cyclic (arr.push({ type, value: arr }))', cyclicTemplate(), TOO_DEEP),
  ];
  return optional ? bads : [...bads, ...NULLISH_TYPE_ERRORS];
}

/** One line describing a thrown value, for failure reports. */
export function describeThrown(e: unknown): string {
  if (e instanceof Error) return `${e.constructor.name}(${(e as { code?: string }).code ?? (e as Pkcs11Error).rvName}): ${e.message}`;
  return `non-error ${String(e)}`;
}
