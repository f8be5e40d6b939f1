// docs/raw.md (the raw layer's reference: each function's return shape) is what
// scripts/gen-raw-doc.js makes from lib/binding/raw-types.ts, lists all 104 functions, and the
// shapes it documents are what SoftHSM's answers really look like: the keys of each result object
// are exactly the documented members.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { PKCS11, CKM_EC_KEY_PAIR_GEN, CKA_EC_PARAMS, CKA_TOKEN, CKA_LABEL, CKA_CLASS, CKM_SHA256 } from '../lib/raw';
import { openSoftHSM, userSession, type Env } from './helpers/softhsm';

/* eslint-disable @typescript-eslint/no-var-requires */
const gen = require('../scripts/gen-raw-doc.js') as { generate(): { text: string; count: number } };
/* eslint-enable @typescript-eslint/no-var-requires */
const DOC = path.join(__dirname, '..', 'docs', 'raw.md');
const doc = fs.readFileSync(DOC, 'utf8');

/** The members docs/raw.md lists for `interface name { … }`. */
function documented(name: string): string[] {
  const m = new RegExp(`interface ${name} \\{\\n([\\s\\S]*?)\\n\\}`).exec(doc);
  if (!m) throw new Error(`docs/raw.md has no interface ${name}`);
  return m[1]
    .split('\n')
    .map((l) => /^\s*(\w+)\??:/.exec(l)?.[1])
    .filter((x): x is string => !!x)
    .sort();
}

describe('docs/raw.md', () => {
  test('is up to date with lib/binding/raw-types.ts and lists every function', () => {
    const { text, count } = gen.generate();
    expect(text).toBe(doc);
    expect(count).toBe(104);
    const listed = [...doc.matchAll(/^\| `(C_\w+)\(/gm)].map((m) => m[1]).sort();
    // ... and they are the functions the binding has.
    const methods = Object.getOwnPropertyNames(PKCS11.prototype).filter((n) => /^C_\w+$/.test(n) && !n.endsWith('Async'));
    expect(listed).toEqual(methods.sort());
  });

  describe('the documented shapes are what SoftHSM returns', () => {
    let env: Env;
    let s: number | bigint;
    beforeAll(() => {
      env = openSoftHSM();
      s = userSession(env);
    });
    afterAll(() => env?.close());

    const keys = (o: object): string[] => Object.keys(o).sort();

    test('Info, SlotInfo, TokenInfo, SessionInfo, MechanismInfo', () => {
      const { mod, slot } = env;
      expect(keys(mod.C_GetInfo())).toEqual(documented('Info'));
      expect(keys(mod.C_GetInfo().libraryVersion)).toEqual(documented('Version'));
      expect(keys(mod.C_GetSlotInfo(slot))).toEqual(documented('SlotInfo'));
      expect(keys(mod.C_GetTokenInfo(slot))).toEqual(documented('TokenInfo'));
      expect(keys(mod.C_GetSessionInfo(s))).toEqual(documented('SessionInfo'));
      expect(keys(mod.C_GetMechanismInfo(slot, CKM_SHA256))).toEqual(documented('MechanismInfo'));
      expect(keys(mod.C_GetFunctionList())).toEqual(documented('FunctionListInfo'));
    });

    test('KeyPair, AttributeResult, and the scalar results', async () => {
      const { mod } = env;
      const p256 = Buffer.from('06082a8648ce3d030107', 'hex');
      const kp = mod.C_GenerateKeyPair(
        s,
        { mechanism: CKM_EC_KEY_PAIR_GEN },
        [
          { type: CKA_EC_PARAMS, value: p256 },
          { type: CKA_TOKEN, value: false },
        ],
        [{ type: CKA_TOKEN, value: false }],
      );
      expect(keys(kp)).toEqual(documented('KeyPair'));
      const [ok, missing] = mod.C_GetAttributeValue(s, kp.publicKey, [CKA_CLASS, 0x7ffffff0]);
      expect(keys(ok)).toEqual(documented('AttributeResult'));
      // value is optional: absent when the status is not 'ok'
      expect(keys(missing)).toEqual(documented('AttributeResult').filter((k) => k !== 'value'));
      expect(Buffer.isBuffer(ok.value)).toBe(true);
      expect(doc).toMatch(/\| `C_GetSlotList\(tokenPresent\?: boolean\)` \| `Ulong\[\]` \|/);
      expect(Array.isArray(mod.C_GetSlotList(true))).toBe(true);
      expect(doc).toMatch(/\| `C_WaitForSlotEvent\(flags\?: Ulong\)` \| `Ulong \\\| null` \|/);
      expect(doc).toMatch(/\| `C_Verify\(.*\)` \| `boolean` \|/);
      expect(await mod.C_GetAttributeValueAsync(s, kp.privateKey, [CKA_LABEL])).toEqual([{ type: CKA_LABEL, status: 'ok', value: Buffer.alloc(0) }]);
      mod.C_DestroyObject(s, kp.publicKey);
      mod.C_DestroyObject(s, kp.privateKey);
    });
  });
});
