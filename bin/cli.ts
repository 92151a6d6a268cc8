/**
 * The vmc command line (SPEC §5). `main(argv)` returns the exit code; it never calls
 * process.exit itself except through `serve`, which owns the process lifetime.
 *
 * One module per command in bin/commands/; each exports its usage text and a `run` function.
 * Commands load lazily: `explain` and `diff` read tables only and do not pay for ts-morph,
 * ajv and the rest of the compiler front end.
 */
import { TableFormatError } from '../runtime/table/format.js';
import { UsageError } from './args.js';

interface Command {
  /** One line for the overview. */
  summary: string;
  /** Loads the command's module: its usage text and its entry point. */
  load(): Promise<{ usage: string; run: (args: string[]) => Promise<number> }>;
}

const command = (summary: string, load: Command['load']): Command => ({ summary, load });

/** The commands, in the order `vmc --help` lists them. Add a command: one module + one entry. */
const COMMANDS: Record<string, Command> = {
  build: command('vmc build <files|dirs...> --out DIR [--format text|json|github]', () =>
    import('./commands/build.js').then((m) => ({ usage: m.BUILD_USAGE, run: m.runBuild })),
  ),
  check: command('vmc check <files|dirs...> [--format text|json|github]', () =>
    import('./commands/build.js').then((m) => ({ usage: m.CHECK_USAGE, run: m.runCheck })),
  ),
  explain: command('vmc explain <model> --table FILE [--header k=v]... [--metadata k=v]... [--user-path P] [--draw R] [--json]', () =>
    import('./commands/explain.js').then((m) => ({ usage: m.EXPLAIN_USAGE, run: m.runExplain })),
  ),
  diff: command('vmc diff OLD NEW [--format text|json|markdown]   (tables, build directories or configs)', () =>
    import('./commands/diff.js').then((m) => ({ usage: m.DIFF_USAGE, run: m.runDiff })),
  ),
  fmt: command('vmc fmt <files|dirs...>            (prints the config in native form)', () =>
    import('./commands/fmt.js').then((m) => ({ usage: m.FMT_USAGE, run: m.runFmt })),
  ),
  serve: command(
    'vmc serve --table FILE [--host 127.0.0.1] [--port 8080] [--workers N] [--max-body BYTES] [--state-dir DIR] [--keys FILE]',
    () => import('./commands/serve.js').then((m) => ({ usage: m.SERVE_USAGE, run: m.runServeCommand })),
  ),
  keys: command('vmc keys create|list|revoke --file FILE [--id ID] [--user-path P] [--model M]... [--expires-at T]', () =>
    import('./commands/keys.js').then((m) => ({ usage: m.KEYS_USAGE, run: m.runKeys })),
  ),
  init: command('vmc init [DIR] [--no-ci]            (starter config, GitHub Actions workflow and bench scenario)', () =>
    import('./commands/init.js').then((m) => ({ usage: m.INIT_USAGE, run: m.runInit })),
  ),
  bench: command('vmc bench SCENARIO [--out DIR] [--format text|json|markdown|github] [--duration S] [--rate RPS] [--seed N]', () =>
    import('./commands/bench.js').then((m) => ({ usage: m.BENCH_USAGE, run: m.runBench })),
  ),
  demo: command('vmc demo [--port 8080]             (compiles fixtures/demo, starts simulated providers and the gateway)', () =>
    import('./commands/demo.js').then((m) => ({ usage: m.DEMO_USAGE, run: m.runDemo })),
  ),
};

const USAGE = `vmc — virtual model compiler and gateway

usage:
${Object.values(COMMANDS)
  .map((c) => `  ${c.summary}`)
  .join('\n')}

\`vmc <command> --help\` describes one command.
exit codes: build/check 0 ok (warnings allowed), 1 errors; diff 0 same routing, 1 differs, 2 trouble.
`;

export async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  if (!cmd || cmd === '-h' || cmd === '--help' || cmd === 'help') {
    process.stdout.write(USAGE);
    return cmd ? 0 : 2;
  }
  if (cmd === '--version' || cmd === '-v') {
    const { COMPILER_VERSION } = await import('../compiler/emit-manifest.js');
    process.stdout.write(COMPILER_VERSION + '\n');
    return 0;
  }
  const found = Object.hasOwn(COMMANDS, cmd) ? COMMANDS[cmd] : undefined;
  if (found === undefined) {
    process.stderr.write(`vmc: unknown command ${JSON.stringify(cmd)}\n\n${USAGE}`);
    return 2;
  }
  const { usage, run } = await found.load();
  if (rest.includes('--help') || rest.includes('-h')) {
    process.stdout.write(usage);
    return 0;
  }
  try {
    return await run(rest);
  } catch (err) {
    if (err instanceof UsageError || (err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
      process.stderr.write(`vmc ${cmd}: ${(err as Error).message}\n${usage}`);
      return 2;
    }
    if (err instanceof TableFormatError) {
      process.stderr.write(`vmc ${cmd}: ${err.message}\n`);
      return 2;
    }
    throw err;
  }
}
