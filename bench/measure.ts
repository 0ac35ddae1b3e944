// Timing helpers for benchmarks: medians over interleaved rounds, so a
// background hiccup hurts one round of each contender rather than one contender.

export interface Contender {
  readonly name: string;
  /** Runs the operation `n` times; returns something to keep the work observable. */
  readonly run: (n: number) => unknown;
  /** Operations per call of the op (e.g. messages in a batch), for per-item figures. */
  readonly itemsPerOp?: number;
}

export interface Measurement {
  readonly name: string;
  readonly nsPerOp: number;
  readonly nsPerItem: number;
  readonly rounds: number;
  readonly opsPerRound: number;
}

let sink: unknown;

/** Picks an op count so one round takes about `roundMs`. */
function calibrate(c: Contender, roundMs: number): number {
  let n = 1;
  for (;;) {
    const t0 = process.hrtime.bigint();
    sink = c.run(n);
    const ms = Number(process.hrtime.bigint() - t0) / 1e6;
    if (ms >= roundMs / 4 || n >= 1 << 30) return Math.max(1, Math.round((n * roundMs) / Math.max(ms, 1e-3)));
    n *= 4;
  }
}

export function compare(contenders: readonly Contender[], opts: { rounds?: number; roundMs?: number } = {}): Measurement[] {
  const rounds = opts.rounds ?? 15;
  const roundMs = opts.roundMs ?? 40;
  const counts = contenders.map((c) => calibrate(c, roundMs));
  const samples: number[][] = contenders.map(() => []);
  for (let r = 0; r < rounds; r++) {
    for (let i = 0; i < contenders.length; i++) {
      const n = counts[i]!;
      const t0 = process.hrtime.bigint();
      sink = contenders[i]!.run(n);
      samples[i]!.push(Number(process.hrtime.bigint() - t0) / n);
    }
  }
  void sink;
  return contenders.map((c, i) => {
    const nsPerOp = median(samples[i]!);
    return { name: c.name, nsPerOp, nsPerItem: nsPerOp / (c.itemsPerOp ?? 1), rounds, opsPerRound: counts[i]! };
  });
}

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

export function formatNs(ns: number): string {
  if (ns < 10) return `${ns.toFixed(2)} ns`;
  if (ns < 1000) return `${ns.toFixed(1)} ns`;
  if (ns < 1e6) return `${(ns / 1000).toFixed(2)} µs`;
  return `${(ns / 1e6).toFixed(2)} ms`;
}

export function printTable(title: string, header: readonly string[], rows: ReadonlyArray<readonly string[]>): void {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]): string =>
    '| ' + cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join(' | ') + ' |';
  process.stdout.write(`\n${title}\n`);
  process.stdout.write(line(header) + '\n');
  process.stdout.write('|' + widths.map((w, i) => (i === 0 ? '-'.repeat(w + 2) : '-'.repeat(w + 1) + ':')).join('|') + '|\n');
  for (const r of rows) process.stdout.write(line(r) + '\n');
}
