/**
 * The sample app's migration command: `npx ts-node scripts/migrate.ts [command] [options]`.
 * A thin wrapper over the package's CLI (`knex-semver-migrate` in your project), pointed at this
 * app's knexfile.ts, whose `migrations.directory` is migrations/. `--help` lists the commands.
 */
import path from 'path';
import { runCli } from '../lib/cli/main';

const knexfile = path.join(__dirname, '..', 'knexfile.ts');

runCli(['--knexfile', knexfile, ...process.argv.slice(2)], { program: 'npx ts-node scripts/migrate.ts' }).then(
  (code) => {
    process.exitCode = code;
  },
  (e: unknown) => {
    console.error(e);
    process.exitCode = 1;
  },
);
