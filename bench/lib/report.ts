/**
 * The result model every scenario fills in, its table rendering, and the JSON written by --json.
 * One table per scenario (and per size): one row per contender, with median, min–max, the ratio of
 * its median to each floor and peer named in `ratioTo`, extra columns, and a target verdict.
 */
import { fmtMs, fmtRatio, summarize, type Summary } from './stats';

export type Role = 'ours' | 'peer' | 'floor' | 'baseline' | 'info';

export interface Row {
  readonly id: string;
  readonly label: string;
  readonly role: Role;
  /** Measured values (after the warm-up), in `unit`. */
  readonly samples: number[];
  /** Extra columns, already formatted for the table (the JSON keeps them as given). */
  readonly extras: Record<string, string | number>;
  /** Raw per-run details for the JSON file. */
  readonly details?: unknown[];
}

export interface Target {
  readonly rowId: string;
  readonly text: string;
  /** true/false, or null when it could not be evaluated. */
  readonly met: boolean | null;
  readonly detail: string;
}

export interface Table {
  readonly scenario: string;
  readonly title: string;
  readonly unit: 'ms';
  readonly params: Record<string, unknown>;
  readonly rows: Row[];
  /** Row ids whose medians become "×id" ratio columns. */
  readonly ratioTo: string[];
  readonly targets: Target[];
  readonly notes: string[];
}

export function newRow(id: string, label: string, role: Role): Row {
  return { id, label, role, samples: [], extras: {}, details: [] };
}

export function stat(row: Row): Summary {
  return summarize(row.samples);
}

export function rowById(table: Table, id: string): Row {
  const row = table.rows.find((r) => r.id === id);
  if (!row) throw new Error(`${table.scenario}: no row ${id}`);
  return row;
}

/** median(a) / median(b). */
export function ratio(table: Table, a: string, b: string): number {
  return stat(rowById(table, a)).median / stat(rowById(table, b)).median;
}

function pad(text: string, width: number, right: boolean): string {
  const len = [...text].length;
  return right ? ' '.repeat(Math.max(0, width - len)) + text : text + ' '.repeat(Math.max(0, width - len));
}

/** The table as fixed-width text (also used, fenced, in bench/README.md). */
export function renderTable(table: Table): string {
  const extraKeys = [...new Set(table.rows.flatMap((r) => Object.keys(r.extras)))];
  const header = ['contender', 'median', 'min–max', ...table.ratioTo.map((id) => `×${shortName(table, id)}`), ...extraKeys, 'target', 'met?'];
  const numeric = new Set([1, 2, ...table.ratioTo.map((_, i) => 3 + i)]);
  const lines: string[][] = table.rows.map((row) => {
    const s = stat(row);
    const target = table.targets.filter((t) => t.rowId === row.id);
    return [
      row.label,
      fmtMs(s.median),
      s.n > 0 ? `${fmtMs(s.min)}–${fmtMs(s.max)}` : '—',
      ...table.ratioTo.map((id) => (id === row.id ? '1' : fmtRatio(s.median / stat(rowById(table, id)).median))),
      ...extraKeys.map((k) => String(row.extras[k] ?? '')),
      target.map((t) => t.text).join('; '),
      target.length === 0 ? '' : target.every((t) => t.met === true) ? 'yes' : target.some((t) => t.met === false) ? 'NO' : '?',
    ];
  });
  const widths = header.map((h, i) => Math.max([...h].length, ...lines.map((l) => [...l[i]].length)));
  const fmt = (cells: string[]) => cells.map((c, i) => pad(c, widths[i], numeric.has(i))).join('  ').trimEnd();
  const out = [`${table.title}`, fmt(header), widths.map((w) => '-'.repeat(w)).join('  ')];
  out.push(...lines.map(fmt));
  for (const t of table.targets) {
    out.push(`  target ${t.met === true ? 'met' : t.met === false ? 'NOT met' : 'not evaluated'}: ${rowById(table, t.rowId).label}: ${t.text} — ${t.detail}`);
  }
  for (const note of table.notes) out.push(`  note: ${note}`);
  return out.join('\n');
}

function shortName(table: Table, id: string): string {
  return rowById(table, id).id;
}

/** The JSON form of a table: the same numbers, plus raw samples and per-run details. */
export function tableJson(table: Table): unknown {
  return {
    scenario: table.scenario,
    title: table.title,
    unit: table.unit,
    params: table.params,
    rows: table.rows.map((row) => {
      const s = stat(row);
      return {
        id: row.id,
        label: row.label,
        role: row.role,
        median: s.median,
        min: s.min,
        max: s.max,
        runs: s.n,
        samples: row.samples,
        ratios: Object.fromEntries(table.ratioTo.map((id) => [id, s.median / stat(rowById(table, id)).median])),
        extras: row.extras,
        details: row.details,
      };
    }),
    targets: table.targets,
    notes: table.notes,
  };
}
