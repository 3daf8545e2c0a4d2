import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { createSocket } from 'node:dgram';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { freeLoopbackPort, LineLogger, ProcessStartError, SupervisedProcess, TypedEmitter } from '@gw/common';
import { TurnSession } from './cli-sessions';
import { TurnStartError } from './errors';
import { stunAnswers } from './stun-probe';
import { listTurnSessions } from './turn-cli';
import { turnServerArgs, turnServerConfig, TurnServerSettings } from './turnserver-config';

export interface EmbeddedTurnOptions {
  listenIp: string;
  port: number;
  /** UDP ports for relays. Default 49152-49999. */
  relayPorts?: { min: number; max: number };
  tls?: { port: number; certFile: string; keyFile: string };
  externalIp?: string;
  secret: string;
  /** Peers relays may reach (the SFU's addresses). */
  allowedPeerIps: string[];
  /** Its config file, pid file and user database go under `<dataDir>/turn`. */
  dataDir: string;
  /** The turnserver binary. Default `turnserver` (Debian's coturn) from PATH. */
  command?: string;
  /** Default 10000 ms. */
  readyTimeoutMs?: number;
  /** Delay before restarting a crashed server; doubles per failure up to 10 s. Default 500 ms. */
  restartDelayMs?: number;
  logger: LineLogger;
}

interface EmbeddedTurnEvents extends Record<string, unknown[]> {
  /** The server is ready (again). */
  up: [{ pid: number }];
  /** The server died while running; it is restarted. */
  down: [{ reason: string }];
}

/** Lines of a turnserver that cannot have its listening port (another address family, a race with our own check). */
const BIND_FAILURE = /cannot bind|errno=98|address already in use|Cannot create .*listener/i;
const WILDCARDS = new Set(['0.0.0.0', '::']);
const SESSIONS_FRESH_MS = 500;


/**
 * Whether nobody holds `port` on `ip` for this protocol. coturn binds with
 * SO_REUSEPORT, so a second turnserver on a taken port would start and share it
 * (each with its own secret: half the allocations would fail); we refuse instead.
 */
function portFree(ip: string, port: number, protocol: 'udp' | 'tcp'): Promise<boolean> {
  return new Promise((resolve) => {
    if (protocol === 'udp') {
      const socket = createSocket(ip.includes(':') ? 'udp6' : 'udp4');
      socket.once('error', () => {
        socket.close();
        resolve(false);
      });
      socket.bind(port, ip, () => socket.close(() => resolve(true)));
    } else {
      const server = createServer();
      server.once('error', () => resolve(false));
      server.listen(port, ip, () => server.close(() => resolve(true)));
    }
  });
}

/**
 * Debian's coturn `turnserver`, run by the gateway with its own config file in
 * the data dir (never the package's service or /etc/turnserver.conf), as one
 * supervised child: ready once it answers STUN on UDP and TCP, restarted when it
 * dies, stopped (SIGTERM, then SIGKILL) with the gateway. Its admin CLI, on a
 * loopback port with a password made at each start, tells which relay address
 * belongs to which client leg (UDP, TCP, TLS).
 */
export class EmbeddedTurnServer extends TypedEmitter<EmbeddedTurnEvents> {
  readonly #options: EmbeddedTurnOptions;
  #process: SupervisedProcess | undefined;
  #cli: { port: number; password: string } | undefined;
  #stopped = true;
  #restartTimer: NodeJS.Timeout | undefined;
  #sessions: { at: number; list: Promise<TurnSession[]> } | undefined;
  /** A start or restart in flight, which stop() waits for (so it leaves no process behind). */
  #spawning: Promise<void> | undefined;

  constructor(options: EmbeddedTurnOptions) {
    super();
    this.#options = options;
  }

  get running(): boolean {
    return this.#process?.running ?? false;
  }

  get pid(): number | undefined {
    return this.#process?.running ? this.#process.pid : undefined;
  }

  /** The address relays send from: the listening one (any local address when it listens on all). */
  get relayIp(): string | undefined {
    return WILDCARDS.has(this.#options.listenIp) ? undefined : this.#options.listenIp;
  }

  /** Starts it and resolves once it answers STUN; rejects with TurnStartError, leaving no process, if it cannot. */
  async start(): Promise<void> {
    if (!this.#stopped) return;
    this.#stopped = false;
    try {
      await this.#trackSpawn();
    } catch (error) {
      this.#stopped = true;
      throw error;
    }
  }

  #trackSpawn(): Promise<void> {
    const spawning = this.#spawn().finally(() => {
      if (this.#spawning === spawning) this.#spawning = undefined;
    });
    this.#spawning = spawning;
    return spawning;
  }

