/**
 * How much of the machine other processes used while a scenario ran: the busy CPU time of the whole
 * machine (/proc/stat) minus this process tree's own (utime+stime of the parent plus cutime+cstime of
 * its waited-for children, /proc/self/stat). On a shared machine this says whether the numbers can be
 * trusted. Database servers count as "other": in the race on PostgreSQL/MariaDB part of it is ours.
 * Linux only; elsewhere it falls back to the load average.
 */
import fs from 'fs';
import os from 'os';

export interface Sample {
  readonly machineBusy: number;
  readonly machineTotal: number;
  readonly ours: number;
  /** CPU of PostgreSQL and MariaDB/MySQL server processes (serving our race children, or others). */
  readonly dbServers: number;
}

const DB_SERVERS = new Set(['postgres', 'mariadbd', 'mysqld']);

/** utime+stime of every database server process (ticks). */
function dbServerTicks(): number {
  let ticks = 0;
  for (const pid of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
      const comm = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      if (!DB_SERVERS.has(comm)) continue;
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ').map(Number);
      ticks += fields[11] + fields[12];
    } catch {
      // the process ended meanwhile
    }
  }
  return ticks;
}

export function cpuSample(): Sample | undefined {
  try {
    const cpu = fs.readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
    // user nice system idle iowait irq softirq steal …: idle and iowait are not busy
    const total = cpu.slice(0, 8).reduce((a, b) => a + b, 0);
    const busy = total - cpu[3] - cpu[4];
    const stat = fs.readFileSync('/proc/self/stat', 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ').map(Number);
    // after "pid (comm) ": state is fields[0], so utime stime cutime cstime are fields[11..14]
    const ours = fields[11] + fields[12] + fields[13] + fields[14];
    return { machineBusy: busy, machineTotal: total, ours, dbServers: dbServerTicks() };
  } catch {
    return undefined;
  }
}

export interface CpuUse {
  /** Ticks used by processes outside this benchmark's tree, database servers excluded. */
  others: number;
  /** Ticks used by database server processes. */
  dbServers: number;
  total: number;
}

/** CPU ticks (all processors) that other processes used between two samples, and the total. */
export function othersBetween(a: Sample | undefined, b: Sample | undefined): CpuUse | undefined {
  if (!a || !b) return undefined;
  const dbServers = b.dbServers - a.dbServers;
  return {
    others: Math.max(0, b.machineBusy - a.machineBusy - (b.ours - a.ours) - dbServers),
    dbServers,
    total: b.machineTotal - a.machineTotal,
  };
}

/**
 * The note under a table: how busy other processes kept the machine while its rounds ran. Database
 * servers are reported apart: in the race they serve our own children.
 */
export function interferenceNote(acc: CpuUse): { share: number | null; text: string } {
  if (acc.total <= 0) return { share: null, text: `other processes' CPU use unknown (no /proc/stat); load average ${os.loadavg()[0].toFixed(2)}` };
  const share = acc.others / acc.total;
  return {
    share,
    text:
      `other processes used ${(share * 100).toFixed(1)}% of the machine's CPU while the runs of this scenario were measured` +
      ` (database servers, not included: ${((acc.dbServers / acc.total) * 100).toFixed(1)}%)` +
      (share > 0.1 ? ' — WARNING: the machine was busy with other work, numbers may be inflated' : ''),
  };
}

/** Share of the machine's CPU that other processes used over the next `windowMs` (null where unknown). */
async function othersShare(windowMs: number): Promise<number | null> {
  const a = cpuSample();
  await new Promise((resolve) => setTimeout(resolve, windowMs));
  const b = cpuSample();
  if (!a || !b) return null;
  const total = b.machineTotal - a.machineTotal;
  return total > 0 ? Math.max(0, b.machineBusy - a.machineBusy - (b.ours - a.ours)) / total : 0;
}

/**
 * Waits until other processes use less than `threshold` of the CPU over a 2 s window, at most
 * `maxMs`; returns how long it waited (ms) and whether it found the machine quiet.
 */
export async function waitForQuiet(maxMs: number, threshold = 0.05): Promise<{ waitedMs: number; quiet: boolean }> {
  const started = performance.now();
  for (;;) {
    const share = await othersShare(2000);
    if (share === null || share < threshold) return { waitedMs: performance.now() - started - 2000, quiet: true };
    if (performance.now() - started >= maxMs) return { waitedMs: performance.now() - started, quiet: false };
  }
}
