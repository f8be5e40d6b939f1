// Async native calls reject from a libuv callback, so their stack says nothing about the caller.
// Capture the caller's stack before the call and append it to the error.
export async function withCallerStack<T>(promise: Promise<T>, caller: { stack?: string }): Promise<T> {
  try {
    return await promise;
  } catch (e) {
    throw appendCallerStack(e, caller);
  }
}

/** Appends the frames of `caller.stack` (its first line is the message) to an error's stack. */
export function appendCallerStack(e: unknown, caller: { stack?: string }): unknown {
  if (e instanceof Error && caller.stack) {
    const frames = caller.stack.split('\n').slice(1).join('\n');
    e.stack = `${e.stack ?? String(e)}\n    --- async call made at ---\n${frames}`;
  }
  return e;
}

/** Runs `fn` (which starts an async native call) and gives its rejection the caller's stack. */
export function tracked<T>(fn: () => Promise<T>): Promise<T> {
  const caller: { stack?: string } = {};
  Error.captureStackTrace(caller, tracked);
  return withCallerStack(fn(), caller);
}
