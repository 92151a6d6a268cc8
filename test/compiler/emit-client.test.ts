/**
 * The generated client (SPEC §4, §15): deterministic text; compiles under the strict flags with
 * TypeScript 5.9 and 7, alone and with the official SDKs (openai, @anthropic-ai/sdk) and the
 * Vercel AI SDK, where a misspelled model name fails on its own line; runs under Node's type
 * stripping (Node 22 with the flag, Node 24 by default) against a real gateway.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { emitClient } from '../../compiler/emit-client.js';
import { config, target, vm } from '../support/norm.js';
import type { MockProvider } from '../../bench/sim/simulated-provider.js';
import { closeAll, providersYaml, startGateway, startMocks, type Gateway } from '../runtime/harness.js';

const run = promisify(execFile);
const ROOT = resolve(__dirname, '../..');
/** Each compiler by its own path: node_modules/.bin/tsc is whichever package linked it first. */
const COMPILERS = [
  ['TypeScript 5.9', join(ROOT, 'node_modules', 'typescript5', 'bin', 'tsc')],
  ['TypeScript 7', join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc')],
] as const;
const NODES = [
  ['Node 22 --experimental-strip-types', '/work/scratch/nodes/node_modules/n22/bin/node', ['--experimental-strip-types']],
  ['Node 24', '/work/scratch/nodes/node_modules/n24/bin/node', []],
] as const;

/** The flags of SPEC §15, plus the other strictness options apps commonly turn on. */
const STRICT = {
  strict: true,
  exactOptionalPropertyTypes: true,
  noUncheckedIndexedAccess: true,
  verbatimModuleSyntax: true,
  erasableSyntaxOnly: true,
  isolatedModules: true,
  noPropertyAccessFromIndexSignature: true,
  noImplicitOverride: true,
  noUnusedLocals: true,
  noUnusedParameters: true,
  noImplicitReturns: true,
  noFallthroughCasesInSwitch: true,
  moduleDetection: 'force',
};

const cfg = config([
  vm('regular', [target('anthropic/claude-sonnet-4-6')], { description: 'alias', modelTypes: ['chat'] }),
  vm('booking-app/gpt-prod', [target('openai/gpt-4o', { weight: 70 }), target('anthropic/claude-opus-4-6', { weight: 30 })], {
    slug: 'gpt-prod',
  }),
]);

/** A temp app: client.ts, the given files, package.json (ESM), node_modules → this repo's. */
async function appDir(files: Record<string, string>, client = emitClient(cfg, 'ab'.repeat(32))): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'vmc-client-'));
  await writeFile(join(dir, 'client.ts'), client);
  await writeFile(join(dir, 'package.json'), JSON.stringify({ name: 'app', private: true, type: 'module' }));
  await symlink(join(ROOT, 'node_modules'), join(dir, 'node_modules'), 'dir');
  for (const [name, text] of Object.entries(files)) await writeFile(join(dir, name), text);
  return dir;
}

/** Runs one tsc on a tsconfig with `options`; returns its exit code and the error lines. */
async function tsc(
  compiler: string,
  dir: string,
  files: string[],
  options: Record<string, unknown>,
): Promise<{ code: number; errors: string[] }> {
  const compilerOptions = { target: 'es2022', module: 'nodenext', noEmit: true, allowImportingTsExtensions: true, ...STRICT, ...options };
  await writeFile(join(dir, 'tsconfig.json'), JSON.stringify({ compilerOptions, files }));
  try {
    await run(process.execPath, [compiler, '-p', dir], { cwd: dir });
    return { code: 0, errors: [] };
  } catch (err) {
    const e = err as { code: number; stdout: string };
    return { code: e.code, errors: e.stdout.split('\n').filter((l) => /^\S.*error TS\d+/.test(l)) };
  }
}

