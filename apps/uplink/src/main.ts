/**
 * `npm run uplink -- send …`: the host's bonding sender (seed 000) as a
 * command. The encoder pushes SRT to the sender's --listen port with the
 * channel's stream id (`ingest.srtla.streamId`); the sender spreads it over
 * every --path (and every --helper that accepts) towards the gateway's SRTLA
 * port (`ingest.srtla`), by the paths' quality, and prints each path's figures
 * once a second as a JSON line.
 *
 *   npm run uplink -- send --listen 127.0.0.1:7001 --to gateway.example:5000 \
 *     --path wlan=192.168.1.20 --path lte=10.64.0.7 [--helper tablet=192.168.1.30:7100] \
 *     [--fec-below 50] [--fec-every 10]
 *
 * `npm run uplink -- helper --listen 0.0.0.0:7100 --allowance-mb 500 [--bind <address>] [--refuse]`
 * on another device of the host's network answers senders' requests and
 * relays an accepted sender's share from its own network.
 *
 * Both stop on SIGINT/SIGTERM.
 */
import { SrtlaSender, UplinkHelper } from '@gw/uplink';

interface SendArgs {
  command: 'send';
  listen: { host: string; port: number };
  to: { host: string; port: number };
  paths: { name: string; bind: string; helper?: { host: string; port: number } }[];
  fecBelow?: number;
  fecEvery?: number;
}

interface HelperArgs {
  command: 'helper';
  listen: { host: string; port: number };
  bind?: string;
  allowanceBytes: number;
  refuse: boolean;
}

type Args = SendArgs | HelperArgs;

class UsageError extends Error {}

function hostPort(value: string | undefined, flag: string): { host: string; port: number } {
  const match = /^([^:]+):(\d{1,5})$/.exec(value ?? '');
  if (!match || Number(match[2]) < 1 || Number(match[2]) > 65535) throw new UsageError(`${flag} must be host:port (got ${JSON.stringify(value)})`);
  return { host: match[1], port: Number(match[2]) };
}

function parseHelperArgs(rest: string[]): HelperArgs {
  let listen: string | undefined;
  let bind: string | undefined;
  let allowanceMb: number | undefined;
  let refuse = false;
  for (let i = 0; i < rest.length; i++) {
    const flag = rest[i];
    if (flag === '--refuse') {
      refuse = true;
      continue;
    }
    const value = rest[++i];
    if (flag === '--listen') listen = value;
    else if (flag === '--bind') bind = value;
    else if (flag === '--allowance-mb') allowanceMb = Number(value);
    else throw new UsageError(`unknown option ${flag}`);
  }
  if (allowanceMb === undefined || !(allowanceMb >= 0)) throw new UsageError('--allowance-mb must be a number of megabytes ≥ 0');
  if (bind !== undefined && !/^[0-9.]+$/.test(bind)) throw new UsageError('--bind must be an IPv4 address');
  return { command: 'helper', listen: hostPort(listen, '--listen'), bind, allowanceBytes: Math.floor(allowanceMb * 1024 * 1024), refuse };
}

