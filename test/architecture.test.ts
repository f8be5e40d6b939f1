// The typed layer's import graph, as it runs: the compiled dist/ (what users load), not the
// TypeScript (whose `import type` lines vanish). No run-time import cycle, whose behaviour would
// depend on which file a program happens to load first, and no require() deferred into a function
// body to dodge one (it also breaks under ES module output), and no import that points up a layer.
import * as fs from 'node:fs';
import * as path from 'node:path';

const dist = path.join(__dirname, '..', 'dist');

function jsFiles(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    return e.isDirectory() ? jsFiles(p) : p.endsWith('.js') ? [p] : [];
  });
}

function resolve(from: string, spec: string): string {
  const base = path.resolve(path.dirname(from), spec);
  for (const c of [base, base + '.js', path.join(base, 'index.js')]) if (fs.existsSync(c) && fs.statSync(c).isFile()) return c;
  throw new Error(`${path.relative(dist, from)}: cannot resolve ${spec}`);
}

interface Graph {
  edges: Map<string, string[]>;
  deferred: string[];
}

// tsc emits a module's imports at column 0 (`const x = require("./x")`, `__exportStar(require(…))`);
// a require() of a project file anywhere else sits inside a function: deferred.
export function importGraph(files: string[]): Graph {
  const edges = new Map<string, string[]>();
  const deferred: string[] = [];
  for (const f of files) {
    const deps: string[] = [];
    fs.readFileSync(f, 'utf8')
      .split('\n')
      .forEach((line, i) => {
        for (const m of line.matchAll(/\brequire\((["'])(\.{1,2}\/[^"']*)\1\)/g)) {
          if (/^\s/.test(line)) deferred.push(`${path.relative(dist, f)}:${i + 1} require(${m[2]})`);
          else deps.push(resolve(f, m[2]));
        }
      });
    edges.set(f, deps);
  }
  return { edges, deferred };
}

/** Strongly connected components of more than one file (Tarjan), or a file that imports itself. */
export function cycles(edges: Map<string, string[]>): string[][] {
  let next = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const out: string[][] = [];
  const visit = (v: string): void => {
    index.set(v, next);
    low.set(v, next++);
    stack.push(v);
    onStack.add(v);
    for (const w of edges.get(v) ?? []) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) === index.get(v)) {
      const c: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        c.push(w);
      } while (w !== v);
      if (c.length > 1 || (edges.get(v) ?? []).includes(v)) out.push(c.map((x) => path.relative(dist, x)).sort());
    }
  };
  for (const v of edges.keys()) if (!index.has(v)) visit(v);
  return out;
}

/**
 * The layers of lib/, bottom to top; a file's layer is that of its first folder (top-level files
 * are the entry points). The CLI is a program on the public entry, as a user's would be.
 * docs/architecture.md says what each holds.
 */
export const LAYERS = ['base', 'binding', 'pure', 'locate', 'core', 'objects', 'session', 'interop', 'features', 'entry', 'cli'] as const;
const FOLDER_LAYER: Record<string, (typeof LAYERS)[number]> = {
  util: 'base',
  constants: 'base',
  errors: 'base',
  types: 'base',
  binding: 'binding',
  template: 'pure',
  mechanisms: 'pure',
  encoding: 'pure',
  locate: 'locate',
  core: 'core',
  objects: 'objects',
  session: 'session',
  interop: 'interop',
  documents: 'features',
  compat: 'features',
  cli: 'cli',
};

export function layerOf(file: string): number {
  const parts = file.split(/[\\/]/);
  if (parts.length === 1) return LAYERS.indexOf('entry');
  const layer = FOLDER_LAYER[parts[0]];
  return layer === undefined ? -1 : LAYERS.indexOf(layer);
}

describe('the compiled import graph (dist/)', () => {
  const graph = importGraph(jsFiles(dist));

  test('has no run-time import cycle', () => {
    expect(cycles(graph.edges)).toEqual([]);
  });

  test('has no require() deferred into a function body', () => {
    expect(graph.deferred).toEqual([]);
  });

  // The layers, bottom to top (docs/architecture.md). A file may import its own layer and the
  // layers below it, never one above: a class a layer down gets methods from above instead
  // (Slot.openSession from session/, Session.importKey from interop/ …).
  test('every import points down the layers (or stays in its own)', () => {
    const up: string[] = [];
    for (const [f, deps] of graph.edges) {
      const from = path.relative(dist, f);
      for (const d of deps) {
        const to = path.relative(dist, d);
        if (layerOf(to) > layerOf(from)) up.push(`${from} (${LAYERS[layerOf(from)]}) -> ${to} (${LAYERS[layerOf(to)]})`);
      }
    }
    expect(up).toEqual([]);
  });

  // template/, mechanisms/ and encoding/ translate: bytes and handles in, no token calls. What a
  // spec names on the token (an ECDH peer's CKA_EC_POINT …) is read by the caller (objects/).
  test('the pure layer makes no token calls', () => {
    const calls: string[] = [];
    for (const f of graph.edges.keys()) {
      const rel = path.relative(dist, f);
      if (LAYERS[layerOf(rel)] !== 'pure') continue;
      fs.readFileSync(f, 'utf8')
        .split('\n')
        .forEach((line, i) => {
          for (const m of line.matchAll(/\b(C_[A-Z]\w*|getAttributes?|session\.run)\s*\(/g)) calls.push(`${rel}:${i + 1} ${m[1]}(`);
        });
    }
    expect(calls).toEqual([]);
  });

  test('every compiled file belongs to a known layer', () => {
    const unknown = [...graph.edges.keys()].map((f) => path.relative(dist, f)).filter((f) => layerOf(f) < 0);
    expect(unknown).toEqual([]);
  });

  test('the layer check sees an import that points up', () => {
    expect(layerOf('core/slot.js')).toBeLessThan(layerOf('session/session.js'));
    expect(layerOf('mechanisms/kdf.js')).toBeLessThan(layerOf('objects/object.js'));
    expect(layerOf('binding/native.js')).toBeLessThan(layerOf('template/codecs.js'));
    expect(layerOf('index.js')).toBeGreaterThan(layerOf('interop/x509.js'));
  });

  test('the checks see cycles and deferred requires where there are some', () => {
    // A throw-away graph: a → b → c → a, and d requiring e from inside a function.
    const dir = fs.mkdtempSync(path.join(dist, '..', '.tmp-arch-'));
    try {
      const w = (n: string, body: string) => fs.writeFileSync(path.join(dir, n + '.js'), body);
      w('a', 'const b = require("./b");\n');
      w('b', "const c = require('./c');\n");
      w('c', 'const a = require("./a");\n');
      w('d', 'function later() {\n  return require("./e");\n}\n');
      w('e', 'exports.x = 1;\n');
      const g = importGraph(['a', 'b', 'c', 'd', 'e'].map((n) => path.join(dir, n + '.js')));
      expect(cycles(g.edges)).toHaveLength(1);
      expect(cycles(g.edges)[0]).toHaveLength(3);
      expect(g.deferred).toHaveLength(1);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

// What users see is deliberate: members marked @internal are not in the published .d.ts
// (tsconfig stripInternal), and state the library keeps is read-only from outside.
describe('the public surface (dist/*.d.ts)', () => {
  const dts = (f: string) => fs.readFileSync(path.join(dist, f), 'utf8');

  test.each([
    ['core/module.d.ts', ['enter(', 'leave(', 'finalizing', 'admit<', 'nameError(', 'call<', 'operations:']],
    ['session/session.d.ts', ['tryHold(', 'startOperation(']],
    ['core/slot.d.ts', ['setLoginState(', 'knownMechanisms', 'sessionClosedCallback(', 'sessionOpened(']],
    ['session/operations.d.ts', ['belongsTo(']],
  ])('%s leaves out the internals', (file, names) => {
    const text = dts(file);
    for (const n of names) expect({ n, found: text.includes(n) }).toEqual({ n, found: false });
  });

  test('Slot.loginState is a getter only', () => {
    expect(dts('core/slot.d.ts')).toMatch(/get loginState\(\)/);
    expect(dts('core/slot.d.ts')).not.toMatch(/set loginState/);
  });
});
