import { ConfigError, parseConfig } from './config.schema';

const parse = (env: Record<string, string>) => parseConfig({ env, cpuCount: 2, randomKey: () => 'generated-admin-key' });

function problemsOf(env: Record<string, string>): { key: string; message: string }[] {
  try {
    parse(env);
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  throw new Error('expected a ConfigError');
}

describe('parseConfig', () => {
  it('applies the contract defaults', () => {
    const config = parse({});
    expect(config.port).toBe(3000);
    expect(config.live.origin).toEqual({ kind: 'embedded' });
    expect(config.live.playUrlBase).toBe('http://127.0.0.1:8000/live');
    expect(config.live.embeddedRtmpPort).toBe(1935);
    expect(config.rtc).toEqual({
      listenIp: '127.0.0.1',
      announcedIp: undefined,
      minPort: 40000,
      maxPort: 40999,
      workers: 2,
      workerWeights: [1, 1],
      maxLoadPerWeight: 500,
    });
    expect(config.adminApiKey).toBe('generated-admin-key');
    expect(config.adminApiKeyGenerated).toBe(true);
    expect(config.mixOutputAllow).toEqual(['rtmp://127.0.0.1:1935/live']);
    expect(config.cohost).toEqual({ inviteTtlSeconds: 30, maxGuests: 8, graceSeconds: 10 });
    expect(config.conferenceIdleSeconds).toBe(60);
    expect(config.bypassIdleSeconds).toBe(30);
    expect(config.recordings).toEqual({ minFreeBytes: 500 * 1024 * 1024 });
    expect(config.mixAudioDelayMs).toBe(180);
  });

  it('uses an external origin as publish base and allowed output', () => {
    const config = parse({ LIVE_ORIGIN: 'rtmp://srs.example:1935/live/', LIVE_PLAY_URL: 'http://cdn.example/live' });
    expect(config.live.origin).toEqual({ kind: 'external', rtmpBase: 'rtmp://srs.example:1935/live' });
    expect(config.live.playUrlBase).toBe('http://cdn.example/live');
    // Hosts and RTMP participants push to the gateway's own ingest by default, which a mix may feed too.
    expect(config.live.ingest).toBe('gateway');
    expect(config.mixOutputAllow).toEqual(['rtmp://srs.example:1935/live', 'rtmp://127.0.0.1:1935/live']);
  });

  it('ingests at the external origin only on request, and only with its hooks', () => {
    const config = parse({ LIVE_ORIGIN: 'rtmp://srs.example:1935/live', LIVE_INGEST: 'origin', LIVE_HOOK_SECRET: 'hook-secret-0123456789' });
    expect(config.live.ingest).toBe('origin');
    expect(config.mixOutputAllow).toEqual(['rtmp://srs.example:1935/live']);
    expect(problemsOf({ LIVE_ORIGIN: 'rtmp://srs.example:1935/live', LIVE_INGEST: 'origin' }).map((p) => p.key)).toEqual(['LIVE_INGEST']);
    expect(problemsOf({ LIVE_INGEST: 'cdn' }).map((p) => p.key)).toEqual(['LIVE_INGEST']);
    // The embedded origin is the gateway's own ingest: both values mean the same.
    expect(parse({ LIVE_INGEST: 'origin' }).live.ingest).toBe('gateway');
  });

  it("refuses a local external origin on the port the gateway's own ingest takes", () => {
    expect(problemsOf({ LIVE_ORIGIN: 'rtmp://127.0.0.1:1935/live' }).map((p) => p.key)).toEqual(['EMBEDDED_RTMP_PORT']);
    expect(problemsOf({ LIVE_ORIGIN: 'rtmp://localhost/live' }).map((p) => p.key)).toEqual(['EMBEDDED_RTMP_PORT']);
    expect(parse({ LIVE_ORIGIN: 'rtmp://127.0.0.1:1935/live', EMBEDDED_RTMP_PORT: '1936' }).live.ingest).toBe('gateway');
    expect(parse({ LIVE_ORIGIN: 'rtmp://127.0.0.1:1935/live', HOST: '10.0.0.5' }).live.ingest).toBe('gateway');
    expect(parse({ LIVE_ORIGIN: 'rtmp://127.0.0.1:1935/live', LIVE_INGEST: 'origin', LIVE_HOOK_SECRET: 'hook-secret-0123456789' }).live.ingest).toBe('origin');
  });

  it('takes the free space recordings need in MiB, 0 to turn the check off', () => {
    expect(parse({ RECORDING_MIN_FREE_MB: '64' }).recordings.minFreeBytes).toBe(64 * 1024 * 1024);
    expect(parse({ RECORDING_MIN_FREE_MB: '0' }).recordings.minFreeBytes).toBe(0);
    expect(problemsOf({ RECORDING_MIN_FREE_MB: '-1' }).map((p) => p.key)).toEqual(['RECORDING_MIN_FREE_MB']);
    expect(problemsOf({ RECORDING_MIN_FREE_MB: 'lots' }).map((p) => p.key)).toEqual(['RECORDING_MIN_FREE_MB']);
  });

  it('treats empty strings as unset', () => {
    expect(parse({ PORT: '', MIX_WEBHOOK_URL: '' }).port).toBe(3000);
  });

  it('names every bad key at once', () => {
    const keys = problemsOf({ PORT: 'abc', LIVE_ORIGIN: 'ftp://x', COHOST_MAX_GUESTS: '0', LOG_LEVEL: 'loud' }).map((p) => p.key);
    expect(keys.sort()).toEqual(['COHOST_MAX_GUESTS', 'LIVE_ORIGIN', 'LOG_LEVEL', 'PORT']);
  });

  it('cross-checks related keys', () => {
    expect(problemsOf({ RTC_MIN_PORT: '50000', RTC_MAX_PORT: '40000' }).map((p) => p.key)).toContain('RTC_MIN_PORT');
    expect(problemsOf({ EMBEDDED_HTTP_PORT: '1935' }).map((p) => p.key)).toEqual(['EMBEDDED_HTTP_PORT']);
    expect(problemsOf({ MIX_OUTPUT_ALLOW: 'http://evil.example' }).map((p) => p.key)).toEqual(['MIX_OUTPUT_ALLOW']);
    expect(problemsOf({ SFU_WORKERS: '3', SFU_WORKER_WEIGHTS: '1,2' }).map((p) => p.key)).toEqual(['SFU_WORKER_WEIGHTS']);
    expect(parse({ SFU_WORKERS: '3', SFU_WORKER_WEIGHTS: '1,2,3' }).rtc.workerWeights).toEqual([1, 2, 3]);
  });

  it('runs one origin process per core by default, and takes a weight per process', () => {
    expect(parse({}).live).toMatchObject({ embeddedProcesses: 2, embeddedWeights: [1, 1] });
    expect(parse({ EMBEDDED_ORIGIN_PROCESSES: '1' }).live).toMatchObject({ embeddedProcesses: 1, embeddedWeights: [1] });
    expect(parse({ EMBEDDED_ORIGIN_PROCESSES: '3', EMBEDDED_ORIGIN_WEIGHTS: '1,2,3' }).live.embeddedWeights).toEqual([1, 2, 3]);
    expect(parse({ EMBEDDED_ORIGIN_WEIGHTS: '0.5,2' }).live.embeddedWeights).toEqual([0.5, 2]);
    expect(problemsOf({ EMBEDDED_ORIGIN_PROCESSES: '3', EMBEDDED_ORIGIN_WEIGHTS: '1,2' }).map((p) => p.key)).toEqual(['EMBEDDED_ORIGIN_WEIGHTS']);
    expect(problemsOf({ EMBEDDED_ORIGIN_WEIGHTS: '1,0' }).map((p) => p.key)).toEqual(['EMBEDDED_ORIGIN_WEIGHTS']);
    expect(problemsOf({ EMBEDDED_ORIGIN_WEIGHTS: '1,x' }).map((p) => p.key)).toEqual(['EMBEDDED_ORIGIN_WEIGHTS']);
    expect(problemsOf({ EMBEDDED_ORIGIN_PROCESSES: '0' }).map((p) => p.key)).toEqual(['EMBEDDED_ORIGIN_PROCESSES']);
    expect(problemsOf({ EMBEDDED_ORIGIN_PROCESSES: '65' }).map((p) => p.key)).toEqual(['EMBEDDED_ORIGIN_PROCESSES']);
  });

  it('never echoes a secret value', () => {
    const problems = problemsOf({ JWT_SECRET: 'short-secret-value', ADMIN_API_KEY: 'tiny' });
    expect(problems.map((p) => p.key).sort()).toEqual(['ADMIN_API_KEY', 'JWT_SECRET']);
    expect(JSON.stringify(problems)).not.toMatch(/short-secret-value|tiny/);
  });
});

describe('parseConfig: TURN', () => {
  it('embeds coturn on 3478 by default, announced like the SFU', () => {
    expect(parse({}).turn).toEqual({ mode: 'embedded', port: 3478, tls: undefined, listenIp: '127.0.0.1', relayPorts: { min: 49152, max: 49999 }, announcedHost: '127.0.0.1', secret: undefined, ttlSeconds: 3600, p2pTimeoutMs: 2500 });
    expect(parse({ PUBLIC_HOST: 'gw.example.test' }).turn).toMatchObject({ announcedHost: 'gw.example.test' });
    expect(parse({ PUBLIC_HOST: 'gw.example.test', RTC_ANNOUNCED_IP: '203.0.113.7' }).turn).toMatchObject({ announcedHost: '203.0.113.7' });
    expect(parse({ TURN_TLS_CERT: '/c.pem', TURN_TLS_KEY: '/k.pem' }).turn).toMatchObject({ tls: { port: 5349, certFile: '/c.pem', keyFile: '/k.pem' } });
  });

  it('turns off, or points at an external TURN server', () => {
    expect(parse({ TURN: 'off' }).turn).toEqual({ mode: 'off', ttlSeconds: 3600, p2pTimeoutMs: 2500 });
    expect(parse({ TURN_URLS: 'stun:turn.example.test, turn:turn.example.test:3478?transport=udp,turns:turn.example.test:443?transport=tcp', TURN_SECRET: 's'.repeat(20), TURN_TTL_SECONDS: '600' }).turn).toEqual({
      mode: 'external',
      urls: ['stun:turn.example.test', 'turn:turn.example.test:3478?transport=udp', 'turns:turn.example.test:443?transport=tcp'],
      secret: 's'.repeat(20),
      ttlSeconds: 600,
      p2pTimeoutMs: 2500,
    });
  });

  it('names every bad TURN key, never echoing the secret', () => {
    const problems = problemsOf({ TURN: 'maybe', TURN_PORT: '80', TURN_TTL_SECONDS: '0', P2P_TIMEOUT_MS: 'x' });
    expect(problems.map((p) => p.key).sort()).toEqual(['P2P_TIMEOUT_MS', 'TURN', 'TURN_PORT', 'TURN_TTL_SECONDS']);
    expect(problemsOf({ TURN_URLS: 'http://nope' }).map((p) => p.key).sort()).toEqual(['TURN_SECRET', 'TURN_URLS']);
    expect(problemsOf({ TURN_URLS: 'turn:a.test', TURN_SECRET: 'x'.repeat(20), TURN: 'embedded' }).map((p) => p.key)).toEqual(['TURN']);
    expect(problemsOf({ TURN_TLS_CERT: '/c.pem' }).map((p) => p.key)).toEqual(['TURN_TLS_KEY']);
    expect(problemsOf({ TURN_PORT: '3000' })).toEqual([{ key: 'TURN_PORT', message: 'must differ from PORT (3000)' }]);
    expect(problemsOf({ TURN_PORT: '40010' }).map((p) => p.key)).toEqual(['TURN_PORT']);
    expect(problemsOf({ TURN_PORT: '49160' }).map((p) => p.key)).toEqual(['TURN_PORT']);
    expect(problemsOf({ TURN_RELAY_MIN_PORT: '50500', TURN_RELAY_MAX_PORT: '51500' })[0].message).toMatch(/mixer/);
    expect(problemsOf({ TURN_RELAY_MIN_PORT: '40500' })[0].message).toMatch(/SFU/);
    expect(problemsOf({ TURN_RELAY_MIN_PORT: '49999', TURN_RELAY_MAX_PORT: '49152' }).map((p) => p.key)).toEqual(['TURN_RELAY_MIN_PORT']);
    const secret = problemsOf({ TURN_SECRET: 'short secret' });
    expect(secret.map((p) => p.key)).toEqual(['TURN_SECRET', 'TURN_SECRET']);
    expect(JSON.stringify(secret)).not.toContain('short secret');
  });

  describe('cluster mode', () => {
    const secrets = { JWT_SECRET: 'j'.repeat(40), ADMIN_API_KEY: 'a'.repeat(20) };

    it('is off without REDIS_URL, and on with it, naming the node after the host and port by default', () => {
      expect(parse({}).cluster).toBeUndefined();
      const config = parseConfig({ env: { REDIS_URL: 'redis://10.0.0.5:6379', PORT: '3100', PUBLIC_HOST: 'gw1.example.test', ...secrets }, cpuCount: 4, randomKey: () => 'k', hostname: 'box 1' });
      expect(config.cluster).toEqual({ redisUrl: 'redis://10.0.0.5:6379', nodeId: 'box-1:3100', address: 'http://gw1.example.test:3100', cpuBudget: 3.2 });
      expect(parse({ REDIS_URL: 'rediss://u:p@r.test:6380/2', NODE_ID: 'n1', NODE_ADDRESS: 'http://10.1.0.2:3000', NODE_CPU_BUDGET: '1.5', ...secrets }).cluster).toEqual({
        redisUrl: 'rediss://u:p@r.test:6380/2',
        nodeId: 'n1',
        address: 'http://10.1.0.2:3000',
        cpuBudget: 1.5,
      });
    });

    it('needs the secrets every node must share, and rejects node settings without it', () => {
      expect(problemsOf({ REDIS_URL: 'redis://r.test:6379' }).map((p) => p.key).sort()).toEqual(['ADMIN_API_KEY', 'JWT_SECRET']);
      expect(problemsOf({ NODE_ID: 'n1', NODE_ADDRESS: 'http://a.test:1' }).map((p) => p.key).sort()).toEqual(['NODE_ADDRESS', 'NODE_ID']);
      // The CPU budget (mix admission) applies to a node on its own too.
      expect(parse({}).cpuBudget).toBe(1.6);
      expect(parse({ NODE_CPU_BUDGET: '3.5' }).cpuBudget).toBe(3.5);
      expect(problemsOf({ REDIS_URL: 'redis://r.test', NODE_ID: 'bad id!', NODE_ADDRESS: 'ftp://x', ...secrets }).map((p) => p.key).sort()).toEqual(['NODE_ADDRESS', 'NODE_ID']);
    });

    it('never echoes a bad REDIS_URL, which may hold a password', () => {
      const problems = problemsOf({ REDIS_URL: 'http://user:hunter2-secret@r.test', ...secrets });
      expect(problems.map((p) => p.key)).toEqual(['REDIS_URL']);
      expect(JSON.stringify(problems)).not.toContain('hunter2');
    });
  });
});

describe('parseConfig: SRT', () => {
  it('listens for SRT on 10080 by default, and not at all with SRT_PORT=0', () => {
    expect(parse({}).srt).toEqual({ port: 10080, latencyMs: 120, srtlaPort: 5000 });
    expect(parse({ SRT_PORT: '9000', SRT_LATENCY_MS: '400', SRTLA_PORT: '0' }).srt).toEqual({ port: 9000, latencyMs: 400 });
    expect(parse({ SRT_PORT: '0' }).srt).toBeUndefined();
  });

  it('keeps SRT_PORT off the UDP ports others use', () => {
    expect(problemsOf({ SRT_PORT: '40010' })[0]).toMatchObject({ key: 'SRT_PORT', message: expect.stringMatching(/SFU/) });
    expect(problemsOf({ SRT_PORT: '3478' })[0]).toMatchObject({ key: 'SRT_PORT', message: expect.stringMatching(/TURN_PORT/) });
    expect(problemsOf({ SRT_PORT: '49200' })[0]).toMatchObject({ key: 'SRT_PORT', message: expect.stringMatching(/relay/) });
    // A TCP port's number is free for UDP; TURN off frees its ports.
    expect(parse({ SRT_PORT: '3000' }).srt?.port).toBe(3000);
    expect(parse({ SRT_PORT: '3478', TURN: 'off' }).srt?.port).toBe(3478);
    expect(problemsOf({ SRT_PORT: '80' }).map((p) => p.key)).toEqual(['SRT_PORT']);
    expect(problemsOf({ SRT_LATENCY_MS: '5' }).map((p) => p.key)).toEqual(['SRT_LATENCY_MS']);
    expect(problemsOf({ SRTLA_PORT: '10080' })[0]).toMatchObject({ key: 'SRTLA_PORT', message: expect.stringMatching(/SRT_PORT/) });
    expect(problemsOf({ SRTLA_PORT: '40500' }).map((p) => p.key)).toEqual(['SRTLA_PORT']);
  });
});
