/**
 * What every benchmark child process shares with the parent: its input (one JSON argument) and its
 * output (one line `@@bench {json}` on stdout). Children import nothing from bench/lib.
 */
export const RESULT_PREFIX = '@@bench ';

/** The JSON payload the parent passed as the first argument. */
export function input<T>(): T {
  const raw = process.argv[2];
  if (raw === undefined) throw new Error('missing JSON payload argument');
  return JSON.parse(raw) as T;
}

export function emit(result: object): void {
  process.stdout.write(`${RESULT_PREFIX}${JSON.stringify(result)}\n`);
}

/** Milliseconds since this process started (performance.timeOrigin). */
export function sinceStart(): number {
  return performance.now();
}

/** Peak resident set size of this process so far, in KiB. */
export function peakRssKiB(): number {
  return process.resourceUsage().maxRSS;
}

/** Runs `fn` when `mod` is the entry module (never when a child is merely imported, e.g. for its types). */
export function main(mod: NodeModule, fn: () => Promise<void>): void {
  if (require.main !== mod) return;
  fn().catch((err: unknown) => {
    console.error(err instanceof Error ? (err.stack ?? err.message) : String(err));
    process.exitCode = 1;
  });
}
