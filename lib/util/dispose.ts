// Node 20 defines Symbol.asyncDispose as the registered symbol 'nodejs.asyncDispose'; vm contexts
// (jest, REPL sandboxes) lack the property, so take the registered symbol, which is the same one.
export const asyncDispose: typeof Symbol.asyncDispose =
  (Symbol as { asyncDispose?: typeof Symbol.asyncDispose }).asyncDispose ?? (Symbol.for('nodejs.asyncDispose') as typeof Symbol.asyncDispose);
