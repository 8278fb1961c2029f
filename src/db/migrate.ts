/**
 * Migration runner that speaks Prisma Migrate's on-disk and in-database format, so a database
 * migrated here is accepted by `prisma migrate deploy` wherever the schema engine exists (it
 * cannot be downloaded on offline machines; see DESIGN.md §9). Mirrors the engine's
 * `apply_migrations` command: advisory lock, `_prisma_migrations` bookkeeping, P3009 refusal.
 */
import { createHash, randomUUID } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Database, SqlConnection } from './client.ts';

export const MIGRATIONS_DIR = new URL('../../prisma/migrations', import.meta.url);

/** Prisma's lock id for Migrate; sharing it serialises us with `prisma migrate deploy` too. */
const PRISMA_LOCK_ID = 72707369;

// Verbatim from the engine's PostgreSQL connector (create_migrations_table); only IF NOT EXISTS
// is added, which is equivalent because we hold the advisory lock while creating it.
const CREATE_TABLE = `CREATE TABLE IF NOT EXISTS _prisma_migrations (
    id                      VARCHAR(36) PRIMARY KEY NOT NULL,
    checksum                VARCHAR(64) NOT NULL,
    finished_at             TIMESTAMPTZ,
    migration_name          VARCHAR(255) NOT NULL,
    logs                    TEXT,
    rolled_back_at          TIMESTAMPTZ,
    started_at              TIMESTAMPTZ NOT NULL DEFAULT now(),
    applied_steps_count     INTEGER NOT NULL DEFAULT 0
);`;

export type MigrationErrorCode = 'CHECKSUM_MISMATCH' | 'FAILED_MIGRATION' | 'APPLY_FAILED' | 'MISSING_SCRIPT';