export function parseArgs(argv: string[]): Args {
  const [command, ...rest] = argv;
  if (command === 'helper') return parseHelperArgs(rest);
  if (command !== 'send') throw new UsageError('usage: uplink send --listen host:port --to host:port --path name=address [--path …] [--helper name=host:port …] | uplink helper --listen host:port --allowance-mb N');
  const paths: SendArgs['paths'] = [];
  let listen: string | undefined;
  let to: string | undefined;
  let fecBelow: number | undefined;
  let fecEvery: number | undefined;
  for (let i = 0; i < rest.length; i++) {
    const [flag, value] = [rest[i], rest[i + 1]];
    i += 1;
    if (flag === '--listen') listen = value;
    else if (flag === '--to') to = value;
    else if (flag === '--path') {
      const match = /^([a-z][a-z0-9-]{0,15})=([0-9.]+)$/.exec(value ?? '');
      if (!match) throw new UsageError(`--path must be name=IPv4 address (got ${JSON.stringify(value)})`);
      if (paths.some((p) => p.name === match[1])) throw new UsageError(`path ${match[1]} given twice`);
      paths.push({ name: match[1], bind: match[2] });
    } else if (flag === '--helper') {
      const match = /^([a-z][a-z0-9-]{0,15})=(.+)$/.exec(value ?? '');
      if (!match) throw new UsageError(`--helper must be name=host:port (got ${JSON.stringify(value)})`);
      if (paths.some((p) => p.name === match[1])) throw new UsageError(`path ${match[1]} given twice`);
      paths.push({ name: match[1], bind: '0.0.0.0', helper: hostPort(match[2], '--helper') });
    } else if (flag === '--fec-below') fecBelow = Number(value);
    else if (flag === '--fec-every') fecEvery = Number(value);
    else throw new UsageError(`unknown option ${flag}`);
  }
  if (!paths.length) throw new UsageError('at least one --path or --helper');
  if (fecBelow !== undefined && !(fecBelow >= 0 && fecBelow <= 100)) throw new UsageError('--fec-below must be 0-100');
  if (fecEvery !== undefined && !(Number.isInteger(fecEvery) && fecEvery >= 1)) throw new UsageError('--fec-every must be a whole number ≥ 1');
  return { command: 'send', listen: hostPort(listen, '--listen'), to: hostPort(to, '--to'), paths, fecBelow, fecEvery };
}

async function main(): Promise<void> {
  let args: Args;
  try {
    args = parseArgs(process.argv.slice(2));
  } catch (error) {
    if (error instanceof UsageError) {
      process.stderr.write(`${error.message}\n`);
      process.exit(2);
    }
    throw error;
  }
  const log = (level: string) => (message: string) => process.stderr.write(`[uplink] ${level} ${message}\n`);
  const logger = { log: log('log'), warn: log('warn'), error: log('error'), debug: () => undefined };
  if (args.command === 'helper') {
    const helper = new UplinkHelper({ listen: args.listen, bind: args.bind, allowanceBytes: args.allowanceBytes, refuse: args.refuse, logger });
    await helper.start();
    process.stderr.write(`[uplink] helping on ${args.listen.host}:${args.listen.port} (${args.allowanceBytes} bytes of allowance${args.refuse ? ', refusing' : ''})\n`);
    const report = setInterval(() => process.stdout.write(`${JSON.stringify({ at: Date.now(), senders: helper.senders, relayedBytes: helper.relayedBytes, remainingBytes: helper.remainingBytes })}\n`), 1000);
    const stopHelper = () => {
      clearInterval(report);
      void helper.stop().then(() => process.exit(0));
    };
    process.once('SIGINT', stopHelper);
    process.once('SIGTERM', stopHelper);
    return;
  }
  const sender = new SrtlaSender({
    listen: args.listen,
    receiver: args.to,
    paths: args.paths,
    scheduler: { fecBelow: args.fecBelow, fecEvery: args.fecEvery },
    logger,
  });
  await sender.start();
  process.stderr.write(`[uplink] sending ${args.listen.host}:${args.listen.port} over ${args.paths.map((p) => `${p.name} (${p.helper ? `helper ${p.helper.host}:${p.helper.port}` : p.bind})`).join(', ')} to ${args.to.host}:${args.to.port}\n`);
  const report = setInterval(() => process.stdout.write(`${JSON.stringify({ at: Date.now(), registered: sender.registered, paths: sender.figures, helpers: sender.helpers })}\n`), 1000);
  const stop = () => {
    clearInterval(report);
    void sender.stop().then(() => process.exit(0));
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

if (require.main === module) {
  main().catch((error: Error) => {
    process.stderr.write(`[uplink] ${error.message}\n`);
    process.exit(1);
  });
}
