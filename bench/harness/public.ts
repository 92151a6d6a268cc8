/**
 * The scenario API for TypeScript scenarios (SPEC §11):
 *
 *   import { defineScenario } from 'vmc';
 *   export default defineScenario({ bench: 1, gateway: { config: './vmc.yaml' }, load: [...] });
 *
 * `vmc bench` resolves the `vmc` import to this module while type-checking the scenario, and
 * to an identity shim while evaluating it, so a scenario needs no build and no installed
 * package. The types are generated from schemas/scenario.schema.json.
 */
import type { BenchScenario } from './scenario-types.gen.js';

export type * from './scenario-types.gen.js';
export type { VmcConfig } from '../../compiler/public.js';
export { defineConfig } from '../../compiler/public.js';

/** Identity function that types a scenario (not generic: unknown keys must be errors). */
export function defineScenario(scenario: BenchScenario): BenchScenario {
  return scenario;
}
