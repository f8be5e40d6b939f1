// jest runs tests in a vm context whose Symbol lacks Node 20's asyncDispose/dispose (the main
// context has them as the registered symbols below); TypeScript's `await using` needs them.
'use strict';
Symbol.asyncDispose ??= Symbol.for('nodejs.asyncDispose');
Symbol.dispose ??= Symbol.for('nodejs.dispose');
