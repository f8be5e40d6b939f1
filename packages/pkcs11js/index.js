// pkcs11js's API, served by p11bridge (no native addon of its own): see docs/migrating.md.
'use strict';
module.exports = require('p11bridge/pkcs11js');
