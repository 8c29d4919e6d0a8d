#!/usr/bin/env node
'use strict';
// Runs the compiled program; `npm ci` builds it (the root "prepare" script), `npm run build` rebuilds it.
const path = require('node:path');
const main = path.join(__dirname, '..', 'dist', 'main.js');
try {
  require.resolve(main);
} catch {
  process.stderr.write('jr-api: not built yet: run `npm run build` in the repository root\n');
  process.exit(69);
}
require(main);
