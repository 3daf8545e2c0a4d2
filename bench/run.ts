/**
 * Benchmark runner: `npm run bench -- <name>` runs one benchmark, writes
 * bench/results/<name>.json and rewrites that benchmark's section of
 * BENCHMARKS.md with the figures, their targets, the method, the date and
 * the commit. `npm run bench -- check` reads every stored result, prints each
 * figure against its target and exits non-zero when one misses.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { benchmark as audiences } from './audiences.bench';
import { benchmark as bypass } from './bypass.bench';
import { benchmark as clientmix } from './clientmix.bench';
import { benchmark as cluster } from './cluster.bench';
import { benchmark as cohost } from './cohost.bench';
import { benchmark as ladder } from './ladder.bench';
import { benchmark as load } from './load.bench';
import { benchmark as lossy } from './lossy.bench';
import { benchmark as mix } from './mix.bench';
import { benchmark as p2p } from './p2p.bench';
import { benchmark as presentation } from './presentation.bench';
import { benchmark as recovery } from './recovery.bench';
import { benchmark as uplink } from './uplink.bench';
import { Benchmark, targetMet, targetRow } from './support/benchmark';

const BENCHMARKS: Record<string, Benchmark> = { recovery, load, clientmix, bypass, mix, cohost, audiences, ladder, cluster, lossy, uplink, presentation, p2p };

const root = join(__dirname, '..', '..');

/** The commit the figures are measured at (with "+changes" when the tree differs from it). */
function commit(): string {
  try {
    const head = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: root, encoding: 'utf8' }).trim();
    // The benches' own outputs (results, BENCHMARKS.md) are not changes to what is measured.
    const dirty = execFileSync('git', ['status', '--porcelain', '--untracked-files=no', '--', '.', ':!bench/results', ':!BENCHMARKS.md'], { cwd: root, encoding: 'utf8' }).trim();
    return dirty ? `${head}+changes` : head;
  } catch {
    return 'unknown';
  }
}

/** `check`: every stored result against its targets; exits 1 when a target is missed or a result is missing. */
function check(): void {
  const dir = join(root, 'bench', 'results');
  const stored = new Set(existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith('.json')).map((f) => f.slice(0, -5)) : []);
  let missed = 0;
  for (const [name, bench] of Object.entries(BENCHMARKS)) {
    if (!bench.targets) continue;
    if (!stored.has(name)) {
      process.stdout.write(`${name}: no stored result (npm run bench -- ${name})\n`);
      missed += 1;
      continue;
    }
    const record = JSON.parse(readFileSync(join(dir, `${name}.json`), 'utf8'));
    process.stdout.write(`${name} (${record.date.slice(0, 10)}, commit ${record.commit ?? 'unknown'}):\n`);
    let targets;
    try {
      targets = bench.targets(record.result);
    } catch (error) {
      // A result written by an older version of the bench lacks figures the targets read.
      process.stdout.write(`  cannot read the stored figures (${(error as Error).message}); run it again\n`);
      missed += 1;
      continue;
    }
    for (const t of targets) {
      if (!targetMet(t)) missed += 1;
      process.stdout.write(`  ${targetRow(t).slice(2, -2).split(' | ').join('  ·  ')}\n`);
    }
  }
  process.stdout.write(missed ? `${missed} target(s) missed\n` : 'every target met\n');
  process.exit(missed ? 1 : 0);
}

async function main(): Promise<void> {
  const name = process.argv[2];
  if (name === 'check') return check();
  const bench = name ? BENCHMARKS[name] : undefined;
  if (!bench) {
    process.stderr.write(`usage: npm run bench -- <${Object.keys(BENCHMARKS).join('|')}|check>\n`);
    process.exit(2);
  }
  const started = new Date();
  const measuredAt = commit();
  const result = await bench.run();
  const record = { name, date: started.toISOString(), commit: measuredAt, machine: { cpus: cpus().length, model: cpus()[0]?.model }, result };
  mkdirSync(join(root, 'bench', 'results'), { recursive: true });
  writeFileSync(join(root, 'bench', 'results', `${name}.json`), `${JSON.stringify(record, null, 2)}\n`);

  const file = join(root, 'BENCHMARKS.md');
  const existing = existsSync(file) ? readFileSync(file, 'utf8') : '# Benchmarks\n\nFigures from `npm run bench -- <name>` on the development machine (2 cores). Raw results: `bench/results/<name>.json`.\n';
  const section = [
    `<!-- bench:${name} -->`,
    `## ${name} (${started.toISOString().slice(0, 10)}, commit ${measuredAt})`,
    '',
    '| figure | result | goal |',
    '|---|---|---|',
    ...bench.summary(result),
    '',
    ...(bench.targets
      ? ['Targets (`npm run bench -- check`):', '', '| figure | measured | target | |', '|---|---|---|---|', ...bench.targets(result).map(targetRow), '']
      : []),
    `Method: ${bench.method}`,
    '',
    `Measured at commit ${measuredAt}.`,
    `<!-- /bench:${name} -->`,
  ].join('\n');
  const pattern = new RegExp(`<!-- bench:${name} -->[\\s\\S]*?<!-- /bench:${name} -->`);
  writeFileSync(file, pattern.test(existing) ? existing.replace(pattern, section) : `${existing.trimEnd()}\n\n${section}\n`);
  process.stdout.write(`${bench.summary(result).join('\n')}\n`);
  process.exit(0);
}

void main().catch((error: Error) => {
  process.stderr.write(`${error.stack ?? error.message}\n`);
  process.exit(1);
});
