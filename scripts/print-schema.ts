// Prints the schema built in code to schema/schema.graphql; with --check, fails when the
// committed file differs (CI runs this, so the SDL can never drift from the code).
import { readFileSync, writeFileSync } from 'node:fs';
import { lexicographicSortSchema, printSchema } from 'graphql';
import { schema } from '../src/graphql/schema/index.ts';

const file = new URL('../schema/schema.graphql', import.meta.url);
const header = '# Generated from the Pothos schema by `npm run schema:print`; do not edit.\n\n';
const sdl = `${header}${printSchema(lexicographicSortSchema(schema))}\n`;

if (process.argv.includes('--check')) {
  let committed = '';
  try {
    committed = readFileSync(file, 'utf8');
  } catch {}
  if (committed !== sdl) {
    console.error('schema/schema.graphql is out of date with the code: run `npm run schema:print` and commit it.');
    process.exit(1);
  }
  console.log('schema/schema.graphql matches the code');
} else {
  writeFileSync(file, sdl);
  console.log('wrote schema/schema.graphql');
}
