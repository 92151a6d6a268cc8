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

/**
 * TypeScript types from a JSON Schema in schemas/ (also used for vmc bench's scenario schema,
 * bench/harness/gen-types.mjs); pure apart from reading the schema.
 */
export async function schemaTypes(schemaPath, rootName, banner, printWidth) {
  const schema = JSON.parse(await readFile(schemaPath, 'utf8'));
  // `$id` would make json-schema-to-typescript try to resolve refs against the web.
  delete schema.$id;
  return compile(schema, rootName, {
    bannerComment: banner,
    additionalProperties: false,
    unknownAny: true,
    ignoreMinAndMaxItems: true,
    unreachableDefinitions: true,
    format: true,
    style: { singleQuote: true, printWidth },
    cwd: `${ROOT}schemas`,
  });
}

/**
 * The command line of a generator: `--stdout` prints, `--check` exits 1 when `outputPath`
 * differs from what `generate()` renders (`hint` says how to regenerate), otherwise writes it.
 */
export async function generatorMain(generate, outputPath, hint) {
  const text = await generate();
  const name = outputPath.slice(ROOT.length);
  if (process.argv.includes('--stdout')) {
    process.stdout.write(text);
  } else if (process.argv.includes('--check')) {
    const current = await readFile(outputPath, 'utf8').catch(() => '');
    if (current !== text) {
      console.error(`${name} is stale; run ${hint}`);
      process.exit(1);
    }
  } else {
    await writeFile(outputPath, text);
    console.log(`wrote ${name}`);
  }
}

/** Renders the generated module text; pure apart from reading the schema. */
export function generateTypes() {
  return schemaTypes(SCHEMA_PATH, 'VmcConfig', BANNER, 100);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1])
  await generatorMain(generateTypes, OUTPUT_PATH, 'npm run gen:types');