  /** Idempotent; resolves once the process is gone, and no restart follows. */
  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#restartTimer);
    await this.#spawning?.catch(() => undefined);
    await this.#process?.stop();
  }

  /**
   * The session whose relayed transport is `ip:port`, if this server holds one,
   * read from its CLI. Listings are shared for SESSIONS_FRESH_MS; a miss in a
   * shared one is asked again, as the allocation may be newer than the listing.
   */
  async relaySession(ip: string, port: number): Promise<TurnSession | undefined> {
    const wanted = `${ip}:${port}`;
    const cached = this.#sessions && Date.now() - this.#sessions.at <= SESSIONS_FRESH_MS ? this.#sessions.list : undefined;
    if (cached) {
      const hit = (await cached.catch(() => [] as TurnSession[])).find((s) => s.relayAddress === wanted);
      if (hit) return hit;
    }
    return (await this.#listSessions()).find((s) => s.relayAddress === wanted);
  }

  async #listSessions(): Promise<TurnSession[]> {
    const cli = this.#cli;
    if (!cli || !this.running) return [];
    const list = listTurnSessions(cli.port, cli.password);
    this.#sessions = { at: Date.now(), list };
    return list.catch((error: Error) => {
      this.#options.logger.warn(`TURN sessions unreadable: ${error.message}`);
      return [] as TurnSession[];
    });
  }

  async #spawn(): Promise<void> {
    const o = this.#options;
    const busy: string[] = [];
    if (!(await portFree(o.listenIp, o.port, 'udp'))) busy.push(`udp ${o.port}`);
    if (!(await portFree(o.listenIp, o.port, 'tcp'))) busy.push(`tcp ${o.port}`);
    if (o.tls && !(await portFree(o.listenIp, o.tls.port, 'tcp'))) busy.push(`tcp ${o.tls.port}`);
    if (busy.length) throw new TurnStartError(`${o.listenIp}: ${busy.join(', ')} already in use (TURN_PORT / TURN_TLS_PORT)`);
    const dir = join(o.dataDir, 'turn');
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const cli = { port: await freeLoopbackPort(), password: randomBytes(18).toString('base64url') };
    const settings: TurnServerSettings = {
      listenIp: o.listenIp,
      port: o.port,
      relayPorts: o.relayPorts ?? { min: 49152, max: 49999 },
      tls: o.tls,
      externalIp: o.externalIp,
      secret: o.secret,
      realm: 'cohost-gateway',
      allowedPeerIps: o.allowedPeerIps,
      cli,
      pidFile: join(dir, 'turnserver.pid'),
      userDbFile: join(dir, 'turndb'),
    };
    const configFile = join(dir, 'turnserver.conf');
    writeFileSync(configFile, `${turnServerConfig(settings).join('\n')}\n`, { mode: 0o600 });

    let bindFailure: string | undefined;
    let proc: SupervisedProcess;
    try {
      proc = await SupervisedProcess.start({
        name: 'turn',
        command: o.command ?? 'turnserver',
        args: turnServerArgs(configFile),
        readiness: { kind: 'line', pattern: /UDP listener opened on/ },
        readyTimeoutMs: o.readyTimeoutMs ?? 10000,
        logStdout: true,
        stderrWarnPattern: /error|cannot|fail/i,
        logger: o.logger,
        onSpawn: (p) =>
          p.on('stdoutLine', (line) => {
            if (BIND_FAILURE.test(line)) bindFailure ??= line;
            if (/CONFIG ERROR|ERROR:/.test(line)) o.logger.warn(`[turn] ${line}`);
          }),
      });
    } catch (error) {
      throw new TurnStartError(error instanceof ProcessStartError ? error.message : (error as Error).message);
    }
    const probeHost = this.relayIp ?? (o.listenIp === '::' ? '::1' : '127.0.0.1');
    const deadline = Date.now() + (o.readyTimeoutMs ?? 10000);
    let answers = { udp: false, tcp: false };
    while (!bindFailure && proc.running && Date.now() < deadline && !(answers.udp && answers.tcp)) {
      answers = {
        udp: answers.udp || (await stunAnswers(probeHost, o.port, 'udp', 300)),
        tcp: answers.tcp || (await stunAnswers(probeHost, o.port, 'tcp', 300)),
      };
    }
    if (bindFailure || !proc.running || !(answers.udp && answers.tcp)) {
      await proc.stop();
      const reason = bindFailure
        ? `cannot listen (${bindFailure})`
        : !proc.running
          ? 'it exited while starting'
          : `no STUN answer on ${probeHost}:${o.port} (${answers.udp ? '' : 'udp '}${answers.tcp ? '' : 'tcp'})`;
      throw new TurnStartError(reason.trim());
    }
    this.#process = proc;
    this.#cli = cli;
    this.#sessions = undefined;
    const tls = o.tls ? `, tls :${o.tls.port}` : '';
    o.logger.log(`embedded TURN running (pid ${proc.pid}): ${o.listenIp}:${o.port} udp+tcp${tls}`);
    this.emit('up', { pid: proc.pid! });
    proc.once('died', (error) => {
      this.#cli = undefined;
      this.emit('down', { reason: error.message });
      this.#scheduleRestart(o.restartDelayMs ?? 500);
    });
    if (this.#stopped) await proc.stop();
  }

  #scheduleRestart(delayMs: number): void {
    if (this.#stopped) return;
    this.#restartTimer = setTimeout(() => {
      if (this.#stopped) return;
      this.#trackSpawn().catch((error: Error) => {
        this.#options.logger.error(`embedded TURN restart failed: ${error.message}`);
        this.#scheduleRestart(Math.min(delayMs * 2, 10000));
      });
    }, delayMs);
  }
}
