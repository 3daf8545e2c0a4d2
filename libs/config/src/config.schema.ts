import { z } from 'zod';

/**
 * The gateway's configuration, read once from the environment at boot (see the
 * contract's env table). Pure: no I/O here, so it is tested without mocks.
 */
export interface GatewayConfig {
  /** HTTP port for REST, socket.io and the web app. Default 3000. */
  port: number;
  /** Interface the HTTP server and the embedded origin bind to. Default 0.0.0.0. */
  host: string;
  /** Host name put into URLs handed to clients (publish/play/ingest). Default 127.0.0.1. */
  publicHost: string;
  live: {
    /** `embedded`, or an external origin's `rtmp://host:port/app` base. Default embedded. */
    origin: { kind: 'embedded' } | { kind: 'external'; rtmpBase: string };
    /**
     * Where hosts and RTMP participants push (LIVE_INGEST). `gateway` (default): the
     * gateway's own RTMP ingest, i.e. the embedded origin, which it also runs (privately,
     * for ingest only) when the live origin is external, so a stock origin with one
     * application and no hooks works. `origin`: the external origin itself (its `live`
     * and `ingest` apps, with publish hooks pointed at the gateway). Always `gateway`
     * when the live origin is embedded: the two are then the same.
     */
    ingest: 'gateway' | 'origin';
    /** Base for viewers' HTTP-FLV URLs: `<base>/<channelId>.flv`. */
    playUrlBase: string;
    /** Base for viewers' RTMP URLs: `<base>/<channelId>`. */
    rtmpPlayBase: string;
    embeddedRtmpPort: number;
    embeddedHttpPort: number;
    /** How long the embedded origin keeps a dropped publisher's timeline for a resume. Default 3000 ms. */
    publishGraceMs: number;
    /**
     * node-media-server processes the embedded origin runs behind its one RTMP and one
     * HTTP port (EMBEDDED_ORIGIN_PROCESSES). Default: one per core; 1 runs the single
     * process on the public ports, without the front.
     */
    embeddedProcesses: number;
    /** Allowed load of each origin process (EMBEDDED_ORIGIN_WEIGHTS, e.g. `1,2,3`). Default 1 each. */
    embeddedWeights: number[];
    /** Shared secret an external origin's callbacks carry; unset disables /live/hooks. */
    hookSecret?: string;
  };
  rtc: {
    listenIp: string;
    announcedIp?: string;
    /** RTC_PIPE_IP: where the other nodes of a cluster reach this node's PipeTransports. Default RTC_ANNOUNCED_IP. */
    pipeAnnouncedIp?: string;
    minPort: number;
    maxPort: number;
    /** Number of mediasoup workers. Default: one per core. */
    workers: number;
    /** Relative capacity of each worker (SFU_WORKER_WEIGHTS, e.g. `1,2,3`). Default 1 each. */
    workerWeights: number[];
    /** Streams (producers + consumers) per unit of weight before a worker counts as full. Default 500. */
    maxLoadPerWeight: number;
  };
  /** Key for admin routes; random per start when unset (printed at start). */
  adminApiKey: string;
  adminApiKeyGenerated: boolean;
  /** Signs access tokens. Unset: random per data dir, persisted in DATA_DIR/jwt-secret. */
  jwtSecret?: string;
  dataDir: string;
  /** ffmpeg binary. Default: `ffmpeg` from PATH (Debian's package). */
  ffmpegPath: string;
  ffprobePath: string;
  /**
   * Nice value of the processes on a channel's on-air path (the embedded
   * origin's processes, the pull of a host's push, the program's output relay).
   * Below the mixers' 0, so a mix starting on a busy machine does not stall viewers.
   */
  onAirPriority: number;
  /**
   * The lead before a co-hosting mix is spliced in (ms, 0 off): the host's
   * push on air is delayed little by little while the mix starts, so the
   * splice shows no frozen picture (libs/live/src/program/switch-lead.ts).
   */
  programSwitchLeadMs: number;
  /** URL prefixes mix outputs may target. Default: the live origin in use. */
  mixOutputAllow: string[];
  mixWebhookUrl?: string;
  /** Audio held back in the mixer so it lines up with video, which transcoding, decoding and scaling delay. Default 180 ms. */
  mixAudioDelayMs: number;
  /** Loopback UDP ports the mixer's decoders listen on (pairs). Default 50000-50999. */
  mixRtpPorts: { min: number; max: number };
  cohost: { inviteTtlSeconds: number; maxGuests: number; graceSeconds: number };
  conferenceIdleSeconds: number;
  bypassIdleSeconds: number;
  /** Recordings are written under DATA_DIR/recordings. */
  recordings: {
    /** A recording is refused (503 DISK_FULL) when less than this is free there (RECORDING_MIN_FREE_MB). Default 500 MiB. */
    minFreeBytes: number;
  };
  /**
   * Token buckets (events per second, burst) per user and per client IP, for REST
   * calls and socket events. A user's rejected calls do not draw on their IP's bucket.
   */
  rateLimits: {
    restPerUser: { perSecond: number; burst: number };
    socketPerUser: { perSecond: number; burst: number };
    perIp: { perSecond: number; burst: number };
  };
  logLevel: 'error' | 'warn' | 'log' | 'debug' | 'verbose';
  turn: TurnConfig;
  /**
   * Viewers sharing the stream (seed 002, libs/swarm). A channel without its own
   * settings deals its program into P2P_SUBSTREAMS sub-streams (default 4) of
   * P2P_BLOCK_GROUP blocks (default 1); a viewer takes blocks from at most
   * P2P_MAX_PEERS peers (default 8) and gives them to at most P2P_MAX_CONSUMERS
   * (default 8), at P2P_UPLOAD_KBPS at most (default 4000); a block a peer has
   * not given within P2P_PEER_WAIT_MS (default 1500) comes from the origin, as
   * does any block within P2P_URGENT_MS (default 1000) of the playhead.
   */
  p2p: {
    substreams: number;
    group: number;
    maxPeersPerViewer: number;
    maxConsumersPerPeer: number;
    uploadKbps: number;
    peerWaitMs: number;
    urgentMs: number;
  };
  /**
   * SRT ingest (SRT_PORT, UDP; default 10080, 0 turns it off): hosts and RTMP-less
   * encoders push MPEG-TS over SRT, routed by stream id (libs/live/src/srt).
   * SRT_LATENCY_MS (default 120) is the receive latency the gateway asks for.
   */
  srt?: {
    port: number;
    latencyMs: number;
    /** SRTLA_PORT (UDP; default 5000, 0 off): the link-aggregation receiver in front of the SRT ingest. */
    srtlaPort?: number;
  };
  /** Cores this node offers to media work (NODE_CPU_BUDGET, default its cores × 0.8): mixes are admitted against it. */
  cpuBudget: number;
  /**
   * Cluster mode (REDIS_URL set): nodes sharing a Redis, JWT_SECRET and
   * ADMIN_API_KEY are one cluster. Unset: one node on its own, as before.
   */
  cluster?: ClusterConfig;
}

