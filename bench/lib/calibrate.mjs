#!/usr/bin/env node
/**
 * Machine calibration, printed next to the results so that numbers from different machines
 * can be compared: the cost of the two things the hot paths are made of here —
 * a byte-at-a-time JS loop over a Uint8Array (the body scanner and the name hash are such
 * loops) and a system call (every proxied request needs several).
 * Runs in its own process; prints one JSON line.
 */
import { closeSync, openSync, writeSync } from 'node:fs';
import { median } from './common.mjs';

function byteLoop(buf) {
  let s = 0;
  for (let i = 0; i < buf.length; i++) s = (s + buf[i]) | 0;
  return s;
}

const buf = new Uint8Array(2048).map((_, i) => i * 7);
let sink = 0;
for (let i = 0; i < 20_000; i++) sink ^= byteLoop(buf);
const loop = [];
for (let r = 0; r < 7; r++) {
  const t = process.hrtime.bigint();
  for (let i = 0; i < 20_000; i++) sink ^= byteLoop(buf);
  loop.push(Number(process.hrtime.bigint() - t) / (20_000 * buf.length));
}

const fd = openSync('/dev/null', 'w');
const one = Buffer.alloc(1);
const sys = [];
for (let r = 0; r < 7; r++) {
  const t = process.hrtime.bigint();
  for (let i = 0; i < 20_000; i++) writeSync(fd, one);
  sys.push(Number(process.hrtime.bigint() - t) / 20_000);
}
closeSync(fd);

process.stdout.write(JSON.stringify({ byteLoopNsPerByte: median(loop), writeSyscallNs: median(sys), sink: sink & 1 }) + '\n');
