'use strict';
// Loads the native addon (built by `napi build --platform`, or by scripts/install.js).
const path = require('node:path');
const { addonFileName } = require('./platform');

const file = path.join(__dirname, '..', addonFileName());
let native;
try {
  native = require(file);
} catch (err) {
  const hint =
    err && err.code === 'MODULE_NOT_FOUND'
      ? `the native addon ${path.basename(file)} is missing: build it with \`npm run build\` in ` +
        'bindings-node (needs Rust and cargo), or install a package built for this platform'
      : `the native addon ${path.basename(file)} could not be loaded: ${err && err.message}`;
  const error = new Error(`rtio: ${hint}`);
  error.cause = err;
  throw error;
}

module.exports = native;
