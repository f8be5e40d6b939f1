// One throw-away SoftHSM token directory and SOFTHSM2_CONF per test run. Set here, in jest's
// parent process, because the native module reads the real environment: a test file's
// `process.env` is a sandboxed copy. Workers and child processes inherit it.
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const { createSoftHSM } = require('../scripts/softhsm.js');

module.exports = async function globalSetup() {
  const f = createSoftHSM({
    tokens: [
      { label: 'p11bridge-a', soPin: '12345678', userPin: '1234' },
      { label: 'p11bridge-b', soPin: '87654321', userPin: '5678' },
      // Tests that change PINs or re-initialize a token get their own, so files can run in parallel.
      { label: 'p11bridge-admin', soPin: '11111111', userPin: '1111' },
      { label: 'p11bridge-workers', soPin: '22222222', userPin: '2222' },
      // Token objects: SoftHSM answers CKR_GENERAL_ERROR to a process reading a token while
      // another process writes one of its object files, so each writer has a token of its own.
      { label: 'p11bridge-pool', soPin: '44444444', userPin: '4444' },
      { label: 'p11bridge-objects', soPin: '55555555', userPin: '5555' },
    ],
  });
  const file = path.join(f.dir, 'fixture.json');
  fs.writeFileSync(file, JSON.stringify({ dir: f.dir, conf: f.conf, modulePath: f.modulePath, tokens: f.tokens }));
  process.env.SOFTHSM2_CONF = f.conf;
  process.env.P11BRIDGE_FIXTURE = file;
};
