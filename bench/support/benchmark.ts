/** What each benchmark file exports for the runner (bench/run.ts). */
export interface Benchmark {
  run: () => Promise<Record<string, unknown>>;
  /** How the figures were taken, for BENCHMARKS.md. */
  method: string;
  /** The table rows of BENCHMARKS.md (figure | result | goal). */
  summary: (r: any) => string[];
  /** The figures that have a target; `npm run bench -- check` judges them on the stored result. */
  targets?: (r: any) => Target[];
}

/** One figure against its target. A figure the run did not produce (NaN, undefined) counts as missed. */
export interface Target {
  figure: string;
  value: number | undefined;
  unit: string;
  /** `max`: the figure must be at most `limit`; `min`: at least. */
  kind: 'max' | 'min';
  limit: number;
}

export function targetMet(t: Target): boolean {
  if (t.value === undefined || !Number.isFinite(t.value)) return false;
  return t.kind === 'max' ? t.value <= t.limit : t.value >= t.limit;
}

/** A target's row for BENCHMARKS.md and the check command. */
export function targetRow(t: Target): string {
  const value = t.value === undefined || !Number.isFinite(t.value) ? 'not measured' : `${t.value} ${t.unit}`.trim();
  return `| ${t.figure} | ${value} | ${t.kind === 'max' ? '<=' : '>='} ${t.limit} ${t.unit} | ${targetMet(t) ? 'met' : '**MISSED**'} |`;
}
