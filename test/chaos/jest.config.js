// `npm run chaos`: the long durability scenarios (1,000-job SIGKILL burst, 20 s Postgres outage, Redis
// restarted empty) in one file, so one scenario at a time, against real processes. Short variants: `npm test`.
const path = require('node:path');

const root = path.resolve(__dirname, '../..');

module.exports = {
  rootDir: root,
  testEnvironment: 'node',
  transform: { '^.+\\.ts$': ['ts-jest', { tsconfig: '<rootDir>/tsconfig.jest.json' }] },
  moduleNameMapper: { '^@jr/(contracts|journal|pki|resilience|testing)$': '<rootDir>/libs/$1/src' },
  modulePathIgnorePatterns: ['<rootDir>/.*/dist/'],
  testMatch: ['<rootDir>/test/chaos/**/*.test.ts'],
  setupFilesAfterEnv: ['<rootDir>/test/chaos/setup.ts'],
  maxWorkers: 1,
};