export interface ClusterConfig {
  /** REDIS_URL: `redis://[user:password@]host:port[/db]` (or `rediss://`). */
  redisUrl: string;
  /** NODE_ID: this node's name in the cluster. Default: host name + ':' + PORT. */
  nodeId: string;
  /** NODE_ADDRESS: where clients and other nodes reach this node's HTTP port. Default http://PUBLIC_HOST:PORT. */
  address: string;
  /** NODE_CPU_BUDGET: cores this node offers to media work. Default: its cores × 0.8. */
  cpuBudget: number;
}

/**
 * STUN/TURN for WebRTC clients (the connectivity ladder's last rung). `embedded`
 * (default): the gateway supervises coturn's turnserver itself; `external`
 * (TURN_URLS set): clients get those URLs with credentials signed by TURN_SECRET;
 * `off` (TURN=off, no TURN_URLS): no ICE servers at all.
 */
export type TurnConfig =
  | {
      mode: 'embedded';
      /** TURN_PORT, UDP and TCP. Default 3478. */
      port: number;
      /** TLS listener (TURN_TLS_PORT, default 5349), only with TURN_TLS_CERT and TURN_TLS_KEY. */
      tls?: { port: number; certFile: string; keyFile: string };
      /** Interface coturn listens and relays on: RTC_LISTEN_IP. */
      listenIp: string;
      /** Host put into the turn:/stun: URLs: RTC_ANNOUNCED_IP, else PUBLIC_HOST. */
      announcedHost: string;
      /** UDP ports relays are allocated on (TURN_RELAY_MIN_PORT-TURN_RELAY_MAX_PORT). Default 49152-49999, clear of the SFU's and the mixer's ranges. */
      relayPorts: { min: number; max: number };
      /** TURN_SECRET; unset: random per data dir, persisted in DATA_DIR/turn-secret. */
      secret?: string;
      /** TURN_TTL_SECONDS: credentials' lifetime, never past the asking token's. Default 3600. */
      ttlSeconds: number;
      /** P2P_TIMEOUT_MS: how long clients try a direct path before the SFU. Default 2500. */
      p2pTimeoutMs: number;
    }
  | { mode: 'external'; urls: string[]; secret: string; ttlSeconds: number; p2pTimeoutMs: number }
  | { mode: 'off'; ttlSeconds: number; p2pTimeoutMs: number };

