// The native method dispatch (ModuleObject::FromThis's cache of recent `this` objects) and the
// written-length forms of the output functions, in a child process (a wrong wrapper would be a
// crash or a call on the wrong module, and --expose-gc is needed to collect cached objects).
import { expectCleanExit, runChild } from './helpers/child-process';

test('calls reach their own object through the this-cache, after GC too; written-length forms answer byte counts', () => {
  const r = runChild('dispatch-child.js', [], { execArgv: ['--expose-gc'], timeoutMs: 60_000 });
  expectCleanExit(r);
  expect(r.json?.failed).toEqual([]);
  expect(r.json?.checks.length).toBeGreaterThanOrEqual(14);
});
