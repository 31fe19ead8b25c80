/**
 * SQLite with foreign keys ON (as every connection of createKnex / initializeDatabase has them): knex's
 * migrator runs the second half of the fixture history inside its transactions, where
 * `PRAGMA foreign_keys = OFF` is a no-op, so its `alterTable` rebuilds of `authors` and `books`
 * cascade-delete their children; this module's runner suspends enforcement before its transaction
 * and keeps every row. Measured on both SQLite drivers.
 */
import { expect } from 'chai';
import { runMigrations } from '../../lib/functions';
import { silentLogger } from '../../lib/logger';
import { DIALECTS, describeDialect } from '../helpers/dialects';
import { KNEX_HISTORY, counts, knexFirst, knexLatest, seedFirstHalf, tableContents } from '../helpers/knex-history';

const WATCHED = ['authors', 'books', 'book_tags', 'reviews'];

for (const dialect of DIALECTS.filter((d) => d.engine === 'sqlite')) {
  describeDialect(dialect, 'knex migrate vs this module on SQLite rebuilds with foreign keys ON', ({ database }) => {
    it('knex’s migrator loses child rows in the second half; this module keeps every one', async () => {
      const ours = database();
      const theirs = await dialect.create();
      try {
        for (const { db } of [ours, theirs]) {
          expect(((await db.raw('PRAGMA foreign_keys')) as { foreign_keys: number }[])[0].foreign_keys).to.equal(1);
          await knexFirst(db);
          await seedFirstHalf(db);
        }
        const before = await counts(ours.db, WATCHED);
        const beforeRows = await tableContents(ours.db);

        await knexLatest(theirs.db, KNEX_HISTORY);
        const knexAfter = await counts(theirs.db, WATCHED);
        await runMigrations(ours.db, KNEX_HISTORY, { logger: silentLogger });
        const oursAfter = await counts(ours.db, WATCHED);

        console.log(`      [${dialect.name}] before ${JSON.stringify(before)}; knex migrate ${JSON.stringify(knexAfter)}; knex-semver-migrate ${JSON.stringify(oursAfter)}`);
        expect(oursAfter).to.deep.equal(before);
        expect(knexAfter.authors).to.equal(before.authors);
        expect(knexAfter.books + knexAfter.book_tags + knexAfter.reviews).to.be.below(before.books + before.book_tags + before.reviews);
        // Ours kept the rows themselves, not just their number: every review and tag link as it was.
        const after = await tableContents(ours.db);
        expect(after.reviews).to.deep.equal(beforeRows.reviews);
        expect(after.book_tags).to.deep.equal(beforeRows.book_tags);
      } finally {
        await theirs.cleanup();
      }
    });
  });
}
