#!/usr/bin/env node
// Generates bench/harness/scenario-types.gen.ts from schemas/scenario.schema.json (the schema
// is the single source of truth for scenarios, as schemas/vmc.schema.json is for configs).
//   node bench/harness/gen-types.mjs           write the file
//   node bench/harness/gen-types.mjs --stdout  print what would be written (staleness test)
//   node bench/harness/gen-types.mjs --check   exit 1 when the committed file is stale
import { fileURLToPath } from 'node:url';
import { generatorMain, schemaTypes } from '../../scripts/gen-types.mjs';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const SCHEMA_PATH = `${ROOT}schemas/scenario.schema.json`;
export const OUTPUT_PATH = `${ROOT}bench/harness/scenario-types.gen.ts`;

const BANNER = `/* auto-generated — do not edit; run node bench/harness/gen-types.mjs
 * Source: schemas/scenario.schema.json (json-schema-to-typescript). */`;

export function generateScenarioTypes() {
  return schemaTypes(SCHEMA_PATH, 'BenchScenario', BANNER, 140);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  await generatorMain(generateScenarioTypes, OUTPUT_PATH, 'node bench/harness/gen-types.mjs');
}