/** Uses of every typed entry point with valid names: must compile without a diagnostic. */
const GOOD = `import OpenAI from 'openai';
import Anthropic from '@anthropic-ai/sdk';
import { createOpenAI } from '@ai-sdk/openai';
import { embed, generateText } from 'ai';
import { VIRTUAL_MODELS, VmcClient, isVirtualModelName, typedAIProvider, typedAnthropic, typedOpenAI, withRoute, type VirtualModelName } from './client.ts';

const openai = typedOpenAI(new OpenAI({ baseURL: 'http://127.0.0.1:8080/v1', apiKey: 'k' }));
const anthropic = typedAnthropic(new Anthropic({ baseURL: 'http://127.0.0.1:8080', apiKey: 'k' }));
const provider = typedAIProvider(createOpenAI({ baseURL: 'http://127.0.0.1:8080/v1', apiKey: 'k' }));
const vmc = new VmcClient({ baseURL: 'http://127.0.0.1:8080/v1', userPath: '/team/a' });

export async function sdk(): Promise<unknown[]> {
  const chat = await openai.chat.completions.create({ model: 'regular', messages: [{ role: 'user', content: 'hi' }] });
  const content: string | null | undefined = chat.choices[0]?.message.content;
  const stream = await openai.chat.completions.create({ model: 'gpt-prod', messages: [], stream: true });
  for await (const chunk of stream) {
    const delta: string | null | undefined = chunk.choices[0]?.delta.content;
    void delta;
  }
  const routed = await withRoute(openai.chat.completions.create({ model: 'booking-app/gpt-prod', messages: [], stream: true }));
  const target: string | null = routed.route.target;
  for await (const chunk of routed.data) void chunk.choices;
  const embedding: number[] | undefined = (await openai.embeddings.create({ model: 'regular', input: 'x' })).data[0]?.embedding;
  const text: string | undefined = (await openai.completions.create({ model: 'regular', prompt: 'x' })).choices[0]?.text;
  const output: string = (await openai.responses.create({ model: 'regular', input: 'x' })).output_text;
  const message = await anthropic.messages.create({ model: 'regular', max_tokens: 5, messages: [{ role: 'user', content: 'x' }] });
  const events = await anthropic.messages.create({ model: 'gpt-prod', max_tokens: 5, messages: [], stream: true });
  for await (const event of events) void event.type;
  const generated = await generateText({ model: provider.chat('regular'), prompt: 'x' });
  const viaResponses = await generateText({ model: provider('gpt-prod'), prompt: 'x' });
  const vector = await embed({ model: provider.embedding('regular'), value: 'x' });
  const models = await openai.models.list();
  return [content, target, embedding, text, output, message.content[0], generated.text, viaResponses.text, vector.embedding, models];
}

export async function wrapper(): Promise<unknown[]> {
  const r = await vmc.chatCompletions({ model: 'regular', messages: [{ role: 'user', content: 'hi' }] });
  const content: string | null | undefined = r.data.choices[0]?.message.content;
  const stream = await vmc.streamChatCompletions({ model: 'openai/gpt-4o', messages: [] });
  const target: string | null = stream.route.target;
  for await (const chunk of stream) void chunk.choices[0]?.delta.content;
  const b64: string | undefined = (await vmc.embeddings({ model: 'regular', input: 'x', encoding_format: 'base64' })).data.data[0]?.embedding;
  const floats: number[] | undefined = (await vmc.embeddings({ model: 'regular', input: 'x' })).data.data[0]?.embedding;
  for await (const event of await vmc.streamMessages({ model: 'regular', max_tokens: 4, messages: [] })) {
    if (event.type === 'content_block_delta' && event.delta.type === 'text_delta') void event.delta.text;
  }
  for await (const event of await vmc.streamResponses({ model: 'regular', input: 'x' })) {
    if (event.type === 'response.output_text.delta') void event.delta;
  }
  const input = 'read at run time' as string;
  const name: VirtualModelName | null = isVirtualModelName(input) ? input : null;
  const strategy: 'weighted' = VIRTUAL_MODELS['booking-app/gpt-prod'].strategy;
  return [content, target, b64, floats, name, strategy];
}
`;

/** One misspelled or non-virtual name per line; each must fail on exactly its line. */
const BAD_LINES = [
  `await openai.chat.completions.create({ model: 'reguler', messages: [] });`,
  `await openai.chat.completions.create({ model: 'gpt-prdo', messages: [], stream: true });`,
  `await openai.embeddings.create({ model: 'openai/gpt-4o', input: 'x' });`,
  `await openai.completions.create({ model: 'gpt-4o', prompt: 'x' });`,
  `await openai.responses.create({ model: 'gpt-5', input: 'x' });`,
  `await anthropic.messages.create({ model: 'claude-sonnet-4-6', max_tokens: 5, messages: [] });`,
  `provider.chat('gpt-4o');`,
  `provider('gpt-4o');`,
  `provider.embedding('text-embedding-3-small');`,
  `await vmc.chatCompletions({ model: 'reguler', messages: [] });`,
];
const BAD_HEADER = `import OpenAI from 'openai';
import Anthropic from '@anthropic-ai/sdk';
import { createOpenAI } from '@ai-sdk/openai';
import { VmcClient, typedAIProvider, typedAnthropic, typedOpenAI } from './client.ts';
const openai = typedOpenAI(new OpenAI({ apiKey: 'k' }));
const anthropic = typedAnthropic(new Anthropic({ apiKey: 'k' }));
const provider = typedAIProvider(createOpenAI({ apiKey: 'k' }));
const vmc = new VmcClient({ baseURL: 'http://127.0.0.1:8080/v1' });
export async function typos(): Promise<void> {
`;
const BAD = BAD_HEADER + BAD_LINES.map((l) => `  ${l}\n`).join('') + '}\n';
const FIRST_BAD_LINE = BAD_HEADER.split('\n').length;

