#!/usr/bin/env node
// The public API reports (etc/<entry>.api.md), one per entry point of package.json "exports",
// made by API Extractor from the compiled declarations (dist/*.d.ts; build them first).
//
//   node scripts/api-report.js            check: exit 1 when a report differs from dist/ (or is
//                                         missing, or is left over from a removed entry point)
//   node scripts/api-report.js --update   rewrite the reports to match dist/
//   --dist=DIR                            read the declarations from DIR instead of dist/
//                                         (test/api-report.test.ts checks a changed copy)
//   --only=p11bridge-raw                  only these reports
//
// An entry point added to "exports" (with require.types under dist/) gets its report from
// `npm run api:update`; nothing else to configure. Shared settings: api-extractor.json.
//
// API Extractor leaves out module augmentations (`declare module './session' { interface Session
// { … } }`), and that is how this project adds methods to a class from a layer above it
// (docs/architecture.md): most of Session's methods, PublicKey.toKeyObject() … So this script
// lists them in a section of its own at the end of each report, from the .d.ts files the entry
// point reaches, and does the comparison with the checked-in report itself.
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const { Extractor, ExtractorConfig, CompilerState } = require('@microsoft/api-extractor');
const ts = require('typescript');

const root = path.join(__dirname, '..');
const argv = process.argv.slice(2);
const UPDATE = argv.includes('--update');
const DIST = path.resolve(root, (argv.find((a) => a.startsWith('--dist=')) || '--dist=dist').slice(7));
const ONLY = (argv.find((a) => a.startsWith('--only=')) || '').slice(7).split(',').filter(Boolean);
const REPORTS = path.join(root, 'etc');
const TMP = path.join(root, '.tmp', 'api-report');

const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'));

/** [report name, .d.ts under DIST] for every "exports" subpath with CommonJS types in dist/. */
function entryPoints() {
  const out = [];
  for (const [subpath, target] of Object.entries(pkg.exports || {})) {
    const types = target && target.require && target.require.types;
    if (typeof types !== 'string' || !types.startsWith('./dist/')) continue;
    const name = subpath === '.' ? pkg.name : `${pkg.name}-${subpath.slice(2).replace(/[^A-Za-z0-9]+/g, '-')}`;
    out.push([name, path.join(DIST, types.slice('./dist/'.length))]);
  }
  return ONLY.length ? out.filter(([n]) => ONLY.includes(n)) : out;
}

// --- module augmentations ---

/**
 * The .d.ts files an entry point reaches through relative imports (type-only and side-effect ones
 * too): the files a user's compiler loads, so the augmentations the user sees. (tsc drops an
 * import of a value only used at run time from a .d.ts; an augmentation in such a file is then
 * not part of the published types, and not listed.)
 */
