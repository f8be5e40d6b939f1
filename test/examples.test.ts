// Every script in examples/ runs to completion (exit 0) against a throw-away SoftHSM token and
// ends with "<name> example OK" after checking its own results.
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

const dir = path.join(__dirname, '..', 'examples');

test.each(fs.readdirSync(dir).filter((f) => f.endsWith('.js')))('examples/%s runs', (file) => {
  const out = execFileSync(process.execPath, [path.join(dir, file)], { encoding: 'utf8' });
  expect(out.trim().endsWith(`${file.replace(/\.js$/, '')} example OK`)).toBe(true);
});

test("the README's demo (scripts/demo.js) runs against its own throw-away token", () => {
  const out = execFileSync(process.execPath, [path.join(__dirname, '..', 'scripts', 'demo.js')], { encoding: 'utf8' });
  expect(out).toMatch(/verified by node:crypto: true; async: true/);
  expect(out).toMatch(/typed error: PinIncorrectError CKR_PIN_INCORRECT from C_Login/);
  expect(out).toMatch(/issued certificate "CN=p11bridge demo, O=p11bridge" with a token key, stored on the token; verified by node:crypto: true/);
  expect(out.trim().endsWith('demo OK')).toBe(true);
  // SoftHSM's free slot reads as such, not as a token with an empty label and serial.
  expect(out).toMatch(/^slot \d+: a token not initialized yet/m);
  expect(out).not.toMatch(/token "" serial/);
});
