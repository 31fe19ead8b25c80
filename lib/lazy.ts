/**
 * Public functions whose modules load on first call, so that an app start with nothing to migrate
 * loads neither the schema snapshots nor the SQLite rebuild. Same signatures as the originals.
 */
/* eslint-disable @typescript-eslint/no-require-imports -- loading on demand is this module's one job */
type RebuildModule = typeof import('./sqlite/rebuild');
type SnapshotModule = typeof import('./snapshot/snapshot');
type AdditiveModule = typeof import('./snapshot/additive');

const rebuild = (): RebuildModule => require('./sqlite/rebuild') as RebuildModule;
const snapshot = (): SnapshotModule => require('./snapshot/snapshot') as SnapshotModule;
const additive = (): AdditiveModule => require('./snapshot/additive') as AdditiveModule;

export const rebuildTable: RebuildModule['rebuildTable'] = (...args) => rebuild().rebuildTable(...args);
export const schemaSnapshot: SnapshotModule['schemaSnapshot'] = (...args) => snapshot().schemaSnapshot(...args);
export const diffSnapshots: SnapshotModule['diffSnapshots'] = (...args) => snapshot().diffSnapshots(...args);
export const formatDiff: SnapshotModule['formatDiff'] = (...args) => snapshot().formatDiff(...args);
export const readExpectedSnapshot: SnapshotModule['readExpectedSnapshot'] = (...args) => snapshot().readExpectedSnapshot(...args);
export const writeExpectedSnapshot: SnapshotModule['writeExpectedSnapshot'] = (...args) => snapshot().writeExpectedSnapshot(...args);
export const validateSchema: SnapshotModule['validateSchema'] = (...args) => snapshot().validateSchema(...args);
export const isWidening: AdditiveModule['isWidening'] = (...args) => additive().isWidening(...args);
