import { createHash } from 'node:crypto';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { type Database, openDatabase, type SqlConnection } from '../../src/db/client.ts';
import { applyMigrations, MIGRATIONS_DIR, MigrationError, migrateDatabase } from '../../src/db/migrate.ts';
import { createTestDatabase } from '../helpers/pg.ts';

const INIT = '20261126000000_init';
const INIT_SQL = join(fileURLToPath(MIGRATIONS_DIR), INIT, 'migration.sql');
const sha256 = (file: string) => createHash('sha256').update(readFileSync(file)).digest('hex');
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

interface MigrationRow {
  id: string;
  checksum: string;
  migration_name: string;
  finished_at: Date | null;
  logs: string | null;
  applied_steps_count: number;
  rolled_back_at: Date | null;
}

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function pgDatabase(): Promise<Database> {
  const testDb = await createTestDatabase();
  const db = await openDatabase({ kind: 'postgres', url: testDb.url });
  cleanups.push(() => testDb[Symbol.asyncDispose]());
  cleanups.push(() => db.close());
  return db;
}

async function connect(db: Database): Promise<SqlConnection> {
  const conn = await db.connect();
  cleanups.push(() => conn.close());
  return conn;
}

/** A temp migrations folder holding a copy of init plus the given extra migrations. */
function tempMigrations(extra: Record<string, string> = {}): string {
  const dir = mkdtempSync(join(tmpdir(), 'haul-migrations-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  cpSync(join(fileURLToPath(MIGRATIONS_DIR), INIT), join(dir, INIT), { recursive: true });
  writeFileSync(join(dir, 'migration_lock.toml'), 'provider = "postgresql"\n');
  for (const [name, sql] of Object.entries(extra)) {
    mkdirSync(join(dir, name));
    writeFileSync(join(dir, name, 'migration.sql'), sql);
  }
  return dir;
}

const rowsOf = (conn: SqlConnection) =>
  conn.query<MigrationRow>('SELECT * FROM _prisma_migrations ORDER BY started_at, migration_name');

const tablesOf = async (conn: SqlConnection) =>
  (
    await conn.query<{ table_name: string }>(
      "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' ORDER BY table_name",
    )
  ).map((r) => r.table_name);

async function expectInitApplied(conn: SqlConnection) {
  const tables = await tablesOf(conn);
  expect(tables).toEqual(expect.arrayContaining(['File', 'FileChunk', 'DownloadSession', '_prisma_migrations']));
  const rows = await rowsOf(conn);
  expect(rows).toHaveLength(1);
  const row = rows[0] as MigrationRow;
  expect(row.migration_name).toBe(INIT);
  expect(row.checksum).toBe(sha256(INIT_SQL));
  expect(row.finished_at).not.toBeNull();
  expect(row.rolled_back_at).toBeNull();
  expect(row.applied_steps_count).toBe(1);
  expect(row.logs).toBeNull();
  expect(row.id).toMatch(UUID);
}

describe('applyMigrations on PostgreSQL', () => {
  it('applies the init migration and records it exactly as Prisma does; a second run applies nothing', async () => {
    const db = await pgDatabase();
    const conn = await connect(db);
    const logs: string[] = [];
    expect(await applyMigrations(conn, { log: (m) => logs.push(m) })).toEqual({
      applied: [INIT],
      alreadyApplied: [],
      missing: [],
    });
    expect(logs.some((l) => l.includes(INIT))).toBe(true);
    await expectInitApplied(conn);

    expect(await applyMigrations(conn)).toEqual({ applied: [], alreadyApplied: [INIT], missing: [] });
    expect(await rowsOf(conn)).toHaveLength(1);
    // The advisory lock is released after the run.
    const held = await conn.query("SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND objid = 72707369");
    expect(held).toHaveLength(0);
  });

  it('applies several migrations in lexical order', async () => {
    const dir = tempMigrations({
      // Written out of order on purpose: b depends on a, which depends on init.
      '20990102000000_b': 'ALTER TABLE "Extra" ADD COLUMN "note" TEXT NOT NULL DEFAULT \'x\';\n',
      '20990101000000_a': 'CREATE TABLE "Extra" ("id" INTEGER PRIMARY KEY, "fileId" UUID REFERENCES "File"("id"));\n',
    });
    const conn = await connect(await pgDatabase());
    const res = await applyMigrations(conn, { dir });
    expect(res.applied).toEqual([INIT, '20990101000000_a', '20990102000000_b']);
    const cols = await conn.query<{ column_name: string }>(
      "SELECT column_name FROM information_schema.columns WHERE table_name = 'Extra' ORDER BY ordinal_position",
    );
    expect(cols.map((c) => c.column_name)).toEqual(['id', 'fileId', 'note']);
    const rows = await rowsOf(conn);
    expect(rows.map((r) => r.migration_name)).toEqual(res.applied);
    for (const r of rows) expect(r.checksum).toBe(sha256(join(dir, r.migration_name, 'migration.sql')));
    expect((await applyMigrations(conn, { dir })).applied).toEqual([]);
  });

  it('refuses a migration whose checksum changed and applies nothing after it', async () => {
    const dir = tempMigrations({ '20990101000000_a': 'CREATE TABLE "A" ("id" INTEGER);\n' });
    const conn = await connect(await pgDatabase());
    await applyMigrations(conn, { dir });

    writeFileSync(join(dir, '20990101000000_a', 'migration.sql'), 'CREATE TABLE "A" ("id" BIGINT);\n');
    mkdirSync(join(dir, '20990102000000_b'));
    writeFileSync(join(dir, '20990102000000_b', 'migration.sql'), 'CREATE TABLE "B" ("id" INTEGER);\n');

    const err = await applyMigrations(conn, { dir }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(MigrationError);
    expect((err as MigrationError).code).toBe('CHECKSUM_MISMATCH');
    expect((err as MigrationError).message).toContain('20990101000000_a');
    expect(await tablesOf(conn)).not.toContain('B');
    expect((await rowsOf(conn)).map((r) => r.migration_name)).toEqual([INIT, '20990101000000_a']);
  });

  it('accepts a CRLF checkout of an applied migration (Prisma ignores line endings)', async () => {
    const dir = tempMigrations({ '20990101000000_a': 'CREATE TABLE "A" ("id" INTEGER);\n' });
    const conn = await connect(await pgDatabase());
    await applyMigrations(conn, { dir });
    writeFileSync(join(dir, '20990101000000_a', 'migration.sql'), 'CREATE TABLE "A" ("id" INTEGER);\r\n');
    expect((await applyMigrations(conn, { dir })).applied).toEqual([]);
  });

  it('records a failing migration with logs and refuses later runs (P3009)', async () => {
    const dir = tempMigrations({
      '20990101000000_bad': 'CREATE TABLE "Half" ("id" INTEGER);\nALTER TABLE "Nope" ADD COLUMN "x" INTEGER;\n',
      '20990102000000_after': 'CREATE TABLE "After" ("id" INTEGER);\n',
    });
    const conn = await connect(await pgDatabase());
    const err = await applyMigrations(conn, { dir }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(MigrationError);
    expect((err as MigrationError).migration).toBe('20990101000000_bad');

    const rows = await rowsOf(conn);
    expect(rows.map((r) => r.migration_name)).toEqual([INIT, '20990101000000_bad']);
    const bad = rows[1] as MigrationRow;
    expect(bad.finished_at).toBeNull();
    expect(bad.applied_steps_count).toBe(0);
    expect(bad.logs).toContain('Nope');
    expect(bad.logs).toContain('42P01');
    // The transaction rolled the partial work back; nothing after it ran.
    const tables = await tablesOf(conn);
    expect(tables).not.toContain('Half');
    expect(tables).not.toContain('After');

    const again = await applyMigrations(conn, { dir }).catch((e: unknown) => e);
    expect((again as MigrationError).code).toBe('FAILED_MIGRATION');
    expect((again as MigrationError).message).toContain('20990101000000_bad');
    expect(await rowsOf(conn)).toHaveLength(2);

    // After `prisma migrate resolve --rolled-back` (which sets rolled_back_at) and a fixed file, it proceeds.
    await conn.query("UPDATE _prisma_migrations SET rolled_back_at = now() WHERE migration_name = '20990101000000_bad'");
    writeFileSync(join(dir, '20990101000000_bad', 'migration.sql'), 'CREATE TABLE "Half" ("id" INTEGER);\n');
    expect((await applyMigrations(conn, { dir })).applied).toEqual(['20990101000000_bad', '20990102000000_after']);
  });

  it('reports a recorded migration missing from the folder without failing', async () => {
    const dir = tempMigrations({ '20990101000000_a': 'CREATE TABLE "A" ("id" INTEGER);\n' });
    const conn = await connect(await pgDatabase());
    await applyMigrations(conn, { dir });
    rmSync(join(dir, '20990101000000_a'), { recursive: true });
    const logs: string[] = [];
    const res = await applyMigrations(conn, { dir, log: (m) => logs.push(m) });
    expect(res).toEqual({ applied: [], alreadyApplied: [INIT], missing: ['20990101000000_a'] });
    expect(logs.some((l) => l.includes('missing'))).toBe(true);
  });

  it('two concurrent runners on one database: both succeed, each migration recorded once', async () => {
    const dir = tempMigrations({
      '20990101000000_a': 'CREATE TABLE "A" ("id" INTEGER);\nSELECT pg_sleep(0.3);\n',
      '20990102000000_b': 'ALTER TABLE "A" ADD COLUMN "b" TEXT;\n',
    });
    const testDb = await createTestDatabase();
    cleanups.push(() => testDb[Symbol.asyncDispose]());
    const dbs = await Promise.all([1, 2].map(() => openDatabase({ kind: 'postgres', url: testDb.url })));
    for (const db of dbs) cleanups.push(() => db.close());

    const results = await Promise.all(dbs.map((db) => migrateDatabase(db, { dir })));
    const all = [INIT, '20990101000000_a', '20990102000000_b'];
    // One runner did the work; the other waited on the lock, then found it all applied.
    expect(results.map((r) => r.applied.length).sort()).toEqual([0, 3]);
    expect(results.find((r) => r.applied.length === 0)?.alreadyApplied).toEqual(all);

    const conn = await connect(dbs[0] as Database);
    const rows = await rowsOf(conn);
    expect(rows.map((r) => r.migration_name)).toEqual(all);
    expect(rows.every((r) => r.finished_at !== null && r.applied_steps_count === 1)).toBe(true);
  });
});

describe('applyMigrations on PGlite', () => {
  it('applies the init migration, records it as Prisma does, and is idempotent', async () => {
    const db = await openDatabase({ kind: 'pglite', dir: 'memory://' });
    cleanups.push(() => db.close());
    expect((await migrateDatabase(db)).applied).toEqual([INIT]);
    const conn = await connect(db);
    await expectInitApplied(conn);
    expect(await migrateDatabase(db)).toEqual({ applied: [], alreadyApplied: [INIT], missing: [] });
    expect(await rowsOf(conn)).toHaveLength(1);
  });

  it('rolls a failing migration back and refuses the next run', async () => {
    const dir = tempMigrations({ '20990101000000_bad': 'CREATE TABLE "Half" ("id" INTEGER);\nSELECT * FROM "Nope";\n' });
    const db = await openDatabase({ kind: 'pglite', dir: 'memory://' });
    cleanups.push(() => db.close());
    await expect(migrateDatabase(db, { dir })).rejects.toThrow(MigrationError);
    const conn = await connect(db);
    expect(await tablesOf(conn)).not.toContain('Half');
    await expect(migrateDatabase(db, { dir })).rejects.toMatchObject({ code: 'FAILED_MIGRATION' });
  });
});
