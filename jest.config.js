/**
 * Jest runs two kinds of spec:
 *  - unit specs beside the code (libs/**\/*.spec.ts): pure domain, and adapters
 *    against real components (mediasoup, SQLite, child processes);
 *  - end-to-end specs under test/ (*.e2e-spec.ts) that start the built gateway as
 *    a real process with its real origin, workers and ffmpeg.
 * scripts/test.sh runs them serially (--runInBand): E2E specs bind ports and
 * spawn media processes, and the machine has two cores.
 */
const { existsSync } = require('node:fs');
const { homedir } = require('node:os');
const { join } = require('node:path');
const { pathsToModuleNameMapper } = require('ts-jest');
const { compilerOptions } = require('./tsconfig.json');

// mediasoup reads MEDIASOUP_WORKER_BIN when it is first required. scripts/test.sh
// exports it; this default lets `npx jest <file>` work after one setup run.
if (!process.env.MEDIASOUP_WORKER_BIN) {
  const version = require('./node_modules/mediasoup/package.json').version;
  const cached = join(process.env.MEDIASOUP_WORKER_CACHE ?? join(homedir(), '.cache', 'cohost-gateway'), `mediasoup-worker-${version}`, 'mediasoup-worker');
  if (existsSync(cached)) process.env.MEDIASOUP_WORKER_BIN = cached;
}

module.exports = {
  testEnvironment: 'node',
  rootDir: '.',
  roots: ['<rootDir>/libs', '<rootDir>/test'],
  testRegex: '.*\\.(spec|e2e-spec)\\.ts$',
  transform: { '^.+\\.ts$': ['ts-jest', { tsconfig: { isolatedModules: true } }] },
  moduleNameMapper: pathsToModuleNameMapper(compilerOptions.paths, { prefix: '<rootDir>/' }),
  testTimeout: 60000,
  setupFilesAfterEnv: ['<rootDir>/test/support/jest-retry.ts'],
};
