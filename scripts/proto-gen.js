#!/usr/bin/env node
// Generates the TypeScript types of proto/ into libs/contracts/src/generated with the pinned
// proto-loader-gen-types (pure JavaScript, no downloaded protoc). The load options here must match
// PROTO_LOADER_OPTIONS in libs/contracts/src/proto.ts. `--out DIR` writes elsewhere (the freshness test).
'use strict';
const { execFileSync } = require('node:child_process');
const path = require('node:path');
const fs = require('node:fs');

const root = path.resolve(__dirname, '..');
const outIdx = process.argv.indexOf('--out');
const outDir = outIdx > 0 ? path.resolve(process.argv[outIdx + 1]) : path.join(root, 'libs/contracts/src/generated');
fs.rmSync(outDir, { recursive: true, force: true });
fs.mkdirSync(outDir, { recursive: true });
const bin = require.resolve('@grpc/proto-loader/build/bin/proto-loader-gen-types.js');
execFileSync(
  process.execPath,
  [
    bin,
    '--grpcLib',
    '@grpc/grpc-js',
    '--longs',
    'Number',
    '--enums',
    'String',
    '--defaults',
    '--oneofs',
    '--includeComments',
    '-I',
    'proto',
    '-O',
    outDir,
    'jobrunner/v1/agent.proto',
  ],
  { stdio: 'inherit', cwd: root },
);

// A barrel of every generated message type, so code imports `pb.Assignment__Output` from one place.
const msgDir = path.join(outDir, 'jobrunner/v1');
const names = fs
  .readdirSync(msgDir)
  .filter((f) => f.endsWith('.ts'))
  .map((f) => f.slice(0, -3))
  .sort();
fs.writeFileSync(path.join(outDir, 'pb.ts'), names.map((n) => `export type * from './jobrunner/v1/${n}';\n`).join(''));
