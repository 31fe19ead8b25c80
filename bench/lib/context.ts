/** What every scenario receives from bench/run.ts, and the warm-up/repeat loop they share. */
import fs from 'fs';
import os from 'os';
import path from 'path';
import type { Children } from './child';
import { cpuSample, othersBetween, waitForQuiet, type CpuUse } from './interference';

export interface BenchContext {
  readonly quick: boolean;
  /** Measured runs per contender (after one warm-up run). */
  readonly runs: number;
  /** Scratch directory for this benchmark run (removed at the end). */
  readonly workDir: string;
  /** Children started as plain node on the transpiled tree. */
  readonly compiled: Children;
  /** Children started through ts-node/register/transpile-only. */
  readonly tsNode: Children;
  /** Engines the race (sqlite, postgres, mysql) and apply-server (postgres, mysql) scenarios may use: --dialects. */
  readonly dialects: readonly string[];
  /** --wait-quiet: before each round, wait (at most this long, ms) for other processes to go idle. */
  readonly waitQuietMs: number;
  /** What the waits added up to, per scenario label (for the notes). */
  readonly waits: Map<string, { waitedMs: number; notQuiet: number }>;
  /** CPU ticks other processes used during measured rounds (warm-ups included), and the total. */
  readonly cpu: CpuUse;
  progress(message: string): void;
}

/** A fresh directory under the run's scratch directory. */
export function scratch(ctx: BenchContext, prefix: string): string {
  return fs.mkdtempSync(path.join(ctx.workDir, `${prefix}-`));
}

export function newWorkDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'ksm-bench-'));
}

/**
 * Runs one warm-up round and then `ctx.runs` measured rounds. Each round runs every contender once;
 * the order rotates from round to round so that no contender always goes first (or right after the
 * same neighbour). `measure` returns the value to record; warm-up values are dropped.
 */
export async function rounds<C>(
  ctx: BenchContext,
  label: string,
  contenders: readonly C[],
  measure: (contender: C, round: number, warmUp: boolean) => Promise<void>,
): Promise<void> {
  for (let round = 0; round <= ctx.runs; round++) {
    const warmUp = round === 0;
    if (ctx.waitQuietMs > 0) {
      const { waitedMs, quiet } = await waitForQuiet(ctx.waitQuietMs);
      const w = ctx.waits.get(label) ?? { waitedMs: 0, notQuiet: 0 };
      ctx.waits.set(label, { waitedMs: w.waitedMs + waitedMs, notQuiet: w.notQuiet + (quiet ? 0 : 1) });
      if (waitedMs > 1000) ctx.progress(`${label}: waited ${(waitedMs / 1000).toFixed(0)} s for other processes to go idle${quiet ? '' : ' (gave up)'}`);
    }
    ctx.progress(`${label}: ${warmUp ? 'warm-up' : `run ${round}/${ctx.runs}`}`);
    const before = cpuSample();
    for (let k = 0; k < contenders.length; k++) {
      await measure(contenders[(k + round) % contenders.length], round, warmUp);
    }
    const used = othersBetween(before, cpuSample());
    if (used) {
      ctx.cpu.others += used.others;
      ctx.cpu.dbServers += used.dbServers;
      ctx.cpu.total += used.total;
    }
  }
}
