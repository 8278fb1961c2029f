import { existsSync } from 'node:fs';
import { defineConfig } from 'prisma/config';

// Prisma's CLI wants its native schema engine before `generate`, which never uses it. Where no
// engine is installed (machines without internet) point it at any existing file so generate runs.
// `migrate deploy` needs the real engine; haul applies migrations with its own runner (src/db/migrate.ts).
if (!process.env.PRISMA_SCHEMA_ENGINE_BINARY) {
  const engine = 'node_modules/@prisma/engines/schema-engine-debian-openssl-3.0.x';
  if (!existsSync(engine)) process.env.PRISMA_SCHEMA_ENGINE_BINARY = 'package.json';
}

export default defineConfig({
  schema: 'prisma/schema.prisma',
  migrations: { path: 'prisma/migrations' },
  datasource: { url: process.env.DATABASE_URL ?? 'postgresql://postgres@127.0.0.1:5432/postgres' },
});
