#!/usr/bin/env node
// vmc CLI entry (package.json "bin"). The TypeScript sources are compiled to dist/ by
// `npm run build`, which `npm install` / `npm ci` run through the `prepare` script.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const cli = new URL('../dist/bin/cli.js', import.meta.url);
if (!existsSync(fileURLToPath(cli))) {
  process.stderr.write('vmc: dist/ is missing — run `npm install` (or `npm run build`) in the vmc package first.\n');
  process.exit(2);
}
const { main } = await import(cli.href);
process.exitCode = await main(process.argv.slice(2));
