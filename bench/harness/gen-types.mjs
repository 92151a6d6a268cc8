#!/usr/bin/env node
// Generates bench/harness/scenario-types.gen.ts from schemas/scenario.schema.json (the schema
// is the single source of truth for scenarios, as schemas/vmc.schema.json is for configs).
//   node bench/harness/gen-types.mjs           write the file
//   node bench/harness/gen-types.mjs --check   exit 1 when the committed file is stale
import { readFile, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { compile } from 'json-schema-to-typescript';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const SCHEMA_PATH = `${ROOT}schemas/scenario.schema.json`;
export const OUTPUT_PATH = `${ROOT}bench/harness/scenario-types.gen.ts`;

const BANNER = `/* auto-generated — do not edit; run node bench/harness/gen-types.mjs
 * Source: schemas/scenario.schema.json (json-schema-to-typescript). */`;

export async function generateScenarioTypes() {
  const schema = JSON.parse(await readFile(SCHEMA_PATH, 'utf8'));
  delete schema.$id;
  return compile(schema, 'BenchScenario', {
    bannerComment: BANNER,
    additionalProperties: false,
    unknownAny: true,
    ignoreMinAndMaxItems: true,
    unreachableDefinitions: true,
    format: true,
    style: { singleQuote: true, printWidth: 140 },
    cwd: `${ROOT}schemas`,
  });
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const text = await generateScenarioTypes();
  if (process.argv.includes('--check')) {
    const current = await readFile(OUTPUT_PATH, 'utf8').catch(() => '');
    if (current !== text) {
      console.error('bench/harness/scenario-types.gen.ts is stale; run node bench/harness/gen-types.mjs');
      process.exit(1);
    }
  } else {
    await writeFile(OUTPUT_PATH, text);
    console.log('wrote bench/harness/scenario-types.gen.ts');
  }
}