describe('typed client text', () => {
  it('is deterministic and carries the auto-generated header', () => {
    const a = emitClient(cfg, 'ab'.repeat(32));
    expect(a).toBe(emitClient(structuredClone(cfg), 'ab'.repeat(32)));
    expect(a.startsWith('// auto-generated')).toBe(true);
    expect(a).toContain('| "booking-app/gpt-prod"');
    expect(a).toContain('| "gpt-prod"');
  });

  it('imports nothing (an app without one SDK compiles) and has no syntax that type stripping rejects', () => {
    const a = emitClient(cfg, 'ab'.repeat(32));
    expect(a).not.toMatch(/^\s*import\b/m);
    expect(a).not.toMatch(/\b(enum|namespace)\s+\w+\s*\{/);
    // parameter properties: `constructor(readonly x` / `constructor(private x`
    expect(a).not.toMatch(/constructor\([^)]*\b(readonly|private|public|protected)\s/);
  });
});

describe.each(COMPILERS)('typed client under %s', (_, compiler) => {
  let dir: string;
  beforeAll(async () => {
    dir = await appDir({ 'good.ts': GOOD, 'bad.ts': BAD });
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it.each([
    ['the DOM lib', { types: [] }],
    ['@types/node without DOM', { lib: ['es2022'], types: ['node'] }],
    [
      'declaration emit (isolatedDeclarations)',
      {
        types: [],
        declaration: true,
        isolatedDeclarations: true,
        noEmit: false,
        emitDeclarationOnly: true,
        outDir: 'out',
        allowImportingTsExtensions: false,
      },
    ],
  ])('client.ts alone compiles under the strict flags with %s', async (_, options) => {
    expect(await tsc(compiler, dir, ['client.ts'], options)).toEqual({ code: 0, errors: [] });
  });

  it('typedOpenAI, typedAnthropic, typedAIProvider and VmcClient accept the valid names with the SDKs’ own types', async () => {
    expect(await tsc(compiler, dir, ['good.ts'], { types: [], skipLibCheck: true })).toEqual({ code: 0, errors: [] });
  });

  it('a misspelled or non-virtual name fails on its own line, every entry point', async () => {
    const r = await tsc(compiler, dir, ['bad.ts'], { types: [], skipLibCheck: true });
    expect(r.code).not.toBe(0);
    const lines = r.errors.map((e) => Number(/^bad\.ts\((\d+),/.exec(e)?.[1]));
    expect(lines).toEqual(BAD_LINES.map((_, i) => FIRST_BAD_LINE + i));
  });
});

describe.each(COMPILERS)('a large config under %s: metadata as typed JSON text', (_, compiler) => {
  let dir: string;
  beforeAll(async () => {
    // constMetadataLimit 1 stands for a config over CONST_METADATA_LIMIT (5,000) models.
    const client = emitClient(cfg, 'ab'.repeat(32), { constMetadataLimit: 1 });
    expect(client).toContain('export const VIRTUAL_MODELS: Readonly<Record<string, VirtualModelMeta>> = JSON.parse(');
    const use = `import { VIRTUAL_MODELS, isVirtualModelName, type VirtualModelMeta, type VirtualModelName } from './client.ts';
export const strategy: VirtualModelMeta['strategy'] | undefined = VIRTUAL_MODELS['booking-app/gpt-prod']?.strategy;
export const name: VirtualModelName = 'gpt-prod';
export const known: boolean = isVirtualModelName('regular');
export const typo: VirtualModelName = 'gpt-prdo';
`;
    dir = await appDir({ 'use.ts': use }, client);
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('compiles under the strict flags; names are still checked', async () => {
    const r = await tsc(compiler, dir, ['use.ts'], { types: [] });
    expect(r.errors).toEqual([expect.stringMatching(/^use\.ts\(5,\d+\): error TS2820/)]);
  });

  it.skipIf(!existsSync(NODES[1][1]))('reads the same metadata at run time', async () => {
    const script = `import { VIRTUAL_MODELS, isVirtualModelName } from './client.ts';
process.stdout.write(JSON.stringify([VIRTUAL_MODELS['booking-app/gpt-prod']?.targets, isVirtualModelName('gpt-prod'), isVirtualModelName('nope')]));`;
    await writeFile(join(dir, 'read.ts'), script);
    const { stdout } = await run(NODES[1][1], ['read.ts'], { cwd: dir });
    expect(JSON.parse(stdout)).toEqual([['openai/gpt-4o', 'anthropic/claude-opus-4-6'], true, false]);
  });
});

describe.each(NODES)('typed client runs under %s', (_, node, flags) => {
  let mocks: MockProvider[];
  let gw: Gateway;
  let dir: string;
  beforeAll(async () => {
    mocks = await startMocks(['p0', 'claude']);
    gw = await startGateway(`version: 1
${providersYaml(mocks, ['m1'], {}, ['claude'])}
virtual_models:
  regular: { target: p0/m1 }
  sonnet: { target: claude/m1 }
`);
    const client = emitClient(
      config([vm('regular', [target('p0/m1')]), vm('sonnet', [target('claude/m1')])], {
        providers: [],
      }),
      'cd'.repeat(32),
    );
    dir = await appDir({ 'main.ts': RUNTIME_APP }, client);
  });
  afterAll(async () => {
    await closeAll(gw, ...mocks);
    await rm(dir, { recursive: true, force: true });
  });

  it.skipIf(!existsSync(node))('calls the gateway: JSON, streams with their route, errors, and the SDK through typedOpenAI', async () => {
    const { stdout } = await run(node, [...flags, 'main.ts', gw.url], { cwd: dir });
    expect(JSON.parse(stdout)).toEqual({
      chat: ['mock:p0 model=m1', 'regular', 'p0/m1', 1],
      stream: ['mock:p0 model=m1', 'p0/m1'],
      messages: ['mock:claude model=m1', 'claude/m1'],
      error: ['VmcError', 404, 'not_found_error'],
      sdk: ['mock:p0 model=m1', 'p0/m1', 1],
      sdkStream: ['mock:p0 model=m1', 'p0/m1'],
      ai: ['mock:p0 model=m1', 'p0/m1'],
    });
  });
});

/** Run by Node itself (type stripping), not by vitest. */
const RUNTIME_APP = `import OpenAI from 'openai';
import { createOpenAI } from '@ai-sdk/openai';
import { generateText } from 'ai';
import { VmcClient, VmcError, typedAIProvider, typedOpenAI, withRoute, type ModelName } from './client.ts';

const base = process.argv[2];
const vmc = new VmcClient({ baseURL: base + '/v1' });
const out: Record<string, unknown[]> = {};

const chat = await vmc.chatCompletions({ model: 'regular', messages: [{ role: 'user', content: 'hi' }] });
out.chat = [chat.data.choices[0]?.message.content, chat.route.virtualModel, chat.route.target, chat.route.attempts];

const stream = await vmc.streamChatCompletions({ model: 'regular', messages: [{ role: 'user', content: 'hi' }] });
let text = '';
for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? '';
out.stream = [text, stream.route.target];

let said = '';
const events = await vmc.streamMessages({ model: 'sonnet', max_tokens: 16, messages: [{ role: 'user', content: 'hi' }] });
for await (const e of events) if (e.type === 'content_block_delta' && e.delta.type === 'text_delta') said += e.delta.text;
out.messages = [said, events.route.target];

try {
  await vmc.chatCompletions({ model: 'no-such-model' as ModelName, messages: [] });
  out.error = ['no error'];
} catch (err) {
  const e = err as VmcError;
  out.error = [e.name, e.status, e.body?.error.type];
}

const openai = typedOpenAI(new OpenAI({ baseURL: base + '/v1', apiKey: 'unused', maxRetries: 0 }));
const sdk = await withRoute(openai.chat.completions.create({ model: 'regular', messages: [{ role: 'user', content: 'hi' }] }));
out.sdk = [sdk.data.choices[0]?.message.content, sdk.route.target, sdk.route.attempts];
const sdkStream = await withRoute(openai.chat.completions.create({ model: 'regular', messages: [{ role: 'user', content: 'hi' }], stream: true }));
let sdkText = '';
for await (const chunk of sdkStream.data) sdkText += chunk.choices[0]?.delta.content ?? '';
out.sdkStream = [sdkText, sdkStream.route.target];

const provider = typedAIProvider(createOpenAI({ baseURL: base + '/v1', apiKey: 'unused' }));
const generated = await generateText({ model: provider.chat('regular'), prompt: 'hi', maxRetries: 0 });
out.ai = [generated.text, generated.response.headers?.['x-vmc-target']];

process.stdout.write(JSON.stringify(out));
`;
