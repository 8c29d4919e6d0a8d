import * as path from 'node:path';
import type * as protoLoader from '@grpc/proto-loader';
import type { ProtoGrpcType } from './generated/agent';

/** Must match the flags in scripts/proto-gen.js, or the generated types lie. */
export const PROTO_LOADER_OPTIONS: protoLoader.Options = {
  keepCase: false,
  longs: Number,
  enums: String,
  defaults: true,
  oneofs: true,
};

export const PROTO_ROOT = path.resolve(__dirname, '../../../proto');
export const AGENT_PROTO_FILE = 'jobrunner/v1/agent.proto';

let cached: ProtoGrpcType | undefined;

/**
 * The loaded `jobrunner.v1` package: `loadAgentProto().jobrunner.v1.AgentService`. grpc-js and
 * proto-loader are loaded on first use, so the CLI (which imports this package for its types and
 * schemas) does not pay for them at start-up.
 */
export function loadAgentProto(): ProtoGrpcType {
  if (!cached) {
    /* eslint-disable @typescript-eslint/no-require-imports */
    const grpc = require('@grpc/grpc-js') as typeof import('@grpc/grpc-js');
    const loader = require('@grpc/proto-loader') as typeof import('@grpc/proto-loader');
    /* eslint-enable @typescript-eslint/no-require-imports */
    const definition = loader.loadSync(AGENT_PROTO_FILE, { ...PROTO_LOADER_OPTIONS, includeDirs: [PROTO_ROOT] });
    cached = grpc.loadPackageDefinition(definition) as unknown as ProtoGrpcType;
  }
  return cached;
}