function reachable(entry) {
  const seen = new Set();
  const todo = [entry];
  while (todo.length) {
    const f = todo.pop();
    if (seen.has(f)) continue;
    seen.add(f);
    const text = fs.readFileSync(f, 'utf8');
    for (const m of text.matchAll(/(?:from\s+|import\s*\(\s*|import\s+|require\s*\(\s*|declare module\s+|reference path=)(['"])(\.{1,2}\/[^'"]*)\1/g)) {
      const target = resolveDts(f, m[2]);
      if (target) todo.push(target);
    }
  }
  return [...seen];
}

function resolveDts(from, spec) {
  const base = path.resolve(path.dirname(from), spec);
  for (const c of [base + '.d.ts', path.join(base, 'index.d.ts'), base.replace(/\.js$/, '.d.ts')]) if (fs.existsSync(c)) return c;
  return undefined;
}

const printer = ts.createPrinter({ removeComments: true, newLine: ts.NewLineKind.LineFeed });

/** `declare module '<relative>'` blocks of the files, printed without comments, by file. */
function augmentations(files) {
  const out = [];
  for (const f of files.sort()) {
    const sf = ts.createSourceFile(f, fs.readFileSync(f, 'utf8'), ts.ScriptTarget.Latest, true);
    for (const st of sf.statements) {
      if (!ts.isModuleDeclaration(st) || !ts.isStringLiteral(st.name) || !st.body) continue;
      const target = resolveDts(f, st.name.text);
      const where = (p) => path.relative(DIST, p).split(path.sep).join('/');
      const body = st.body.statements.map((n) => printer.printNode(ts.EmitHint.Unspecified, n, sf)).join('\n');
      out.push(`// ${where(f)} adds to ${target ? where(target) : st.name.text}\n${body}`);
    }
  }
  return out;
}

function augmentationSection(entryDts) {
  const blocks = augmentations(reachable(entryDts));
  if (!blocks.length) return '';
  return [
    '',
    '## Added by module augmentation',
    '',
    'Members that files of a higher layer add to a class (`declare module`), which API Extractor leaves out; listed by scripts/api-report.js.',
    '',
    '```ts',
    blocks.join('\n\n'),
    '```',
    '',
  ].join('\n');
}

function main() {
  const entries = entryPoints();
  if (entries.length === 0) throw new Error(`no entry point to report${ONLY.length ? ` (--only=${ONLY.join(',')})` : ''}`);
  const missing = entries.filter(([, dts]) => !fs.existsSync(dts));
  if (missing.length) {
    throw new Error(`declarations not built: ${missing.map(([, d]) => path.relative(root, d)).join(', ')} (run: npx tsc -p tsconfig.json)`);
  }
  const configFile = path.join(root, 'api-extractor.json');
  const base = ExtractorConfig.loadFile(configFile);
  const compiler = { ...base.compiler, overrideTsconfig: { ...base.compiler.overrideTsconfig, files: entries.map(([, d]) => d) } };
  const configs = entries.map(([name, dts]) =>
    ExtractorConfig.prepare({
      // API Extractor writes into .tmp/; this script compares with etc/ (after adding the
      // augmentation section) and updates it.
      configObject: {
        ...base,
        compiler,
        mainEntryPointFilePath: dts,
        apiReport: { ...base.apiReport, reportFileName: name, reportFolder: path.join(TMP, 'extractor'), reportTempFolder: path.join(TMP, 'extractor-temp') },
      },
      configObjectFullPath: configFile,
      packageJsonFullPath: path.join(root, 'package.json'),
    }),
  );
  for (const d of ['extractor', 'extractor-temp']) fs.mkdirSync(path.join(TMP, d), { recursive: true });
  // One TypeScript program for all entry points: they share most of dist/.
  const compilerState = CompilerState.create(configs[0], { additionalEntryPoints: entries.map(([, d]) => d) });
  let failed = 0;
  for (const [i, config] of configs.entries()) {
    const [name, dts] = entries[i];
    const messageCallback = (m) => {
      // The notes about the report files concern its .tmp/ copy; the result is printed below.
      if (m.messageId.startsWith('console-api-report') || m.messageId === 'console-preamble' || m.messageId === 'console-compiler-version-notice') m.handled = true;
    };
    const r = Extractor.invoke(config, { localBuild: true, compilerState, messageCallback });
    if (!r.succeeded || !fs.existsSync(config.reportTempFilePath)) {
      failed++;
      process.stderr.write(`\n${name}: API Extractor failed (${r.errorCount} error(s), ${r.warningCount} warning(s))\n`);
      continue;
    }
    // API Extractor names files by their path from the project ('// dist/x.d.ts:3:5 - …'):
    // the same for a --dist copy, so the copy's report compares as dist/'s would.
    const distRel = path.relative(root, DIST).split(path.sep).join('/');
    const extracted = fs.readFileSync(config.reportTempFilePath, 'utf8').split(`// ${distRel}/`).join('// dist/');
    const report = extracted + augmentationSection(dts);
    const file = path.join(REPORTS, `${name}.api.md`);
    const rel = path.relative(root, file);
    const old = fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : undefined;
    if (old === report) process.stderr.write(`${rel}: up to date\n`);
    else if (UPDATE) {
      fs.mkdirSync(REPORTS, { recursive: true });
      fs.writeFileSync(file, report);
      process.stderr.write(`${rel}: ${old === undefined ? 'created' : 'updated'}\n`);
    } else {
      failed++;
      const now = path.join(TMP, `${name}.api.md`);
      fs.writeFileSync(now, report);
      process.stderr.write(
        `\n${rel}: ${old === undefined ? 'missing' : `the public API of '${name}' changed`}. If that is intended, run \`npm run api:update\` and commit the report.\n` +
          `  diff ${rel} ${path.relative(root, now)}\n`,
      );
    }
  }
  // A report whose entry point is gone would otherwise stay checked in, unchecked.
  if (!ONLY.length) {
    const names = new Set(entries.map(([n]) => `${n}.api.md`));
    for (const f of fs.existsSync(REPORTS) ? fs.readdirSync(REPORTS) : []) {
      if (!f.endsWith('.api.md') || names.has(f)) continue;
      if (UPDATE) {
        fs.rmSync(path.join(REPORTS, f));
        process.stderr.write(`etc/${f}: removed (no such entry point in package.json "exports")\n`);
      } else {
        failed++;
        process.stderr.write(`\netc/${f}: no entry point of package.json "exports" has this report; run \`npm run api:update\`\n`);
      }
    }
  }
  return failed ? 1 : 0;
}

try {
  process.exitCode = main();
} catch (e) {
  process.stderr.write(`api-report: ${e.message}\n`);
  process.exitCode = 2;
}
