/**
 * NormConfig → native config object (the YAML shape of schemas/vmc.schema.json).
 *
 * Used where a config must be edited without its source files: the gateway's admin API
 * decodes the served table (`RoutingTable.toNormalized()`), denormalizes it, applies the
 * admin changes, and recompiles through the normal front end. Every value is written out
 * explicitly, so re-normalizing gives back the same routing (tested).
 */
import type { NormConfig, NormMiddlewareCall, NormProviderOptions, NormTarget, NormVirtualModel } from '../../runtime/table/normalized.js';

type Json = Record<string, unknown>;

/** One middleware call in native form (fields at their defaults left out). */
export function denormalizeMiddlewareCall(c: NormMiddlewareCall): Json {
  const out: Json = { name: c.name };
  if (c.configType !== '') out.config_type = c.configType;
  if (c.config !== null) out.config = JSON.parse(c.config);
  if (c.configId !== null) out.config_id = c.configId;
  return out;
}

function middlewareCalls(calls: NormMiddlewareCall[]): Json[] {
  return calls.map(denormalizeMiddlewareCall);
}

function target(t: NormTarget): Json {
  const out: Json = {
    target: `${t.provider}/${t.model}`,
    weight: t.weight,
    priority: t.priority,
    retry: { attempts: t.retry.attempts, delay_ms: t.retry.delayMs, on_status: [...t.retry.onStatus] },
    fallback_on: [...t.fallbackOn],
    fallback_candidate: t.fallbackCandidate,
  };
  if (t.overrideParams !== null) out.override_params = JSON.parse(t.overrideParams);
  if (t.headersSet.length || t.headersRemove.length) {
    out.headers = { set: Object.fromEntries(t.headersSet), remove: [...t.headersRemove] };
  }
  if (t.metadataMatch.length) out.metadata_match = Object.fromEntries(t.metadataMatch);
  if (t.maxTtftMs || t.maxTimePerOutputTokenMs) {
    const sla: Json = {};
    if (t.maxTtftMs) sla.max_ttft_ms = t.maxTtftMs;
    if (t.maxTimePerOutputTokenMs) sla.max_time_per_output_token_ms = t.maxTimePerOutputTokenMs;
    out.sla = sla;
  }
  if (t.backendFormat !== null) out.backend_format = t.backendFormat;
  return out;
}

/** Can this target be written as a bare `target:` string (every per-target field at its default)? */
function isPlain(t: NormTarget): boolean {
  return (
    t.weight === 1 &&
    t.priority === 0 &&
    t.fallbackCandidate &&
    t.overrideParams === null &&
    t.headersSet.length === 0 &&
    t.headersRemove.length === 0 &&
    t.metadataMatch.length === 0 &&
    t.maxTtftMs === 0 &&
    t.maxTimePerOutputTokenMs === 0 &&
    t.backendFormat === null
  );
}

/** One virtual model as a native body. */
export function denormalizeVirtualModel(vm: NormVirtualModel): Json {
  const out: Json = {};
  if (vm.slug !== null) out.slug = vm.slug;
  if (vm.description !== '') out.description = vm.description;
  if (vm.modelTypes.length) out.model_types = [...vm.modelTypes];
  out.enabled = vm.enabled;
  if (vm.userPaths.length) out.user_paths = [...vm.userPaths];
  // A policy has no target: its name is the catalogued model it gates.
  if (vm.kind === 'redirect' && vm.targets.length === 1 && isPlain(vm.targets[0])) {
    // The redirect form keeps kind `redirect`; its retry/fallback settings move to the vm.
    const t = vm.targets[0];
    out.target = `${t.provider}/${t.model}`;
    if (vm.strategy !== 'weighted') out.strategy = vm.strategy;
    out.retry = { attempts: t.retry.attempts, delay_ms: t.retry.delayMs, on_status: [...t.retry.onStatus] };
    out.fallback_on = [...t.fallbackOn];
  } else if (vm.kind !== 'policy') {
    out.strategy = vm.strategy;
    out.targets = vm.targets.map(target);
  }
  if (vm.sticky) out.sticky = { ttl_seconds: vm.sticky.ttlSeconds, keys: vm.sticky.keys.map((k) => ({ source: k.source, key: k.key })) };
  const mw = vm.middleware;
  if (mw.request.length || mw.response.length || mw.postResponse.length) {
    out.middleware = {
      request: middlewareCalls(mw.request),
      response: middlewareCalls(mw.response),
      post_response: middlewareCalls(mw.postResponse),
    };
  }
  return out;
}

/** A provider's SPEC §13 settings as native keys (defaults filled in by normalize are written out). */
export function denormalizeProviderOptions(o: NormProviderOptions): Json {
  const out: Json = {};
  if (o.auth !== undefined) out.auth = o.auth.kind === 'none' ? { none: true } : { [o.auth.kind]: o.auth.name };
  if (o.headers !== undefined) out.headers = Object.fromEntries(o.headers);
  if (o.query !== undefined) out.query = Object.fromEntries(o.query);
  if (o.apiVersion !== undefined) out.api_version = o.apiVersion;
  if (o.deployments !== undefined) out.deployments = Object.fromEntries(o.deployments);
  if (o.region !== undefined) out.region = o.region;
  if (o.credentialsEnv !== undefined) {
    const c = o.credentialsEnv;
    out.credentials_env = {
      access_key_id: c.accessKeyId,
      secret_access_key: c.secretAccessKey,
      ...(c.sessionToken !== null ? { session_token: c.sessionToken } : {}),
    };
  }
  if (o.project !== undefined) out.project = o.project;
  if (o.location !== undefined) out.location = o.location;
  if (o.credentialsFileEnv !== undefined) out.credentials_file_env = o.credentialsFileEnv;
  return out;
}

/** The whole config as a native config object. */
export function denormalize(config: NormConfig): Json {
  const providers: Json = {};
  for (const p of config.providers) {
    const body: Json = { type: p.type, base_url: p.baseUrl, models: [...p.models] };
    if (p.apiKeyEnv !== null) body.api_key_env = p.apiKeyEnv;
    if (p.timeoutMs) body.timeout_ms = p.timeoutMs;
    if (p.options !== undefined) Object.assign(body, denormalizeProviderOptions(p.options));
    providers[p.name] = body;
  }
  const virtualModels: Json = {};
  for (const vm of config.virtualModels) virtualModels[vm.name] = denormalizeVirtualModel(vm);
  return {
    version: 1,
    settings: { passthrough: config.settings.passthrough, models_endpoint: config.settings.modelsEndpoint },
    providers,
    virtual_models: virtualModels,
  };
}
