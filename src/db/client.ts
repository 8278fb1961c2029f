import { mkdirSync } from 'node:fs';
import { PGlite } from '@electric-sql/pglite';
import { PrismaPg } from '@prisma/adapter-pg';
import pg from 'pg';
import { PrismaPGlite } from 'pglite-prisma-adapter';
import type { Config } from '../config/index.ts';
import { PrismaClient } from '../generated/prisma/client.ts';

export type { PrismaClient } from '../generated/prisma/client.ts';

/**
 * One connection for raw SQL: the migration runner and health checks use it. On PostgreSQL it
 * is a dedicated client (advisory locks are per connection); on PGlite, the database itself.
 */
export interface SqlConnection {
  query<T = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<T[]>;
  /** Runs a script of several statements (a migration file). */
  exec(sql: string): Promise<void>;
  close(): Promise<void>;
}

export interface Database {
  kind: 'postgres' | 'pglite';
  prisma: PrismaClient;
  /** Opens a raw SQL connection (PGlite: shares the single in-process database). */
  connect(): Promise<SqlConnection>;
  close(): Promise<void>;
}

export type DatabaseConfig = Config['database'];

/** Builds the Prisma client for PostgreSQL (@prisma/adapter-pg) or PGlite, by configuration alone. */
export async function openDatabase(cfg: DatabaseConfig): Promise<Database> {
  if (cfg.kind === 'postgres') {
    // Fail fast while PostgreSQL is away: callers get UNAVAILABLE within seconds, not a hang.
    const pool = new pg.Pool({ connectionString: cfg.url, max: 20, connectionTimeoutMillis: 3000 });
    // An idle client's network error must not crash the process; the next query reports it.
    pool.on('error', () => {});
    const prisma = new PrismaClient({ adapter: new PrismaPg(pool) });
    return {
      kind: 'postgres',
      prisma,
      async connect() {
        const client = new pg.Client({ connectionString: cfg.url });
        client.on('error', () => {});
        await client.connect();
        return {
          query: async <T>(sql: string, params?: unknown[]) => (await client.query(sql, params)).rows as T[],
          exec: async (sql: string) => {
            await client.query(sql);
          },
          close: () => client.end(),
        };
      },
      async close() {
        await prisma.$disconnect();
        await pool.end();
      },
    };
  }
  if (cfg.dir !== 'memory://') mkdirSync(cfg.dir, { recursive: true });
  const db = cfg.dir === 'memory://' ? new PGlite() : new PGlite(cfg.dir);
  await db.waitReady;
  const prisma = new PrismaClient({ adapter: new PrismaPGlite(db) });
  return {
    kind: 'pglite',
    prisma,
    async connect() {
      return {
        query: async <T>(sql: string, params?: unknown[]) => (await db.query<T>(sql, params)).rows,
        exec: async (sql: string) => {
          await db.exec(sql);
        },
        close: async () => {},
      };
    },
    async close() {
      await prisma.$disconnect();
      await db.close();
    },
  };
}
