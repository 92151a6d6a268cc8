/**
 * The `routing` part of `npm run bench`: the routing contract under load, cooldown timing
 * and the load generator's ceiling, as scenarios of bench/scenarios/ run through `vmc bench`
 * (bench/lib/vmc-bench.mjs). --quick shortens the phases and skips the cooldown scenario
 * (vmc's first ejection lasts 30 s, so recovery needs a long phase).
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { TMP, fmt, freePort } from './common.mjs';
import { SCENARIOS, ceilingMarkdown, routingMarkdown, runScenario, trimResults } from './vmc-bench.mjs';

/**
 * generator-ceiling.yaml names a fixed port (its "gateway" is the simulator itself): a copy
 * on a free one, with `threads` generator threads.
 */
async function ceilingScenario(threads) {
  const port = await freePort();
  let text = readFileSync(join(SCENARIOS, 'generator-ceiling.yaml'), 'utf8').replaceAll('18191', String(port));
  if (threads > 1) text = text.replace(/^load:/m, `generator: { threads: ${threads} }\nload:`);
  mkdirSync(join(TMP, 'scenarios'), { recursive: true });
  const file = join(TMP, 'scenarios', `generator-ceiling-${threads}.yaml`);
  writeFileSync(file, text);
  return file;
}

export async function runRouting({ quick = false } = {}) {
  const short = quick ? ['--duration', '2'] : [];
  const out = {};
  out.routing = trimResults((await runScenario(join(SCENARIOS, 'routing.yaml'), { args: short, label: 'routing' })).results);
  out.ttft = trimResults((await runScenario(join(SCENARIOS, 'ttft.yaml'), { args: short, label: 'ttft' })).results);
  if (!quick) out.cooldown = trimResults((await runScenario(join(SCENARIOS, 'cooldown.yaml'), { label: 'cooldown' })).results);
  const ceilingArgs = quick ? ['--duration', '1'] : [];
  out.generator = trimResults((await runScenario(await ceilingScenario(1), { args: ceilingArgs, label: 'generator-ceiling' })).results);
  out.generator2 = trimResults(
    (await runScenario(await ceilingScenario(2), { args: ceilingArgs, label: 'generator-ceiling-2-threads' })).results,
  );
  return { quick, scenarios: out };
}

export function routingGoals(part) {
  const goals = [];
  for (const [key, r] of Object.entries(part.scenarios)) {
    if (key.startsWith('generator')) continue;
    for (const t of r.thresholds)
      goals.push({ goal: `${key}: \`${t.expr}\``, value: t.value === null ? 'no value' : fmt.f3(t.value), met: t.ok });
  }
  return goals;
}

export function routingSection(part, runLine) {
  const L = ['## Routing contract, cooldown and the load generator (scenarios through `vmc bench`)', '', `Run: ${runLine}.`, ''];
  const s = part.scenarios;
  if (s.routing) L.push('### Routing contract under load', '', routingMarkdown(s.routing, 'bench/scenarios/routing.yaml'));
  if (s.ttft) L.push('### Time to first token on streams', '', routingMarkdown(s.ttft, 'bench/scenarios/ttft.yaml'));
  if (s.cooldown)
    L.push(
      '### Cooldown after an outage',
      '',
      'The outage covers part of the phase, so the expected shares are those without it (SPEC §11: shorter windows leave expected shares ' +
        'unchanged) and the share check of `chat` fails by design: it shows how much traffic the outage moved.',
      '',
      routingMarkdown(s.cooldown, 'bench/scenarios/cooldown.yaml'),
    );
  else L.push('### Cooldown after an outage', '', '_Not run (`--quick`)._', '');
  if (s.generator) L.push("### The load generator's ceiling", '', ceilingMarkdown(s.generator, s.generator2));
  return L.join('\n');
}