/** One bad key, with a message that never echoes a secret's value. */
export interface ConfigProblem {
  key: string;
  message: string;
}

export class ConfigError extends Error {
  constructor(readonly problems: ConfigProblem[]) {
    super(`invalid configuration: ${problems.map((p) => `${p.key}: ${p.message}`).join('; ')}`);
    this.name = 'ConfigError';
  }
}

const SECRET_KEYS = new Set(['ADMIN_API_KEY', 'JWT_SECRET', 'LIVE_HOOK_SECRET', 'TURN_SECRET', 'REDIS_URL']);

const port = z.coerce.number().int().min(1).max(65535);
const positiveInt = z.coerce.number().int().min(1);
const seconds = z.coerce.number().int().min(1).max(86400);
const ip = z.union([z.ipv4(), z.ipv6()]);
const httpUrl = z.url({ protocol: /^https?$/ });

/** Env schema: every variable optional, with the contract's defaults. */
const envSchema = z.object({
  PORT: port.default(3000),
  HOST: ip.default('0.0.0.0'),
  PUBLIC_HOST: z.string().regex(/^[A-Za-z0-9.:[\]-]+$/, 'must be a host name or IP').default('127.0.0.1'),
  LIVE_ORIGIN: z
    .union([z.literal('embedded'), z.url({ protocol: /^rtmps?$/ })], {
      error: 'must be "embedded" or an rtmp://host:port/app URL',
    })
    .default('embedded'),
  LIVE_INGEST: z.enum(['gateway', 'origin']).default('gateway'),
  LIVE_PLAY_URL: httpUrl.optional(),
  LIVE_RTMP_PLAY_URL: z.url({ protocol: /^rtmps?$/ }).optional(),
  EMBEDDED_RTMP_PORT: port.default(1935),
  EMBEDDED_HTTP_PORT: port.default(8000),
  EMBEDDED_ORIGIN_PROCESSES: positiveInt.max(64).optional(),
  EMBEDDED_ORIGIN_WEIGHTS: z.string().regex(/^\d+(\.\d+)?(,\d+(\.\d+)?)*$/, 'must be comma-separated positive numbers').optional(),
  LIVE_HOOK_SECRET: z.string().min(16, 'must be at least 16 characters').optional(),
  LIVE_PUBLISH_GRACE_MS: z.coerce.number().int().min(0).max(60000).default(3000),
  RTC_LISTEN_IP: ip.default('127.0.0.1'),
  RTC_ANNOUNCED_IP: z.string().min(1).optional(),
  RTC_PIPE_IP: z.string().min(1).optional(),
  RTC_MIN_PORT: z.coerce.number().int().min(1024).max(65535).default(40000),
  RTC_MAX_PORT: z.coerce.number().int().min(1024).max(65535).default(40999),
  SFU_WORKERS: positiveInt.max(64).optional(),
  SFU_WORKER_WEIGHTS: z.string().regex(/^\d+(\.\d+)?(,\d+(\.\d+)?)*$/, 'must be comma-separated positive numbers').optional(),
  SFU_WORKER_MAX_LOAD: positiveInt.max(100000).default(500),
  ADMIN_API_KEY: z.string().min(16, 'must be at least 16 characters').optional(),
  JWT_SECRET: z.string().min(32, 'must be at least 32 characters').optional(),
  DATA_DIR: z.string().min(1).default('./data'),
  FFMPEG_PATH: z.string().min(1).default('ffmpeg'),
  FFPROBE_PATH: z.string().min(1).default('ffprobe'),
  MIX_OUTPUT_ALLOW: z.string().optional(),
  MIX_WEBHOOK_URL: httpUrl.optional(),
  MIX_AUDIO_DELAY_MS: z.coerce.number().int().min(0).max(1000).default(180),
  ON_AIR_PRIORITY: z.coerce.number().int().min(-20).max(19).default(-5),
  PROGRAM_SWITCH_LEAD_MS: z.coerce.number().int().min(0).max(1000).default(160),
  MIX_RTP_MIN_PORT: z.coerce.number().int().min(1024).max(65535).default(50000),
  MIX_RTP_MAX_PORT: z.coerce.number().int().min(1024).max(65535).default(50999),
  COHOST_INVITE_TTL_SECONDS: seconds.default(30),
  COHOST_MAX_GUESTS: positiveInt.max(64).default(8),
  RATE_LIMIT_REST_PER_SECOND: positiveInt.max(100000).default(20),
  RATE_LIMIT_REST_BURST: positiveInt.max(100000).default(60),
  RATE_LIMIT_SOCKET_PER_SECOND: positiveInt.max(100000).default(20),
  RATE_LIMIT_SOCKET_BURST: positiveInt.max(100000).default(60),
  RATE_LIMIT_IP_PER_SECOND: positiveInt.max(1000000).default(500),
  RATE_LIMIT_IP_BURST: positiveInt.max(1000000).default(1000),
  COHOST_GRACE_SECONDS: seconds.default(10),
  CONFERENCE_IDLE_SECONDS: seconds.default(60),
  BYPASS_IDLE_SECONDS: seconds.default(30),
  RECORDING_MIN_FREE_MB: z.coerce.number().int().min(0).max(10_000_000).default(500),
  LOG_LEVEL: z.enum(['error', 'warn', 'log', 'debug', 'verbose']).default('log'),
  TURN: z.enum(['embedded', 'off']).optional(),
  TURN_PORT: z.coerce.number().int().min(1024).max(65535).default(3478),
  TURN_TLS_PORT: z.coerce.number().int().min(1024).max(65535).default(5349),
  TURN_TLS_CERT: z.string().min(1).optional(),
  TURN_TLS_KEY: z.string().min(1).optional(),
  TURN_RELAY_MIN_PORT: z.coerce.number().int().min(1024).max(65535).default(49152),
  TURN_RELAY_MAX_PORT: z.coerce.number().int().min(1024).max(65535).default(49999),
  TURN_URLS: z.string().optional(),
  TURN_SECRET: z.string().min(16, 'must be at least 16 characters').regex(/^[\x21-\x7e]+$/, 'must be printable ASCII without spaces').optional(),
  TURN_TTL_SECONDS: seconds.default(3600),
  P2P_TIMEOUT_MS: z.coerce.number().int().min(100).max(60000).default(2500),
  P2P_SUBSTREAMS: z.coerce.number().int().min(1).max(32).default(4),
  P2P_BLOCK_GROUP: z.coerce.number().int().min(1).max(16).default(1),
  P2P_MAX_PEERS: z.coerce.number().int().min(0).max(31).default(8),
  P2P_MAX_CONSUMERS: z.coerce.number().int().min(0).max(64).default(8),
  P2P_UPLOAD_KBPS: z.coerce.number().int().min(50).max(1000000).default(4000),
  P2P_PEER_WAIT_MS: z.coerce.number().int().min(100).max(30000).default(1500),
  P2P_URGENT_MS: z.coerce.number().int().min(0).max(30000).default(1000),
  SRT_PORT: z.union([z.literal('0').transform(() => 0), z.coerce.number().int().min(1024).max(65535)]).default(10080),
  SRT_LATENCY_MS: z.coerce.number().int().min(20).max(8000).default(120),
  SRTLA_PORT: z.union([z.literal('0').transform(() => 0), z.coerce.number().int().min(1024).max(65535)]).default(5000),
  REDIS_URL: z.string().regex(/^rediss?:\/\/[^\s/]+(\/\d{1,2})?$/, 'must be redis://[user:password@]host:port[/db] or rediss://…').optional(),
  NODE_ID: z.string().regex(/^[A-Za-z0-9._:-]{1,64}$/, 'must be 1-64 of A-Z a-z 0-9 . _ : -').optional(),
  NODE_ADDRESS: z.string().regex(/^https?:\/\/[^\s/]+$/, 'must be http(s)://host:port').optional(),
  NODE_CPU_BUDGET: z.coerce.number().positive().max(1024).optional(),
});

