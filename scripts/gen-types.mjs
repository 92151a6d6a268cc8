#!/usr/bin/env node
// Generates compiler/config-types.gen.ts from schemas/vmc.schema.json (SPEC §2: the schema
// is the single source of truth). Usage:
//   node scripts/gen-types.mjs           write the file
//   node scripts/gen-types.mjs --stdout  print what would be written (staleness test)
//   node scripts/gen-types.mjs --check   exit 1 when the committed file is stale
import { readFile, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { compile } from 'json-schema-to-typescript';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const SCHEMA_PATH = `${ROOT}schemas/vmc.schema.json`;
export const OUTPUT_PATH = `${ROOT}compiler/config-types.gen.ts`;

const BANNER = `/* auto-generated — do not edit; run npm run gen:types
 * Source: schemas/vmc.schema.json (json-schema-to-typescript). */`;

/** Renders the generated module text; pure apart from reading the schema. */
export async function generateTypes() {
  const schema = JSON.parse(await readFile(SCHEMA_PATH, 'utf8'));
  // `$id` would make json-schema-to-typescript try to resolve refs against the web.
  delete schema.$id;
  const ts = await compile(schema, 'VmcConfig', {
    bannerComment: BANNER,
    additionalProperties: false,
    unknownAny: true,
    ignoreMinAndMaxItems: true,
    unreachableDefinitions: true,
    format: true,
    style: { singleQuote: true, printWidth: 100 },
    cwd: `${ROOT}schemas`,
  });
  return ts;
}

const isMain = process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1];
if (isMain) {
  const text = await generateTypes();
  if (process.argv.includes('--stdout')) {
    process.stdout.write(text);
  } else if (process.argv.includes('--check')) {
    const current = await readFile(OUTPUT_PATH, 'utf8').catch(() => '');
    if (current !== text) {
      console.error('compiler/config-types.gen.ts is stale; run npm run gen:types');
      process.exit(1);
    }
  } else {
    await writeFile(OUTPUT_PATH, text);
    console.log('wrote compiler/config-types.gen.ts');
  }
}
