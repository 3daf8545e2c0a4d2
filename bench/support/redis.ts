import { ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, waitFor } from './processes';

/**
 * A real Redis (Debian's redis-server) for tests and benches: on loopback (or
 * `bind`), a free port, its own data dir, append-only file fsynced on every
 * write, so a restart keeps every acknowledged write as the cluster relies on.
 * Stopped by its pid; `restart()` brings it back on the same port and data.
 */
export class TestRedis {
  #child: ChildProcess | undefined;
  #output = '';

  private constructor(
    readonly port: number,
    readonly dir: string,
    readonly bind: string,
    private readonly wrapper: string[],
  ) {}

  static async start(options: { bind?: string; port?: number; wrapper?: string[] } = {}): Promise<TestRedis> {
    const redis = new TestRedis(options.port ?? (await freePort()), mkdtempSync(join(tmpdir(), 'redis-test-')), options.bind ?? '127.0.0.1', options.wrapper ?? []);
    await redis.#spawn();
    return redis;
  }

  get url(): string {
    return `redis://${this.bind}:${this.port}`;
  }

  get pid(): number | undefined {
    return this.#child?.pid;
  }

  output(): string {
    return this.#output;
  }

  async #spawn(): Promise<void> {
    const args = ['--port', String(this.port), '--bind', this.bind, '--dir', this.dir, '--save', '', '--appendonly', 'yes', '--appendfsync', 'always', '--daemonize', 'no', '--protected-mode', 'no', '--loglevel', 'notice'];
    const [command, ...rest] = [...this.wrapper, 'redis-server', ...args];
    const child = spawn(command, rest, { stdio: ['ignore', 'pipe', 'pipe'] });
    this.#child = child;
    const ready = this.#output.length;
    child.stdout!.on('data', (d) => (this.#output += d));
    child.stderr!.on('data', (d) => (this.#output += d));
    const exited = new Promise<never>((_, reject) => child.once('exit', (code) => reject(new Error(`redis-server exited (${code}) before it was ready:\n${this.#output}`))));
    await Promise.race([waitFor('redis-server ready', () => (this.#output.slice(ready).includes('Ready to accept connections') ? true : undefined), 15000), exited]);
    exited.catch(() => undefined);
  }

  /** Ends it (SIGTERM, which flushes the AOF; SIGKILL to kill it as a crash would). Idempotent. */
  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    const child = this.#child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const gone = new Promise((resolve) => child.once('exit', resolve));
    child.kill(signal);
    const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
    await gone;
    clearTimeout(timer);
  }

  /** Stops it and starts it again on the same port and data dir. */
  async restart(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    await this.stop(signal);
    await this.#spawn();
  }
}
