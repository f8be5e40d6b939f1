// A find whose C_FindObjectsInit fails ends the search anyway (lib/session/objects.ts): some modules
// start it before they fail (SoftHSM answering CKR_GENERAL_ERROR while another session's C_Login
// rewrites the token file), and the session's next find would meet CKR_OPERATION_ACTIVE. Counted
// with the `p11bridge:call` tracing channel over the fault shim.
import * as dc from 'node:diagnostics_channel';
import { Module, GeneralError, OperationActiveError, CALL_CHANNEL } from '../lib/index';
import type { CallTraceContext, Session } from '../lib/index';
import { shimModule, ShimModule } from './helpers/shim';

let shim: ShimModule;
let mod: Module;
let s: Session;

beforeAll(async () => {
  shim = shimModule();
  mod = await Module.open(shim.path);
  s = await (await mod.findSlot('p11bridge-a'))!.openSession();
});

afterAll(async () => {
  shim.setRules([]);
  await s.close();
  await mod.close();
  shim.cleanup();
});

function tracedFinds(): { calls: string[]; stop: () => void } {
  const calls: string[] = [];
  const tc = dc.tracingChannel(CALL_CHANNEL);
  const handlers = { start: (m: unknown) => calls.push((m as CallTraceContext).function), end() {}, asyncStart() {}, asyncEnd() {}, error() {} };
  tc.subscribe(handlers);
  return { calls, stop: () => tc.unsubscribe(handlers) };
}

test('a failed C_FindObjectsInit is followed by C_FindObjectsFinal; the session finds again', async () => {
  shim.setRules(['rv C_FindObjectsInit CKR_GENERAL_ERROR times 1']);
  const t = tracedFinds();
  try {
    await expect(s.findAll({ class: 'privateKey' })).rejects.toBeInstanceOf(GeneralError);
  } finally {
    t.stop();
  }
  expect(t.calls.filter((f) => f === 'find')).toHaveLength(2); // the Init, then the clean-up's Final
  shim.setRules([]);
  await expect(s.findAll({ class: 'data', label: 'no such object' })).resolves.toEqual([]);
});

test("after CKR_OPERATION_ACTIVE the search is someone else's: no Final", async () => {
  shim.setRules(['rv C_FindObjectsInit CKR_OPERATION_ACTIVE times 1']);
  const t = tracedFinds();
  try {
    await expect(s.findAll({ class: 'privateKey' })).rejects.toBeInstanceOf(OperationActiveError);
  } finally {
    t.stop();
  }
  expect(t.calls.filter((f) => f === 'find')).toHaveLength(1);
});
