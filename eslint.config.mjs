// ESLint (flat config) with typescript-eslint for lib/ and test/: `npm run lint`.
// Formatting is Prettier's (.prettierrc.json, `npm run format:check`), so no style rules here:
// what is left are rules that find real problems.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  // TypeScript only: the JavaScript in test/ (child-process fixtures) and scripts/ is not gated.
  { ignores: ['dist/**', 'esm/**', 'build/**', 'prebuilds/**', 'node_modules/**', '.tmp/**', 'coverage/**', 'test/types/**', '**/*.js', '**/*.mjs'] },
  {
    files: ['lib/**/*.ts', 'test/**/*.ts'],
    extends: [js.configs.recommended, ...tseslint.configs.recommended],
    linterOptions: { reportUnusedDisableDirectives: 'error' },
    rules: {
      // tsc (noUnusedLocals) already reports unused locals; `_`-prefixed parameters are deliberate.
      '@typescript-eslint/no-unused-vars': ['error', { args: 'none', varsIgnorePattern: '^_', caughtErrors: 'none', ignoreRestSiblings: true }],
      // A plain require() of the compiled dist/ (tests run it as users do) or of a JSON/optional
      // module is marked where it is meant: `// eslint-disable-next-line @typescript-eslint/no-var-requires`.
      // no-var-requires (deprecated in v8 for no-require-imports, still shipped) is the rule those
      // comments name; `import x = require()` stays allowed.
      '@typescript-eslint/no-require-imports': 'off',
      '@typescript-eslint/no-var-requires': 'error',
      // Non-null assertions after a check tsc cannot follow are used on purpose (m.groups!, map.get()!).
      '@typescript-eslint/no-non-null-assertion': 'off',
      // Prettier wraps code at 180 columns but cannot split a long string or comment; this
      // catches those, so no line is over the width.
      'max-len': ['error', { code: 180, tabWidth: 2, ignoreUrls: true }],
    },
  },
  {
    // The library's own code: promises must be awaited or handed on (an unhandled rejection
    // crashes the user's process), and async functions must not go where a callback's result is
    // ignored. Type-aware, so lib/ only (test/ would double the time for little).
    files: ['lib/**/*.ts'],
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': ['error', { checksVoidReturn: { arguments: false, properties: false } }],
      '@typescript-eslint/await-thenable': 'error',
    },
  },
  {
    // Tests pass wrong types on purpose (`as any` to reach a TypeError) and match terminal
    // escapes (\x1b) in CLI output.
    files: ['test/**/*.ts'],
    rules: {
      '@typescript-eslint/no-explicit-any': 'off',
      'no-control-regex': 'off',
    },
  },
);
