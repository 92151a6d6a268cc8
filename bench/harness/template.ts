/**
 * Request templates (SPEC §11): `{{n}}` is the request's sequence number (from 0, per run),
 * with integer `+ - * / %` and parentheses, e.g. `user-{{n % 100}}`. Parsed once into a
 * small tree and evaluated per request (no eval). `/` and `%` truncate toward zero, as
 * integer arithmetic does; a division by zero yields 0.
 */

type Expr = { k: 'n' } | { k: 'lit'; v: number } | { k: 'neg'; a: Expr } | { k: 'bin'; op: string; a: Expr; b: Expr };

/** A parsed template: literal parts and expressions, alternating. */
export interface Template {
  readonly source: string;
  /** True when the text has no `{{…}}` (render returns it as is). */
  readonly constant: boolean;
  render(n: number): string;
}

export class TemplateError extends Error {
  constructor(
    message: string,
    /** Offset in the template text. */
    readonly offset: number,
  ) {
    super(message);
  }
}

/** Parses `text`; throws TemplateError with the offset of the fault. */
export function parseTemplate(text: string): Template {
  const parts: (string | Expr)[] = [];
  let i = 0;
  while (i < text.length) {
    const open = text.indexOf('{{', i);
    if (open < 0) {
      parts.push(text.slice(i));
      break;
    }
    if (open > i) parts.push(text.slice(i, open));
    const close = text.indexOf('}}', open + 2);
    if (close < 0) throw new TemplateError('`{{` is never closed by `}}`', open);
    parts.push(parseExpr(text.slice(open + 2, close), open + 2));
    i = close + 2;
  }
  const constant = parts.every((p) => typeof p === 'string');
  const joined = constant ? parts.join('') : '';
  return {
    source: text,
    constant,
    render: constant
      ? () => joined
      : (n) => {
          let out = '';
          for (const p of parts) out += typeof p === 'string' ? p : String(evaluate(p, n));
          return out;
        },
  };
}

function evaluate(e: Expr, n: number): number {
  switch (e.k) {
    case 'n':
      return n;
    case 'lit':
      return e.v;
    case 'neg':
      return -evaluate(e.a, n);
    case 'bin': {
      const a = evaluate(e.a, n);
      const b = evaluate(e.b, n);
      switch (e.op) {
        case '+':
          return a + b;
        case '-':
          return a - b;
        case '*':
          return a * b;
        case '/':
          return b === 0 ? 0 : Math.trunc(a / b);
        default:
          return b === 0 ? 0 : a % b;
      }
    }
  }
}

/** Recursive descent: expr = term (('+'|'-') term)*; term = unary (('*'|'/'|'%') unary)*; unary = '-' unary | atom. */
function parseExpr(src: string, base: number): Expr {
  const tokens: { t: string; at: number }[] = [];
  for (let i = 0; i < src.length;) {
    const c = src[i];
    if (c === ' ' || c === '\t') {
      i++;
    } else if (/[0-9]/.test(c)) {
      let j = i;
      while (j < src.length && /[0-9]/.test(src[j])) j++;
      tokens.push({ t: src.slice(i, j), at: i });
      i = j;
    } else if (/[a-zA-Z_]/.test(c)) {
      let j = i;
      while (j < src.length && /[a-zA-Z0-9_]/.test(src[j])) j++;
      const word = src.slice(i, j);
      if (word !== 'n') throw new TemplateError(`unknown name "${word}" (only n is defined)`, base + i);
      tokens.push({ t: 'n', at: i });
      i = j;
    } else if ('+-*/%()'.includes(c)) {
      tokens.push({ t: c, at: i });
      i++;
    } else throw new TemplateError(`unexpected "${c}"`, base + i);
  }
  let p = 0;
  const peek = () => tokens[p]?.t;
  const fail = (what: string): never => {
    throw new TemplateError(what, base + (tokens[p]?.at ?? src.length));
  };
  const atom = (): Expr => {
    const t = peek();
    if (t === undefined) return fail('expression ends too early');
    if (t === '(') {
      p++;
      const e = sum();
      if (peek() !== ')') fail('missing ")"');
      p++;
      return e;
    }
    if (t === 'n') {
      p++;
      return { k: 'n' };
    }
    if (/^[0-9]+$/.test(t)) {
      p++;
      return { k: 'lit', v: Number(t) };
    }
    return fail(`unexpected "${t}"`);
  };
  const unary = (): Expr => {
    if (peek() === '-') {
      p++;
      return { k: 'neg', a: unary() };
    }
    return atom();
  };
  const product = (): Expr => {
    let e = unary();
    while (peek() === '*' || peek() === '/' || peek() === '%') {
      const op = tokens[p++].t;
      e = { k: 'bin', op, a: e, b: unary() };
    }
    return e;
  };
  const sum = (): Expr => {
    let e = product();
    while (peek() === '+' || peek() === '-') {
      const op = tokens[p++].t;
      e = { k: 'bin', op, a: e, b: product() };
    }
    return e;
  };
  if (tokens.length === 0) fail('empty expression');
  const e = sum();
  if (p < tokens.length) fail(`unexpected "${peek()}"`);
  return e;
}
