#!/usr/bin/env node
/**
 * Stand-in for `vmc serve` while the CLI command is not registered yet: the same
 * runtime entry point (dist/runtime/serve.js `runServe`) with the same flags. In cluster
 * mode `runServe` forks this script again and the workers take the worker branch.
 * bench/proxy.mjs prefers `node bin/vmc.js serve` whenever the CLI knows the command.
 */
import { runServe } from '../../dist/runtime/serve.js';
import { parseFlags } from './common.mjs';

const f = parseFlags(process.argv.slice(2));
await runServe({
  tablePath: f.table,
  host: f.host ?? '127.0.0.1',
  port: Number(f.port ?? 8080),
  workers: Number(f.workers ?? 1),
  watch: false,
});
