/**
 * Runs crash-child.ts and SIGKILLs it according to a plan, a small worker pool, and the kill
 * statistics the crash tests print.
 */
import { spawn } from 'child_process';
import { REPO_ROOT } from './processes';

export const SLOW = process.env.KSM_SLOW === '1';

/** When to kill the child. */
export type KillPlan =
  /** `delayMs` after spawning (possibly before it has even loaded). */
  | { readonly kind: 'afterSpawn'; readonly delayMs: number }
  /** `delayMs` after it printed START (it is migrating). */
  | { readonly kind: 'afterStart'; readonly delayMs: number }
  /** The child freezes right after printing a line starting with `marker` (CRASH_PAUSE_AT); killed when the parent sees it. */
  | { readonly kind: 'atMarker'; readonly marker: string }
  /** `delayMs` after the parent sees a line starting with `marker` (the child runs on). */
  | { readonly kind: 'afterMarker'; readonly marker: string; readonly delayMs: number }
  /** Never: let it finish (calibration). */
  | { readonly kind: 'none' };

export interface CrashRun {
  readonly plan: KillPlan;
  /** True when our SIGKILL ended it (false: it finished, or died, first). */
  readonly killed: boolean;
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  /** Every marker line it printed, in order (complete: written synchronously before it died). */
  readonly markers: string[];
  /** When the parent received each marker, in ms after START (negative before it). */
  readonly markerMs: number[];
  readonly stderr: string;
  /** ms from spawn to START, and from START to the end (kill or exit); undefined when not reached. */
  readonly loadMs?: number;
  readonly runMs?: number;
}

/** The last marker printed: where the kill landed ("(loading)" when it never got to START). */
export function landedAt(run: CrashRun): string {
  return run.markers.at(-1) ?? '(loading)';
}

export function describePlan(plan: KillPlan): string {
  switch (plan.kind) {
    case 'afterSpawn':
      return `${Math.round(plan.delayMs)} ms after spawn`;
    case 'afterStart':
      return `${Math.round(plan.delayMs)} ms after START`;
    case 'atMarker':
      return `frozen at "${plan.marker}"`;
    case 'afterMarker':
      return `${Math.round(plan.delayMs)} ms after "${plan.marker}"`;
    case 'none':
      return 'not killed';
  }
}

/** Spawns test/helpers/crash-child.ts with `env` and kills it as planned. Never rejects on the child's own failure. */
export function runCrashChild(env: NodeJS.ProcessEnv, plan: KillPlan, limitMs = 120_000): Promise<CrashRun> {
  return new Promise((resolve, reject) => {
    const spawnedAt = performance.now();
    let startedAt: number | undefined;
    const child = spawn(process.execPath, ['-r', 'ts-node/register/transpile-only', 'test/helpers/crash-child.ts'], {
      cwd: REPO_ROOT,
      env: { ...process.env, ...env, ...(plan.kind === 'atMarker' ? { CRASH_PAUSE_AT: plan.marker } : {}) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let killed = false;
    const timers: NodeJS.Timeout[] = [];
    const kill = () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      killed = child.kill('SIGKILL');
    };
    const markers: string[] = [];
    const receivedAt: number[] = [];
    let partial = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => {
      const lines = (partial + chunk.toString()).split('\n');
      partial = lines.pop() ?? '';
      for (const line of lines) {
        markers.push(line);
        receivedAt.push(performance.now());
        if (line === 'START') {
          startedAt = performance.now();
          if (plan.kind === 'afterStart') timers.push(setTimeout(kill, plan.delayMs));
        }
        if (plan.kind === 'atMarker' && line.startsWith(plan.marker)) kill();
        if (plan.kind === 'afterMarker' && line.startsWith(plan.marker)) timers.push(setTimeout(kill, plan.delayMs));
      }
    });
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    if (plan.kind === 'afterSpawn') timers.push(setTimeout(kill, plan.delayMs));
    // A safety net, not an assertion: a child that hangs is killed and reported as such.
    timers.push(
      setTimeout(() => {
        stderr += `\ncrash-harness: child still running after ${limitMs} ms, killed`;
        child.kill('SIGKILL');
      }, limitMs),
    );
    child.on('error', reject);
    child.on('close', (code, signal) => {
      for (const t of timers) clearTimeout(t);
      const endedAt = performance.now();
      if (partial) {
        markers.push(partial);
        receivedAt.push(endedAt);
      }
      resolve({
        plan,
        killed: killed && signal === 'SIGKILL',
        code,
        signal,
        markers,
        markerMs: receivedAt.map((t) => t - (startedAt ?? spawnedAt)),
        stderr,
        loadMs: startedAt === undefined ? undefined : startedAt - spawnedAt,
        runMs: startedAt === undefined ? undefined : endedAt - startedAt,
      });
    });
  });
}

/** Runs `work` over `items`, `concurrency` at a time; results in item order. Rejects with the first failure after all settle. */
export async function inPool<T, R>(items: readonly T[], concurrency: number, work: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length);
  const failures: unknown[] = [];
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const index = next++;
      try {
        results[index] = await work(items[index], index);
      } catch (err) {
        failures.push(err);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, worker));
  if (failures.length > 0) throw failures[0];
  return results;
}

/** Evenly spread delays over [0, spanMs), each jittered inside its slot: every part of the span is hit. */
export function spreadDelays(count: number, spanMs: number, random: () => number = Math.random): number[] {
  return Array.from({ length: count }, (_, i) => ((i + random()) / count) * spanMs);
}

export interface KillRecord {
  readonly plan: KillPlan;
  readonly landedAt: string;
  readonly before: string;
  readonly after: string;
  readonly killed: boolean;
}

/** The table the crash tests print: where kills landed and the version before → after each. */
export function formatKillStats(title: string, records: readonly KillRecord[], order: readonly string[] = []): string {
  const kills = records.filter((r) => r.killed);
  const byPlace = new Map<string, KillRecord[]>();
  for (const r of kills) byPlace.set(r.landedAt, [...(byPlace.get(r.landedAt) ?? []), r]);
  const rank = (place: string) => {
    const i = order.indexOf(place);
    return i === -1 ? order.length : i;
  };
  const places = [...byPlace.keys()].sort((a, b) => rank(a) - rank(b) || a.localeCompare(b));
  const transitions = new Map<string, number>();
  for (const r of kills) transitions.set(`${r.before} → ${r.after}`, (transitions.get(`${r.before} → ${r.after}`) ?? 0) + 1);
  const width = Math.max(24, ...places.map((p) => p.length));
  const lines = [
    `${title}: ${kills.length} kills (${records.length - kills.length} run(s) finished before their kill)`,
    `  ${'last marker before the kill'.padEnd(width)}  kills  db_version after`,
    ...places.map((p) => {
      const group = byPlace.get(p) ?? [];
      const versions = new Map<string, number>();
      for (const r of group) versions.set(r.after, (versions.get(r.after) ?? 0) + 1);
      return `  ${p.padEnd(width)}  ${String(group.length).padStart(5)}  ${[...versions].map(([v, n]) => `${v} ×${n}`).join(', ')}`;
    }),
    `  version before → after: ${[...transitions].map(([t, n]) => `${t} ×${n}`).join(', ')}`,
  ];
  return lines.join('\n');
}
