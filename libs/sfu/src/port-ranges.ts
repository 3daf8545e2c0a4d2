/**
 * Splits the configured RTC port range into one disjoint slice per worker, so
 * two workers never race for the same UDP port. Pure.
 */
export function splitPortRange(min: number, max: number, slots: number): { min: number; max: number }[] {
  const size = Math.floor((max - min + 1) / slots);
  if (size < 1) throw new RangeError(`port range ${min}-${max} cannot hold ${slots} workers`);
  return Array.from({ length: slots }, (_, i) => ({
    min: min + i * size,
    max: i === slots - 1 ? max : min + (i + 1) * size - 1,
  }));
}
