// PINs never leave the caller (issue 5 item 6): not in error messages, not in stacks, not in the
// P11BRIDGE_DEBUG call log — across raw sync/async, typed login, context-specific login, setPin,
// pool login and initToken, with right and wrong PINs. Loading a directory, a text file or a
// library without PKCS#11 symbols is covered by test/loader.test.ts.
import { runChild, expectCleanExit } from './helpers/child-process';

describe('PINs stay out of errors, stacks and the debug log', () => {
  const r = runChild('pin-leak-child.js', [], { env: { P11BRIDGE_DEBUG: '1' }, timeoutMs: 120_000 });

  test('the child ran every PIN-taking call and exited cleanly', () => {
    expectCleanExit(r);
    const names = (r.json.errors as Array<{ name: string }>).map((e) => e.name);
    expect(names.filter((n) => n === 'PinIncorrectError').length).toBeGreaterThanOrEqual(7);
    expect(names).toContain('TypeError');
  });

  test('no PIN (or its hex) in any message or stack', () => {
    const { pins, errors } = r.json as { pins: string[]; errors: Array<{ message: string; stack: string }> };
    for (const e of errors) {
      for (const pin of pins) {
        expect(e.message).not.toContain(pin);
        expect(e.stack).not.toContain(pin);
        expect(e.stack).not.toContain(Buffer.from(pin).toString('hex'));
      }
    }
  });

  test('the debug log names every call and its answer, and no PIN', () => {
    const log = r.stderr;
    expect(log).toMatch(/^p11bridge: C_Login rv=0xa0 \d+\.\d{3} ms$/m);
    expect(log).toMatch(/^p11bridge: C_Login \(async\) rv=0x0 /m);
    expect(log).toMatch(/^p11bridge: C_SetPIN \(async\) rv=0x0 /m);
    expect(log).toMatch(/^p11bridge: C_InitToken \(async\) rv=0xa0 /m);
    for (const pin of r.json.pins as string[]) {
      expect(log).not.toContain(pin);
      expect(log).not.toContain(Buffer.from(pin).toString('hex'));
    }
  });
});

describe('PIN copies are wiped (Linux: the process scans its own memory)', () => {
  const linux = process.platform === 'linux';
  (linux ? test : test.skip)('after raw sync/async, typed and context logins, no copy of the PIN is left once the caller wipes its Buffer', () => {
    const r = runChild('pin-memory-child.js', [], { execArgv: ['--expose-gc'], timeoutMs: 120_000 });
    expectCleanExit(r);
    // Four wrong logins, each refused by the token.
    expect(r.json.errors).toEqual(['CKR_PIN_INCORRECT', 'CKR_PIN_INCORRECT', 'CKR_PIN_INCORRECT', 'CKR_PIN_INCORRECT']);
    // The scan sees the caller's own Buffer while it holds the PIN (so it can find one) …
    expect(r.json.before).toBeGreaterThanOrEqual(1);
    // … and nothing once that Buffer is wiped: the addon's copies were zeroed after each call.
    expect(r.json.after).toBe(0);
  });
});