export class MigrationError extends Error {
  override name = 'MigrationError';
  constructor(
    readonly code: MigrationErrorCode,
    message: string,
    readonly migration?: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

export interface MigrateOptions {
  dir?: string | URL;
  log?: (msg: string) => void;
}

export interface MigrateResult {
  applied: string[];
  alreadyApplied: string[];
  /** Recorded as applied but no longer in the folder: reported, not fatal (as Prisma). */
  missing: string[];
}

interface Row {
  migration_name: string;
  checksum: string;
  finished_at: Date | null;
  rolled_back_at: Date | null;
  started_at: Date;
  logs: string | null;
}

/** Lowercase hex SHA-256 of the file's bytes: what Prisma stores in `checksum`. */
export function checksumOf(script: string | Buffer): string {
  return createHash('sha256').update(script).digest('hex');
}

/**
 * Prisma's `script_matches_checksum`: tolerant of CRLF/LF conversions done by git, and of the
 * non-zero-padded hex an old engine wrote. Anything else is a real edit.
 */
function matchesChecksum(script: Buffer, recorded: string): boolean {
  const text = script.toString('utf8');
  const variants = [script, text.replaceAll('\r\n', '\n'), text.replaceAll('\n', '\r\n')];
  return variants.some((v) => {
    const digest = createHash('sha256').update(v).digest();
    const hex = recorded.length === 64 ? digest.toString('hex') : [...digest].map((b) => b.toString(16)).join('');
    return hex === recorded;
  });
}

/** Folders holding a migration.sql, in lexical order (Prisma sorts the same way). */
function listMigrations(dir: string): { name: string; script: Buffer }[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { withFileTypes: true })
    .filter((e) => e.isDirectory())
    .map((e) => e.name)
    .sort()
    .map((name) => {
      const file = join(dir, name, 'migration.sql');
      if (!existsSync(file)) throw new MigrationError('MISSING_SCRIPT', `Migration folder ${name} has no migration.sql`, name);
      return { name, script: readFileSync(file) };
    });
}

// Scripts that manage their own transactions or use statements forbidden inside one
// (CREATE INDEX CONCURRENTLY, ...) are run as-is, exactly like Prisma does.
const NO_WRAP = /^\s*(BEGIN|COMMIT|ROLLBACK|START\s+TRANSACTION)\b|\bCONCURRENTLY\b/im;

function describe(name: string, err: unknown): string {
  const e = err as { code?: string; message?: string };
  // Same shape as the engine's ApplyMigrationError text, so `prisma migrate status` reads alike.
  return `Migration name: ${name}\n\nDatabase error code: ${e.code ?? 'unknown'}\n\nDatabase error:\nERROR: ${e.message ?? String(err)}\n`;
}

export async function applyMigrations(conn: SqlConnection, opts: MigrateOptions = {}): Promise<MigrateResult> {
  const dir = opts.dir ?? MIGRATIONS_DIR;
  const log = opts.log ?? (() => {});
  const migrations = listMigrations(typeof dir === 'string' ? dir : fileURLToPath(dir));

  // Session-level lock held for the whole run: a concurrent runner (or `prisma migrate deploy`)
  // waits here, then finds everything recorded and does nothing.
  await conn.query(`SELECT pg_advisory_lock(${PRISMA_LOCK_ID})`);
  try {
    await conn.exec(CREATE_TABLE);
    const rows = await conn.query<Row>(
      'SELECT migration_name, checksum, finished_at, rolled_back_at, started_at, logs FROM _prisma_migrations ORDER BY started_at',
    );

    // P3009: a started-but-unfinished migration leaves the schema in an unknown state; only a
    // human (`prisma migrate resolve`) may decide whether it was rolled back or applied.
    const failed = rows.filter((r) => r.finished_at === null && r.rolled_back_at === null);
    if (failed.length > 0) {
      const details = failed
        .map(
          (r) =>
            `The \`${r.migration_name}\` migration started at ${r.started_at.toISOString()} failed${r.logs?.trim() ? ` with the following logs:\n${r.logs.trim()}` : ''}`,
        )
        .join('\n');
      throw new MigrationError(
        'FAILED_MIGRATION',
        `Found failed migrations in the target database; new migrations will not be applied (Prisma P3009). Resolve with \`prisma migrate resolve --rolled-back|--applied <name>\` (https://pris.ly/d/migrate-resolve).\n${details}`,
        failed[0]?.migration_name,
      );
    }

    // Rolled-back rows do not count as applied: Prisma re-applies those migrations.
    const done = new Map<string, Row>();
    for (const r of rows) if (r.rolled_back_at === null) done.set(r.migration_name, r);

    // Stricter than `migrate deploy` (which only checks this in `migrate dev`): an edited applied
    // migration means this database no longer matches the history. Checked before applying anything.
    for (const m of migrations) {
      const r = done.get(m.name);
      if (r && !matchesChecksum(m.script, r.checksum)) {
        throw new MigrationError(
          'CHECKSUM_MISMATCH',
          `Migration ${m.name} was modified after it was applied (recorded checksum ${r.checksum}, file ${checksumOf(m.script)}); refusing to apply further migrations.`,
          m.name,
        );
      }
    }

    const names = new Set(migrations.map((m) => m.name));
    const missing = [...done.keys()].filter((n) => !names.has(n));
    for (const n of missing) log(`warning: migration ${n} is recorded in the database but missing from the migrations folder`);

    const alreadyApplied = migrations.filter((m) => done.has(m.name)).map((m) => m.name);
    const applied: string[] = [];
    for (const m of migrations) {
      if (done.has(m.name)) continue;
      log(`applying migration ${m.name}`);
      const id = randomUUID();
      // Recorded before running, outside the migration's transaction, as Prisma does: a crash
      // mid-migration then leaves an unfinished row and the next run refuses (P3009).
      await conn.query('INSERT INTO _prisma_migrations (id, checksum, started_at, migration_name) VALUES ($1, $2, now(), $3)', [
        id,
        checksumOf(m.script),
        m.name,
      ]);
      const script = m.script.toString('utf8');
      const wrap = !NO_WRAP.test(script);
      const finish = `UPDATE _prisma_migrations SET applied_steps_count = applied_steps_count + 1, finished_at = now() WHERE id = $1`;
      try {
        if (wrap) await conn.exec('BEGIN');
        await conn.exec(script);
        // Inside the transaction: the schema change and its "finished" mark commit together.
        await conn.query(finish, [id]);
        if (wrap) await conn.exec('COMMIT');
      } catch (err) {
        if (wrap) await conn.exec('ROLLBACK').catch(() => {});
        const logs = describe(m.name, err);
        await conn.query('UPDATE _prisma_migrations SET logs = $2 WHERE id = $1', [id, logs]);
        throw new MigrationError('APPLY_FAILED', `Migration ${m.name} failed to apply:\n${logs}`, m.name, { cause: err });
      }
      applied.push(m.name);
    }
    log(applied.length ? `applied ${applied.length} migration(s)` : 'no pending migrations');
    return { applied, alreadyApplied, missing };
  } finally {
    // Released explicitly (Prisma relies on disconnect) because PGlite's single session, and a
    // caller-owned pg connection, outlive this call. A dead connection already dropped the lock.
    await conn.query(`SELECT pg_advisory_unlock(${PRISMA_LOCK_ID})`).catch(() => {});
  }
}

/** Opens a dedicated connection (advisory locks are per session), migrates, closes it. */
export async function migrateDatabase(db: Database, opts?: MigrateOptions): Promise<MigrateResult> {
  const conn = await db.connect();
  try {
    return await applyMigrations(conn, opts);
  } finally {
    await conn.close();
  }
}
