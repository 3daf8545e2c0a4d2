/**
 * End-to-end specs run real browsers, ffmpeg, mediasoup and network namespaces
 * on a two-core machine, where a test can lose a race to the machine (a CI run
 * in four failed one test in ~500, each time a different one). Each E2E test
 * gets one more try; the first failure is still printed in full
 * (`logErrorsBeforeRetry`), so a flake stays visible and is fixed, and a test
 * that is really broken fails both tries. Unit specs are not retried: they are
 * deterministic or they are wrong.
 */
const testPath = expect.getState().testPath ?? '';
if (testPath.endsWith('.e2e-spec.ts')) jest.retryTimes(1, { logErrorsBeforeRetry: true });
