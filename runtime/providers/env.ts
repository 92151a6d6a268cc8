/**
 * `${ENV}` references in provider `headers` and `query` settings (SPEC §13): the table keeps
 * the template; the gateway resolves it from its environment when a table is loaded, and an
 * unset variable is a start-up error naming the provider and the variable — never a request
 * sent with an empty credential.
 */
import type { NormProviderOptions } from '../table/normalized.js';
import { ENV_REFERENCE } from '../table/provider-types.js';

/** An environment variable a provider needs is not set (the message names both). */
export class ProviderEnvError extends Error {
  override name = 'ProviderEnvError';
  constructor(
    readonly provider: string,
    readonly variable: string,
  ) {
    super(`provider ${provider}: environment variable ${variable} is not set`);
  }
}

/** The environment a gateway reads (process.env, or a test's own). */
export type Env = Readonly<Record<string, string | undefined>>;

/** `template` with every `${NAME}` replaced by its value. Throws ProviderEnvError for an unset one. */
export function resolveTemplate(provider: string, template: string, env: Env): string {
  return template.replace(ENV_REFERENCE, (_, name: string) => {
    const v = env[name];
    if (v === undefined) throw new ProviderEnvError(provider, name);
    return v;
  });
}

/** Resolves every value of `[name, template]` pairs. */
export function resolvePairs(provider: string, pairs: readonly (readonly [string, string])[] | undefined, env: Env): [string, string][] {
  return (pairs ?? []).map(([k, v]) => [k, resolveTemplate(provider, v, env)]);
}

/**
 * Every unset variable the `headers` / `query` templates of the given providers reference, as
 * ProviderEnvErrors in provider order (for one start-up message listing them all).
 */
export function missingTemplateVariables(
  providers: readonly { name: string; options?: NormProviderOptions | null }[],
  env: Env,
): ProviderEnvError[] {
  const out: ProviderEnvError[] = [];
  for (const p of providers) {
    const seen = new Set<string>();
    for (const [, template] of [...(p.options?.headers ?? []), ...(p.options?.query ?? [])]) {
      for (const m of template.matchAll(ENV_REFERENCE)) {
        const name = m[1];
        if (env[name] === undefined && !seen.has(name)) {
          seen.add(name);
          out.push(new ProviderEnvError(p.name, name));
        }
      }
    }
  }
  return out;
}
