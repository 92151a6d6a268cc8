/**
 * Structured logging: one JSON object per line on stderr (or an injected sink).
 *
 * The level comes from `VMC_LOG` (`info` | `warn` | `silent`, default `info`). Log lines are
 * built only when the level admits them, so a `silent` gateway pays one comparison per call.
 *
 * Logging never takes the process down: when the reader of stderr goes away (a closed pipe,
 * `vmc serve 2>&1 | head`, a log shipper that died), writes fail with EPIPE, which Node
 * reports as an `'error'` event on `process.stderr` — unhandled, that kills the process
 * mid-request and without a drain. The default sink handles it: the first failure turns
 * stderr logging off and the gateway goes on serving (and still drains on SIGTERM). A sink
 * that throws is ignored the same way, for that line.
 */

export type LogLevel = 'info' | 'warn' | 'silent';

const LEVEL_RANK: Record<LogLevel, number> = { info: 0, warn: 1, silent: 2 };
const ERROR_RANK = 1; // errors print at `warn` and `info`, never at `silent`

/** Fields of the one line written per finished request. */
export interface RequestLogFields {
  method: string;
  path: string;
  status: number;
  virtual_model: string | null;
  target: string | null;
  attempts: number;
  ms: number;
  /** With caller keys on (SPEC §12): the presented key's id (null when none was known) — never the key. */
  key_id?: string | null;
  /** With caller keys on: the caller's user path (the key's, narrowed by `x-vmc-user-path`); null before authentication. */
  user_path?: string | null;
}

/** Who called, with caller keys on (the access line carries it; SPEC §12). */
export interface AccessCaller {
  readonly keyId: string | null;
  readonly userPath: string | null;
}

export interface Logger {
  readonly level: LogLevel;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
  /** The per-request access line (level info). */
  request(fields: RequestLogFields): void;
}

export interface LoggerOptions {
  /** Default: `process.env.VMC_LOG`, else `info`. */
  level?: LogLevel;
  /** Receives each line without the trailing newline. Default: write to stderr. */
  sink?: (line: string) => void;
}

/** Parses a `VMC_LOG` value; anything unknown means `info`. */
export function parseLogLevel(value: string | undefined): LogLevel {
  return value === 'warn' || value === 'silent' || value === 'info' ? value : 'info';
}

/** Set once a write to stderr failed: later lines are dropped instead of failing again. */
let stderrBroken = false;
let stdioGuarded = false;

/**
 * Makes a broken stdout/stderr harmless for the whole process: their `'error'` events (EPIPE
 * once the reader is gone) no longer crash it; a broken stderr turns the default sink off.
 */
export function guardStdio(): void {
  if (stdioGuarded) return;
  stdioGuarded = true;
  process.stderr.on('error', () => {
    stderrBroken = true;
  });
  process.stdout.on('error', () => {
    /* a closed stdout (e.g. `| head`) must not kill the gateway either */
  });
}

/** True once stderr writes have failed (logging to it is off). */
export function stderrLoggingBroken(): boolean {
  return stderrBroken;
}

function stderrSink(line: string): void {
  if (stderrBroken) return;
  try {
    process.stderr.write(line + '\n');
  } catch {
    stderrBroken = true; // a synchronous failure (destroyed stream)
  }
}

/** Creates a logger. Lines look like `{"ts":"…","level":"info","msg":"…",…fields}`. */
export function createLogger(opts: LoggerOptions = {}): Logger {
  const level = opts.level ?? parseLogLevel(process.env.VMC_LOG);
  const rank = LEVEL_RANK[level];
  const sink = opts.sink ?? stderrSink;
  if (opts.sink === undefined && level !== 'silent') guardStdio();

  function emit(lvl: string, msg: string, fields: Record<string, unknown> | undefined): void {
    const line: Record<string, unknown> = { ts: new Date().toISOString(), level: lvl, msg };
    if (fields !== undefined) {
      for (const k in fields) {
        const v = fields[k];
        line[k] = v instanceof Error ? v.message : v;
      }
    }
    let text: string;
    try {
      text = JSON.stringify(line);
    } catch {
      text = JSON.stringify({ ts: line.ts, level: lvl, msg, note: 'unserializable fields' });
    }
    try {
      sink(text);
    } catch {
      /* a failing sink loses this line, never the request that logged it */
    }
  }

  return {
    level,
    info(msg, fields) {
      if (rank <= 0) emit('info', msg, fields);
    },
    warn(msg, fields) {
      if (rank <= 1) emit('warn', msg, fields);
    },
    error(msg, fields) {
      if (rank <= ERROR_RANK) emit('error', msg, fields);
    },
    request(fields) {
      if (rank <= 0) emit('info', 'request', fields as unknown as Record<string, unknown>);
    },
  };
}

/**
 * Writes the access line of a finished request: `startedAt` is its `performance.now()` at
 * arrival; routes that resolved no virtual model leave the routing fields at their defaults.
 */
export function logAccess(
  log: Logger,
  req: { readonly method: string; readonly url: string },
  status: number,
  startedAt: number,
  virtualModel: string | null = null,
  target: string | null = null,
  attempts = 0,
  caller: AccessCaller | null = null,
): void {
  if (log.level !== 'info') return;
  const fields: RequestLogFields = {
    method: req.method,
    path: req.url,
    status,
    virtual_model: virtualModel,
    target,
    attempts,
    ms: Math.round((performance.now() - startedAt) * 10) / 10,
  };
  if (caller !== null) {
    fields.key_id = caller.keyId;
    fields.user_path = caller.userPath;
  }
  log.request(fields);
}

/** A logger that drops everything (tests, benchmarks). */
export const silentLogger: Logger = createLogger({ level: 'silent' });
