/**
 * The public API of the `vmc` package for TypeScript configs (SPEC §2):
 *
 *   import { defineConfig } from 'vmc';
 *   export default defineConfig({ version: 1, providers: { ... }, virtual_models: { ... } });
 *
 * The types are generated from schemas/vmc.schema.json (npm run gen:types), so a TS config is
 * checked against exactly what a YAML config is validated against.
 */
import type { VmcConfig } from './config-types.gen.js';

export type * from './config-types.gen.js';

/**
 * Identity function that types a config. It deliberately is not generic: a generic parameter
 * would disable TypeScript's excess-property check, and unknown keys must be errors.
 */
export function defineConfig(config: VmcConfig): VmcConfig {
  return config;
}
