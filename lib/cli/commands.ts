/**
 * The CLI's commands: each a summary for the usage, its one positional argument, and a `run` that calls
 * one verb of the Migrator and turns its report into output (lines and a JSON document).
 */
import path from 'path';
import type { Knex } from 'knex';
import type { Migrator } from '../migrator';
import type { Invocation } from './args';
import { reportOutput, type Output } from './output';
import type { Project } from './project';

export interface Context {
  readonly migrator: Migrator;
  readonly db: Knex;
  readonly project: Project;
  readonly inv: Invocation;
}

export interface Command {
  readonly summary: string;
  /** Name of the one positional argument after the command, if it takes one. */
  readonly argument?: string;
  /** True for commands that never touch the database (make): no connection is opened. */
  readonly offline?: boolean;
  run(ctx: Context): Promise<Output>;
}

/** A path as the user would type it: relative inside the project, absolute outside. */
const show = (file: string) => {
  const relative = path.relative(process.cwd(), file);
  return relative === '' ? '.' : relative.startsWith('..') ? file : relative;
};

export const COMMANDS: Record<string, Command> = {
  latest: {
    summary: 'apply every pending migration (the default); --dry-run prints the SQL and changes nothing',
    run: async ({ migrator, inv }) => reportOutput(await migrator.latest({ dryRun: inv.dryRun })),
  },
  down: {
    summary: 'roll back to --to VERSION: run down of each newer migration, newest first',
    run: async ({ migrator, inv }) => reportOutput(await migrator.rollback(inv.to as string, { dryRun: inv.dryRun })),
  },
  to: {
    summary: 'migrate up or down to VERSION',
    argument: 'VERSION',
    run: async ({ migrator, inv }) => reportOutput(await migrator.to(inv.argument as string, { dryRun: inv.dryRun })),
  },
  status: {
    summary: "show the database's version, the code's version and each migration (read-only)",
    async run({ migrator }) {
      const status = await migrator.status();
      const pending = status.migrations.filter((m) => m.state === 'pending').length;
      return {
        json: status,
        text: [
          `current version  ${status.current}`,
          `target version   ${status.target}`,
          ...status.migrations.map((m) => `  ${m.state.padEnd(7)}  ${m.version}  ${m.description}`),
          ...status.unknown.map((v) => `  unknown  ${v}  (applied, no longer in the code)`),
          ...(status.dirty ? [`dirty: ${status.dirty.version} (${status.dirty.description}) failed at ${status.dirty.failedAt}; run \`repair\` once fixed`] : []),
          pending > 0 ? `${pending} pending: run \`latest\` to apply` : 'nothing pending',
        ],
      };
    },
  },
  validate: {
    summary: 'compare history and schema with the code and the expected snapshot (read-only); exit 1 on problems',
    async run({ migrator, project }) {
      const report = await migrator.validate();
      const drift = report.schema?.differences ?? [];
      const { formatDiff } = await import('../snapshot/snapshot');
      return {
        json: { ok: report.ok, version: report.version, problems: report.problems, drift, snapshot: report.schema?.path ?? null },
        text: [
          ...report.problems.map((p) => `${p.kind.padEnd(11)}  ${p.message}`),
          ...(drift.length > 0 ? [`schema differs from ${show(report.schema?.path as string)}:`, ...formatDiff(drift).split('\n').map((l) => `  ${l}`)] : []),
          ...(report.schema ? [] : [`no expected snapshot in ${show(project.snapshotsDir)}: schema not compared (write one with \`snapshot\`)`]),
          report.ok ? `ok: database at ${report.version} matches the code${report.schema ? ' and its snapshot' : ''}` : 'validation failed',
        ],
        exitCode: report.ok ? 0 : 1,
      };
    },
  },
  snapshot: {
    summary: "migrate, then write the schema to <snapshots-dir>/<engine>.json (commit it)",
    async run({ migrator }) {
      const { report, path: file, snapshot } = await migrator.snapshot();
      return {
        json: { version: report.to, path: file, tables: snapshot.tables.length },
        text: [...reportOutput(report).text, `wrote ${show(file)} (${snapshot.tables.length} tables)`],
      };
    },
  },
  lint: {
    summary: 'check pending minor/patch migrations are additive (run and rolled back); exit 1 on violations',
    async run({ migrator }) {
      const report = await migrator.lint();
      return {
        json: report,
        text: [
          ...report.checked.map((c) => `checked  ${c.version}${c.major ? '  (major: may break compatibility)' : ''}`),
          ...report.violations.map((v) => `violation  ${v.version} (${v.description}): ${v.rule}: ${v.change}`),
          report.ok ? `ok: ${report.checked.length} pending migration(s) are additive where they must be` : 'lint failed',
        ],
        exitCode: report.ok ? 0 : 1,
      };
    },
  },
  repair: {
    summary: 'clear the dirty marker after fixing a failed migration by hand (--to VERSION: also set db_version)',
    async run({ migrator, inv }) {
      const report = await migrator.repair({ to: inv.to });
      return {
        json: report,
        text: [
          report.cleared
            ? `cleared the dirty marker of ${report.cleared.version} (${report.cleared.description}, failed at ${report.cleared.failedAt})`
            : 'the database was not marked dirty',
          report.to === report.from ? `db_version stays at ${report.to}` : `db_version set from ${report.from} to ${report.to}`,
        ],
      };
    },
  },
  'adopt-knex': {
    summary: "switch from knex's migrator: record knex_migrations' files as applied (left untouched), set db_version",
    async run({ migrator, inv }) {
      const report = await migrator.adoptKnex({ dryRun: inv.dryRun });
      const n = report.adopted.length;
      return {
        json: report,
        text: [
          ...report.adopted.map((a) => `${report.dryRun ? 'would adopt' : 'adopted'} ${a.version}  ${a.name}`),
          n === 0
            ? `nothing to adopt: the database is at ${report.from} (already versioned, or knex ran no migration here)`
            : report.dryRun
              ? `dry run: would adopt ${n} file(s) from knex_migrations and set db_version to ${report.to}; nothing was changed`
              : `adopted ${n} file(s) from knex_migrations (left as it was); database is at ${report.to}`,
        ],
      };
    },
  },
  seed: {
    summary: "migrate to latest, then run the environment's seed files (each exports seed(knex))",
    async run({ migrator, db, project }) {
      const migrated = reportOutput(await migrator.latest());
      const { runSeeds } = await import('./seed');
      const seeded = (await runSeeds(db, project.seedsDir)).map(show);
      return {
        json: { migration: migrated.json, seeded },
        text: [...migrated.text, ...seeded.map((f) => `seeded ${f}`), ...(seeded.length === 0 ? [`no seed files in ${show(project.seedsDir)}`] : [])],
      };
    },
  },
  make: {
    summary: 'write <migrations-dir>/v<version>_<slug>.ts|.js described by TEXT (default: next minor)',
    argument: 'TEXT',
    offline: true,
    async run({ project, inv }) {
      const { makeMigration } = await import('./make');
      const made = await makeMigration({
        description: inv.argument as string,
        bump: inv.bump,
        version: inv.version,
        force: inv.force,
        migrationsDir: project.migrationsDir,
      });
      return { json: made, text: [`created ${show(made.file)} (${made.version})`] };
    },
  },
};
