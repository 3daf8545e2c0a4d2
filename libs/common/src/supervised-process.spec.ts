import { ProcessStartError, SupervisedProcess } from './supervised-process';
import { isRunning } from '../../../bench/support/processes';

const logger = { log: jest.fn(), warn: jest.fn(), error: jest.fn(), debug: jest.fn() };
const node = (script: string, extra: Partial<Parameters<typeof SupervisedProcess.start>[0]> = {}) =>
  SupervisedProcess.start({
    name: 'test-proc',
    command: process.execPath,
    args: ['-e', script],
    readiness: { kind: 'line', pattern: /^ready$/ },
    readyTimeoutMs: 5000,
    stopTimeoutMs: 500,
    logger,
    ...extra,
  });


// Real child processes (node itself), no fakes.
describe('SupervisedProcess', () => {
  it('becomes ready on its signal and stops with SIGTERM, idempotently', async () => {
    const proc = await node('console.log("ready"); setInterval(() => {}, 1000)');
    expect(proc.running).toBe(true);
    const [a, b] = await Promise.all([proc.stop(), proc.stop()]);
    expect(a).toBe(b);
    expect(a).toMatchObject({ signal: 'SIGTERM', requested: true });
    expect(isRunning(proc.pid!)).toBe(false);
  });

  it('runs the child at the priority asked for (the on-air path), the parent unchanged', async () => {
    const { getPriority } = await import('node:os');
    const mine = getPriority();
    // A nice value above the parent's needs no privilege, so this holds as any user; root may also go below.
    const asked = Math.min(19, mine + 3);
    const proc = await node('console.log("ready"); setInterval(() => {}, 1000)', { priority: asked });
    expect(getPriority(proc.pid!)).toBe(asked);
    expect(getPriority()).toBe(mine);
    await proc.stop();
  });

  it('distinguishes a failed start, with the stderr reason', async () => {
    const error = await node('console.error("port in use"); process.exit(3)').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ProcessStartError);
    expect((error as ProcessStartError).message).toMatch(/exited before ready \(code 3.*port in use/);
  });

  it('fails to start when the binary does not exist', async () => {
    await expect(node('', { command: '/nonexistent/ffmpeg' })).rejects.toBeInstanceOf(ProcessStartError);
  });

  it('times out a process that never becomes ready, and kills it', async () => {
    const error = (await node('setInterval(() => {}, 1000)', { readyTimeoutMs: 300 }).catch((e: unknown) => e)) as ProcessStartError;
    expect(error).toBeInstanceOf(ProcessStartError);
    expect(error.message).toMatch(/not ready within 300 ms/);
  });

  it('reports death after readiness as a died event', async () => {
    const proc = await node('console.log("ready"); setTimeout(() => { console.error("boom"); process.exit(7) }, 100)');
    const died = await new Promise<Error & { exit: { code: number } }>((resolve) => proc.once('died', resolve as never));
    expect(died).toMatchObject({ code: 'PROCESS_DIED', exit: { code: 7, requested: false } });
    expect(died.message).toMatch(/boom/);
  });

  it('escalates to SIGKILL when SIGTERM is ignored', async () => {
    const proc = await node('process.on("SIGTERM", () => {}); console.log("ready"); setInterval(() => {}, 1000)');
    const exit = await proc.stop();
    expect(exit.signal).toBe('SIGKILL');
  });

  it('redacts secrets in the stderr it keeps', async () => {
    const proc = await node('console.log("ready"); console.error("rtmp://h/live/c?key=TOPSECRET"); setTimeout(() => process.exit(1), 50)');
    const exit = await proc.exited;
    expect(exit.stderrTail.join('\n')).toContain('key=***');
    expect(exit.stderrTail.join('\n')).not.toContain('TOPSECRET');
  });
});
