/** Builders for normalized configs in tests (defaults of SPEC §2 filled in). */
import {
  defaultTarget,
  defaultVirtualModel,
  type NormConfig,
  type NormProvider,
  type NormTarget,
  type NormVirtualModel,
} from '../../runtime/table/normalized.js';

export function target(label: string, extra: Partial<NormTarget> = {}): NormTarget {
  const slash = label.indexOf('/');
  return { ...defaultTarget(label.slice(0, slash), label.slice(slash + 1)), ...extra };
}

export function vm(name: string, targets: NormTarget[], extra: Partial<NormVirtualModel> = {}): NormVirtualModel {
  return { ...defaultVirtualModel(name, targets), ...extra };
}

export function provider(name: string, models: string[], extra: Partial<NormProvider> = {}): NormProvider {
  return {
    name,
    type: 'openai',
    baseUrl: `http://127.0.0.1:1/${name}`,
    apiKeyEnv: null,
    models: [...models].sort(),
    timeoutMs: 0,
    ...extra,
  };
}

/** A config from virtual models; providers are derived from the targets unless given. */
export function config(virtualModels: NormVirtualModel[], extra: Partial<NormConfig> = {}): NormConfig {
  const models = new Map<string, Set<string>>();
  for (const v of virtualModels) {
    for (const t of v.targets) {
      if (!models.has(t.provider)) models.set(t.provider, new Set());
      models.get(t.provider)!.add(t.model);
    }
  }
  const providers = [...models.entries()].sort(([a], [b]) => (a < b ? -1 : 1)).map(([name, set]) => provider(name, [...set]));
  return {
    version: 1,
    settings: { passthrough: true, modelsEndpoint: 'all' },
    providers,
    virtualModels: [...virtualModels].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)),
    ...extra,
  };
}
