'use strict';
const fs = require('node:fs');
const path = require('node:path');

module.exports = async function globalTeardown() {
  const file = process.env.P11BRIDGE_FIXTURE;
  if (file && !process.env.P11BRIDGE_KEEP_FIXTURE) fs.rmSync(path.dirname(file), { recursive: true, force: true });
};
