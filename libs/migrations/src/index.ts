// Prisma's schema engine (WebAssembly, offline) on the pg driver adapter: applying
// prisma/migrations and diffing them against the schema. No Nest here: the db tools run it from
// source, and the embedded database applies the migrations at start.
export {
  applyMigrations,
  lockfileContent,
  type MigrationSources,
  noFilter,
  prismaSources,
  readMigrations,
  readSchema,
  withEngine,
} from './migrations.js';
export { checkMigrationTarget, MIGRATION_LOCK_KEY, type MigrationTargetOptions } from './migration-target.js';
export {
  parsePartitioningMode,
  partitionOutbox,
  PARTITIONING_MODES,
  type PartitioningMode,
  type PartitioningOutcome,
} from './partitioning.js';