/** One ICE server URL of TURN_URLS: `stun:`, `turn:` or `turns:` host[:port], with an optional transport. */
const ICE_URL = /^(stun|turns?):(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+)(:\d{1,5})?(\?transport=(udp|tcp))?$/;

export interface ConfigInputs {
  env: Record<string, string | undefined>;
  cpuCount: number;
  /** Supplies the admin key when none is configured. */
  randomKey: () => string;
  /** The machine's host name, for the default NODE_ID. */
  hostname?: string;
}

/**
 * Parses and cross-checks the environment. Throws ConfigError naming every bad
 * key at once. Empty strings count as unset, as shells often export `X=`.
 */
export function parseConfig({ env, cpuCount, randomKey, hostname = 'node' }: ConfigInputs): GatewayConfig {
  const cleaned = Object.fromEntries(
    Object.keys(envSchema.shape)
      .map((key) => [key, env[key]])
      .filter(([, value]) => value !== undefined && value !== ''),
  );
  const result = envSchema.safeParse(cleaned);
  if (!result.success) {
    throw new ConfigError(
      result.error.issues.map((issue) => {
        const key = String(issue.path[0] ?? '(env)');
        return { key, message: SECRET_KEYS.has(key) ? maskedMessage(issue) : issue.message };
      }),
    );
  }
  const e = result.data;
  const problems: ConfigProblem[] = [];
  if (e.RTC_MIN_PORT > e.RTC_MAX_PORT) {
    problems.push({ key: 'RTC_MIN_PORT', message: `must not exceed RTC_MAX_PORT (${e.RTC_MAX_PORT})` });
  }
  if (e.MIX_RTP_MAX_PORT - e.MIX_RTP_MIN_PORT < 8) {
    problems.push({ key: 'MIX_RTP_MAX_PORT', message: 'needs at least 8 ports above MIX_RTP_MIN_PORT' });
  }
  const workers = e.SFU_WORKERS ?? Math.max(1, cpuCount);
  const weights = e.SFU_WORKER_WEIGHTS ? e.SFU_WORKER_WEIGHTS.split(',').map(Number) : Array.from({ length: workers }, () => 1);
  if (weights.length !== workers || weights.some((w) => w <= 0)) {
    problems.push({ key: 'SFU_WORKER_WEIGHTS', message: `needs ${workers} positive weights, one per worker` });
  }
  if (e.RTC_MAX_PORT - e.RTC_MIN_PORT + 1 < workers * 2) {
    problems.push({ key: 'RTC_MAX_PORT', message: `port range too small for ${workers} workers` });
  }
  const originProcesses = e.EMBEDDED_ORIGIN_PROCESSES ?? Math.max(1, cpuCount);
  const originWeights = e.EMBEDDED_ORIGIN_WEIGHTS
    ? e.EMBEDDED_ORIGIN_WEIGHTS.split(',').map(Number)
    : Array.from({ length: originProcesses }, () => 1);
  if (originWeights.length !== originProcesses || originWeights.some((w) => w <= 0)) {
    problems.push({ key: 'EMBEDDED_ORIGIN_WEIGHTS', message: `needs ${originProcesses} positive weights, one per origin process` });
  }
  const embedded = e.LIVE_ORIGIN === 'embedded';
  const ingest = embedded ? 'gateway' : e.LIVE_INGEST;
  // The embedded origin runs as the live origin, or as the gateway's own RTMP ingest.
  const runsEmbedded = embedded || ingest === 'gateway';
  if (runsEmbedded && e.EMBEDDED_RTMP_PORT === e.EMBEDDED_HTTP_PORT) {
    problems.push({ key: 'EMBEDDED_HTTP_PORT', message: 'must differ from EMBEDDED_RTMP_PORT' });
  }
  if (runsEmbedded && (e.PORT === e.EMBEDDED_RTMP_PORT || e.PORT === e.EMBEDDED_HTTP_PORT)) {
    problems.push({ key: 'PORT', message: 'must differ from the embedded origin ports' });
  }
  if (!embedded && ingest === 'gateway' && originOnIngestPort(e.LIVE_ORIGIN, e.HOST, e.PUBLIC_HOST, e.EMBEDDED_RTMP_PORT)) {
    problems.push({ key: 'EMBEDDED_RTMP_PORT', message: "the gateway's RTMP ingest would listen on the port of LIVE_ORIGIN; choose another port" });
  }
  if (!embedded && ingest === 'origin' && !e.LIVE_HOOK_SECRET) {
    // Without the origin's publish callbacks the gateway never learns that a host or participant pushes.
    problems.push({ key: 'LIVE_INGEST', message: '"origin" needs LIVE_HOOK_SECRET and the origin\'s publish hooks pointed at the gateway' });
  }
  const allow = (e.MIX_OUTPUT_ALLOW ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  for (const prefix of allow) {
    if (!/^rtmps?:\/\/[^/\s]+/.test(prefix)) {
      problems.push({ key: 'MIX_OUTPUT_ALLOW', message: `"${prefix}" is not an rtmp:// or rtmps:// prefix` });
    }
  }
  const turnUrls = (e.TURN_URLS ?? '')
    .split(',')
    .map((u) => u.trim())
    .filter(Boolean);
  for (const url of turnUrls) {
    if (!ICE_URL.test(url)) problems.push({ key: 'TURN_URLS', message: `"${url}" is not a stun:, turn: or turns: URL (host[:port][?transport=udp|tcp])` });
  }
  if (turnUrls.length && !e.TURN_SECRET) problems.push({ key: 'TURN_SECRET', message: "is required with TURN_URLS (the external TURN server's static auth secret)" });
  if (turnUrls.length && e.TURN === 'embedded') problems.push({ key: 'TURN', message: '"embedded" conflicts with TURN_URLS (an external TURN server); leave TURN unset' });
  const turnEmbedded = !turnUrls.length && e.TURN !== 'off';
  if ((e.TURN_TLS_CERT === undefined) !== (e.TURN_TLS_KEY === undefined)) {
    problems.push({ key: e.TURN_TLS_CERT === undefined ? 'TURN_TLS_CERT' : 'TURN_TLS_KEY', message: 'TURN_TLS_CERT and TURN_TLS_KEY go together' });
  }
  if (turnEmbedded) {
    const tcpPorts = [['PORT', e.PORT]] as [string, number][];
    if (runsEmbedded) tcpPorts.push(['EMBEDDED_RTMP_PORT', e.EMBEDDED_RTMP_PORT], ['EMBEDDED_HTTP_PORT', e.EMBEDDED_HTTP_PORT]);
    const turnPorts = [['TURN_PORT', e.TURN_PORT]] as [string, number][];
    if (e.TURN_TLS_CERT) turnPorts.push(['TURN_TLS_PORT', e.TURN_TLS_PORT]);
    for (const [key, value] of turnPorts) {
      const clash = tcpPorts.find(([, p]) => p === value);
      if (clash) problems.push({ key, message: `must differ from ${clash[0]} (${value})` });
    }
    if (e.TURN_TLS_CERT && e.TURN_TLS_PORT === e.TURN_PORT) problems.push({ key: 'TURN_TLS_PORT', message: 'must differ from TURN_PORT' });
    const inRange = (p: number, min: number, max: number) => p >= min && p <= max;
    for (const [key, value] of turnPorts) {
      if (inRange(value, e.RTC_MIN_PORT, e.RTC_MAX_PORT)) problems.push({ key, message: `lies in the SFU's port range (RTC_MIN_PORT-RTC_MAX_PORT)` });
    }
    const [relayMin, relayMax] = [e.TURN_RELAY_MIN_PORT, e.TURN_RELAY_MAX_PORT];
    const overlaps = (min: number, max: number) => relayMin <= max && min <= relayMax;
    if (relayMin > relayMax) problems.push({ key: 'TURN_RELAY_MIN_PORT', message: `must not exceed TURN_RELAY_MAX_PORT (${relayMax})` });
    else if (overlaps(e.RTC_MIN_PORT, e.RTC_MAX_PORT)) problems.push({ key: 'TURN_RELAY_MIN_PORT', message: "the relay port range overlaps the SFU's (RTC_MIN_PORT-RTC_MAX_PORT)" });
    else if (overlaps(e.MIX_RTP_MIN_PORT, e.MIX_RTP_MAX_PORT)) problems.push({ key: 'TURN_RELAY_MIN_PORT', message: "the relay port range overlaps the mixer's (MIX_RTP_MIN_PORT-MIX_RTP_MAX_PORT)" });
    else if (turnPorts.some(([, p]) => inRange(p, relayMin, relayMax))) problems.push({ key: 'TURN_PORT', message: 'lies in the relay port range (TURN_RELAY_MIN_PORT-TURN_RELAY_MAX_PORT)' });
  }
  // SRT and SRTLA are UDP: each may share a number with a TCP port, not with the UDP ranges, TURN or each other.
  for (const key of ['SRT_PORT', 'SRTLA_PORT'] as const) {
    const port = e[key];
    if (!port || (key === 'SRTLA_PORT' && !e.SRT_PORT)) continue;
    const within = (min: number, max: number) => port >= min && port <= max;
    if (within(e.RTC_MIN_PORT, e.RTC_MAX_PORT)) problems.push({ key, message: "lies in the SFU's port range (RTC_MIN_PORT-RTC_MAX_PORT)" });
    else if (within(e.MIX_RTP_MIN_PORT, e.MIX_RTP_MAX_PORT)) problems.push({ key, message: "lies in the mixer's port range (MIX_RTP_MIN_PORT-MIX_RTP_MAX_PORT)" });
    else if (turnEmbedded && port === e.TURN_PORT) problems.push({ key, message: `must differ from TURN_PORT (${e.TURN_PORT})` });
    else if (turnEmbedded && within(e.TURN_RELAY_MIN_PORT, e.TURN_RELAY_MAX_PORT)) problems.push({ key, message: 'lies in the TURN relay port range (TURN_RELAY_MIN_PORT-TURN_RELAY_MAX_PORT)' });
    else if (key === 'SRTLA_PORT' && port === e.SRT_PORT) problems.push({ key, message: `must differ from SRT_PORT (${e.SRT_PORT})` });
  }
  if (e.REDIS_URL) {
    // Every node of a cluster must accept the others' tokens and admin key: neither may be random per node.
    if (!e.JWT_SECRET) problems.push({ key: 'JWT_SECRET', message: 'is required with REDIS_URL (every node of the cluster signs and checks tokens with it)' });
    if (!e.ADMIN_API_KEY) problems.push({ key: 'ADMIN_API_KEY', message: 'is required with REDIS_URL (every node of the cluster accepts it)' });
  } else {
    for (const key of ['NODE_ID', 'NODE_ADDRESS'] as const) {
      if (e[key] !== undefined) problems.push({ key, message: 'only applies with REDIS_URL (cluster mode)' });
    }
  }
  if (problems.length) throw new ConfigError(problems);

  const rtmpBase = embedded
    ? `rtmp://${e.PUBLIC_HOST}:${e.EMBEDDED_RTMP_PORT}/live`
    : e.LIVE_ORIGIN.replace(/\/+$/, '');
  // Hosts' and participants' push points when the gateway ingests beside an external origin.
  const gatewayIngestBase = `rtmp://${e.PUBLIC_HOST}:${e.EMBEDDED_RTMP_PORT}/live`;
  const playUrlBase = (e.LIVE_PLAY_URL ?? `http://${e.PUBLIC_HOST}:${e.EMBEDDED_HTTP_PORT}/live`).replace(/\/+$/, '');
  return {
    port: e.PORT,
    host: e.HOST,
    publicHost: e.PUBLIC_HOST,
    live: {
      origin: embedded ? { kind: 'embedded' } : { kind: 'external', rtmpBase },
      ingest,
      playUrlBase,
      rtmpPlayBase: (e.LIVE_RTMP_PLAY_URL ?? rtmpBase).replace(/\/+$/, ''),
      embeddedRtmpPort: e.EMBEDDED_RTMP_PORT,
      embeddedHttpPort: e.EMBEDDED_HTTP_PORT,
      publishGraceMs: e.LIVE_PUBLISH_GRACE_MS,
      embeddedProcesses: originProcesses,
      embeddedWeights: originWeights,
      hookSecret: e.LIVE_HOOK_SECRET,
    },
    rtc: {
      listenIp: e.RTC_LISTEN_IP,
      announcedIp: e.RTC_ANNOUNCED_IP,
      pipeAnnouncedIp: e.RTC_PIPE_IP ?? e.RTC_ANNOUNCED_IP,
      minPort: e.RTC_MIN_PORT,
      maxPort: e.RTC_MAX_PORT,
      workers,
      workerWeights: weights,
      maxLoadPerWeight: e.SFU_WORKER_MAX_LOAD,
    },
    adminApiKey: e.ADMIN_API_KEY ?? randomKey(),
    adminApiKeyGenerated: e.ADMIN_API_KEY === undefined,
    jwtSecret: e.JWT_SECRET,
    dataDir: e.DATA_DIR,
    ffmpegPath: e.FFMPEG_PATH,
    ffprobePath: e.FFPROBE_PATH,
    onAirPriority: e.ON_AIR_PRIORITY,
    programSwitchLeadMs: e.PROGRAM_SWITCH_LEAD_MS,
    // By default a mix may also feed a channel's publishUrl, as on the embedded origin.
    mixOutputAllow: allow.length ? allow : !embedded && ingest === 'gateway' ? [rtmpBase, gatewayIngestBase] : [rtmpBase],
    mixWebhookUrl: e.MIX_WEBHOOK_URL,
    mixRtpPorts: { min: e.MIX_RTP_MIN_PORT, max: e.MIX_RTP_MAX_PORT },
    mixAudioDelayMs: e.MIX_AUDIO_DELAY_MS,
    cohost: {
      inviteTtlSeconds: e.COHOST_INVITE_TTL_SECONDS,
      maxGuests: e.COHOST_MAX_GUESTS,
      graceSeconds: e.COHOST_GRACE_SECONDS,
    },
    conferenceIdleSeconds: e.CONFERENCE_IDLE_SECONDS,
    bypassIdleSeconds: e.BYPASS_IDLE_SECONDS,
    recordings: { minFreeBytes: e.RECORDING_MIN_FREE_MB * 1024 * 1024 },
    rateLimits: {
      restPerUser: { perSecond: e.RATE_LIMIT_REST_PER_SECOND, burst: e.RATE_LIMIT_REST_BURST },
      socketPerUser: { perSecond: e.RATE_LIMIT_SOCKET_PER_SECOND, burst: e.RATE_LIMIT_SOCKET_BURST },
      perIp: { perSecond: e.RATE_LIMIT_IP_PER_SECOND, burst: e.RATE_LIMIT_IP_BURST },
    },
    logLevel: e.LOG_LEVEL,
    turn: turnUrls.length
      ? { mode: 'external', urls: turnUrls, secret: e.TURN_SECRET!, ttlSeconds: e.TURN_TTL_SECONDS, p2pTimeoutMs: e.P2P_TIMEOUT_MS }
      : turnEmbedded
        ? {
            mode: 'embedded',
            port: e.TURN_PORT,
            tls: e.TURN_TLS_CERT && e.TURN_TLS_KEY ? { port: e.TURN_TLS_PORT, certFile: e.TURN_TLS_CERT, keyFile: e.TURN_TLS_KEY } : undefined,
            listenIp: e.RTC_LISTEN_IP,
            relayPorts: { min: e.TURN_RELAY_MIN_PORT, max: e.TURN_RELAY_MAX_PORT },
            announcedHost: e.RTC_ANNOUNCED_IP ?? e.PUBLIC_HOST,
            secret: e.TURN_SECRET,
            ttlSeconds: e.TURN_TTL_SECONDS,
            p2pTimeoutMs: e.P2P_TIMEOUT_MS,
          }
        : { mode: 'off', ttlSeconds: e.TURN_TTL_SECONDS, p2pTimeoutMs: e.P2P_TIMEOUT_MS },
    p2p: {
      substreams: e.P2P_SUBSTREAMS,
      group: e.P2P_BLOCK_GROUP,
      maxPeersPerViewer: e.P2P_MAX_PEERS,
      maxConsumersPerPeer: e.P2P_MAX_CONSUMERS,
      uploadKbps: e.P2P_UPLOAD_KBPS,
      peerWaitMs: e.P2P_PEER_WAIT_MS,
      urgentMs: e.P2P_URGENT_MS,
    },
    srt: e.SRT_PORT ? { port: e.SRT_PORT, latencyMs: e.SRT_LATENCY_MS, ...(e.SRTLA_PORT ? { srtlaPort: e.SRTLA_PORT } : {}) } : undefined,
    cpuBudget: e.NODE_CPU_BUDGET ?? Math.round(Math.max(1, cpuCount) * 0.8 * 100) / 100,
    cluster: e.REDIS_URL
      ? {
          redisUrl: e.REDIS_URL,
          nodeId: e.NODE_ID ?? `${hostname}:${e.PORT}`.replace(/[^A-Za-z0-9._:-]/g, '-').slice(0, 64),
          address: e.NODE_ADDRESS ?? `http://${e.PUBLIC_HOST}:${e.PORT}`,
          cpuBudget: e.NODE_CPU_BUDGET ?? Math.round(Math.max(1, cpuCount) * 0.8 * 100) / 100,
        }
      : undefined,
  };
}

/**
 * True when an external origin's URL names an address the gateway's own RTMP ingest
 * would listen on (HOST, or any local address when HOST is a wildcard), on the same
 * port: the two could not both listen.
 */
function originOnIngestPort(origin: string, bind: string, publicHost: string, rtmpPort: number): boolean {
  const url = new URL(origin);
  const port = Number(url.port || (url.protocol === 'rtmps:' ? 443 : 1935));
  if (port !== rtmpPort) return false;
  const host = url.hostname.replace(/^\[|\]$/g, '').toLowerCase();
  const loopback = (h: string) => h === 'localhost' || h === '::1' || /^127\./.test(h);
  if (bind === '0.0.0.0' || bind === '::') return loopback(host) || host === bind || host === publicHost.toLowerCase();
  return host === bind || (loopback(host) && loopback(bind));
}

function maskedMessage(issue: z.core.$ZodIssue): string {
  // zod messages for strings do not include the value, but be explicit: never echo a secret.
  return issue.message.replace(/"[^"]*"/g, '"***"');
}
