// Jest test environment: each jest worker gets its own copy of the run's SoftHSM token directory.
// SoftHSM rewrites a token's file on every C_Login (it keeps the PIN-count flags there) and answers
// CKR_GENERAL_ERROR to another process that reads the file meanwhile, so two test files logging
// in to the same token from two workers fail at random. Copies keep labels, serials and slot IDs.
// This runs in the worker itself, outside the test sandbox: the environment set here is the real
// one that SoftHSM reads, and the sandbox's process.env (copied in super()) sees it too.
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const { TestEnvironment } = require('jest-environment-node');

function useWorkerFixture() {
  const base = process.env.P11BRIDGE_FIXTURE_BASE || process.env.P11BRIDGE_FIXTURE;
  if (!base) return;
  process.env.P11BRIDGE_FIXTURE_BASE = base;
  const fixture = JSON.parse(fs.readFileSync(base, 'utf8'));
  const dir = path.join(fixture.dir, `worker-${process.env.JEST_WORKER_ID || '1'}`);
  const file = path.join(dir, 'fixture.json');
  if (!fs.existsSync(file)) {
    // One process per worker id at a time, so no other process copies into this directory.
    fs.rmSync(dir, { recursive: true, force: true });
    fs.mkdirSync(dir);
    const tokenDir = path.join(dir, 'tokens');
    fs.cpSync(path.join(fixture.dir, 'tokens'), tokenDir, { recursive: true });
    const conf = path.join(dir, 'softhsm2.conf');
    const text = fs.readFileSync(fixture.conf, 'utf8').replace(/^directories\.tokendir\s*=.*$/m, `directories.tokendir = ${tokenDir}`);
    fs.writeFileSync(conf, text);
    fs.writeFileSync(`${file}.tmp`, JSON.stringify({ ...fixture, dir, conf }));
    fs.renameSync(`${file}.tmp`, file);
  }
  const own = JSON.parse(fs.readFileSync(file, 'utf8'));
  process.env.SOFTHSM2_CONF = own.conf;
  process.env.P11BRIDGE_FIXTURE = file;
}

class P11BridgeEnvironment extends TestEnvironment {
  constructor(config, context) {
    useWorkerFixture();
    super(config, context);
  }
}

module.exports = P11BridgeEnvironment;
