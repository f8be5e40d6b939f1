// p11bridge. The typed layer (Module, Slot, Session …) builds on `p11bridge/raw`, which this
// entry point re-exports meanwhile.
export * from './raw';
