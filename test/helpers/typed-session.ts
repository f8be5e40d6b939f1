// The typed tests' usual fixture: the run's SoftHSM opened as a Module, one read-write session on
// a fixture token, logged in as the user for the whole describe block, closed after it.
import { Module, Session } from '../../lib/index';
import { fixture, TokenName } from './softhsm';

/**
 * Registers beforeAll/afterAll for the enclosing block: `assign` receives the module and the
 * logged-in session once they are open (the callers keep them in their own `let`s).
 */
export function useLoggedInSession(token: TokenName, assign: (mod: Module, session: Session) => void): void {
  let mod: Module | undefined;
  let session: Session | undefined;
  beforeAll(async () => {
    const f = fixture();
    const pin = f.tokens.find((t) => t.label === token)!.userPin;
    mod = await Module.open(f.modulePath);
    session = await (await mod.findSlot(token))!.openSession({ write: true });
    await session.login(pin);
    assign(mod, session);
  });
  afterAll(async () => {
    await session?.close();
    await mod?.close();
  });
}
