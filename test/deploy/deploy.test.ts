/**
 * deploy/ (SPEC §14, docs/deploy.md): containers cannot run on this machine, so the files
 * are checked as far as we can without them — the Dockerfile parsed (stages, non-root user,
 * HEALTHCHECK on /health, every COPY source present) and its HEALTHCHECK and CMD run against
 * a real `vmc serve` on loopback; the compose file parsed (Redis, two replicas behind nginx,
 * the state URL pointing at the Redis service); nginx.conf tested by nginx itself; the
 * Kubernetes manifests validated against the Kubernetes schemas (kubernetes-models) and
 * checked for readiness on /health, the table from a ConfigMap, a PodDisruptionBudget and the
 * Redis URL from a Secret; the rolling-update script's refusals. The same processes run behind
 * nginx with Redis in test/replicas.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse as parseYaml, parseAllDocuments } from 'yaml';
import { buildTableFromYaml } from '../../compiler/testing.js';
import { NGINX, Nginx, ROOT, Replica, freePort, skipNote } from '../replicas/procs.js';

const DEPLOY = join(ROOT, 'deploy');

/** Dockerfile instructions: line continuations joined, comments and parser directives dropped. */
function dockerInstructions(text: string): { op: string; args: string; stage: number }[] {
  const out: { op: string; args: string; stage: number }[] = [];
  let stage = -1;
  let pending = '';
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (pending === '' && (line === '' || line.startsWith('#'))) continue;
    if (line.startsWith('#')) continue; // comments inside a continued instruction
    if (line.endsWith('\\')) {
      pending += line.slice(0, -1) + ' ';
      continue;
    }
    const full = (pending + line).trim();
    pending = '';
    const m = /^([A-Za-z]+)\s+([\s\S]*)$/.exec(full);
    if (m === null) throw new Error(`Dockerfile: cannot parse ${JSON.stringify(full)}`);
    const op = m[1].toUpperCase();
    if (op === 'FROM') stage++;
    out.push({ op, args: m[2].trim(), stage });
  }
  return out;
}

/** The exec form of CMD/ENTRYPOINT/HEALTHCHECK CMD: a JSON array of strings. */
function execForm(args: string): string[] {
  const v = JSON.parse(args) as unknown;
  if (!Array.isArray(v) || !v.every((x) => typeof x === 'string')) throw new Error(`not an exec form: ${args}`);
  return v;
}

const runNode = (args: string[], timeoutMs = 10_000): Promise<number | null> =>
  new Promise((resolve) => {
    const child = spawn(process.execPath, args, { stdio: 'ignore' });
    const t = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('exit', (code) => {
      clearTimeout(t);
      resolve(code);
    });
  });

let tablePath: string;
beforeAll(async () => {
  const dir = await mkdtemp(join(tmpdir(), 'vmc-deploy-'));
  tablePath = join(dir, 'table.vmct');
  await writeFile(
    tablePath,
    await buildTableFromYaml(`
version: 1
providers:
  up: { type: openai, base_url: http://127.0.0.1:9/v1, models: [a] }
virtual_models:
  m: { target: up/a }
`),
  );
});

describe('deploy/Dockerfile', () => {
  const text = readFileSync(join(DEPLOY, 'Dockerfile'), 'utf8');
  const ins = dockerInstructions(text);
  const last = Math.max(...ins.map((i) => i.stage));
  const final = ins.filter((i) => i.stage === last);

  it('is multi-stage: a named build stage, and a runtime stage that copies from it', () => {
    const froms = ins.filter((i) => i.op === 'FROM');
    expect(froms.length).toBeGreaterThanOrEqual(2);
    expect(froms[0].args).toMatch(/\sAS\s+build$/i);
    expect(final.some((i) => i.op === 'COPY' && i.args.startsWith('--from=build '))).toBe(true);
    // the final stage installs nothing and builds nothing: it copies
    expect(final.some((i) => i.op === 'RUN')).toBe(false);
  });

  it('runs as a non-root user, exposes 8080, and checks /health', () => {
    const users = final.filter((i) => i.op === 'USER').map((i) => i.args);
    expect(users.length).toBe(1);
    expect(users[0]).not.toMatch(/^(root|0)(:|$)/);
    expect(final.some((i) => i.op === 'EXPOSE' && i.args.split(/\s+/).includes('8080'))).toBe(true);
    const hc = final.filter((i) => i.op === 'HEALTHCHECK');
    expect(hc.length).toBe(1);
    expect(hc[0].args).toMatch(/\bCMD\s+\[/);
    expect(hc[0].args).toContain('/health');
  });

  it('copies only what exists in the repository (build context = the repository root)', () => {
    for (const i of ins.filter((x) => x.op === 'COPY' && !x.args.startsWith('--from='))) {
      const parts = i.args.split(/\s+/).filter((p) => !p.startsWith('--'));
      for (const src of parts.slice(0, -1)) expect(existsSync(join(ROOT, src)), `COPY ${src}`).toBe(true);
    }
    // and the runtime stage copies what `vmc serve` loads: the CLI entry, dist/, node_modules
    const copied = final.filter((i) => i.op === 'COPY').map((i) => i.args);
    for (const need of ['/src/dist', '/src/node_modules', '/src/bin/vmc.js']) expect(copied.some((c) => c.includes(need))).toBe(true);
  });

  it('its HEALTHCHECK and CMD work against a real vmc serve (port and table path as on loopback)', async () => {
    const port = await freePort();
    const entry = execForm(final.find((i) => i.op === 'ENTRYPOINT')!.args);
    const cmd = execForm(final.find((i) => i.op === 'CMD')!.args);
    expect(entry).toEqual(['node', '/app/bin/vmc.js']);
    // CMD as the image runs it, with this machine's table and a free port on loopback
    const args = cmd.map((a) => (a === '/etc/vmc/table.vmct' ? tablePath : a === '0.0.0.0' ? '127.0.0.1' : a === '8080' ? '0' : a));
    expect(args.slice(0, 1)).toEqual(['serve']);
    const replica = await Replica.exec(args);
    try {
      const hc = execForm(final.find((i) => i.op === 'HEALTHCHECK')!.args.replace(/^.*?\bCMD\s+/, ''));
      expect(hc[0]).toBe('node');
      const probe = hc.slice(1).map((a) => a.replace('127.0.0.1:8080', `127.0.0.1:${replica.port}`));
      expect(await runNode(probe)).toBe(0);
      // and it fails when nothing answers
      expect(await runNode(hc.slice(1).map((a) => a.replace('127.0.0.1:8080', `127.0.0.1:${port}`)))).toBe(1);
    } finally {
      await replica.stop();
    }
  });
});

describe('deploy/docker-compose.yml', () => {
  const compose = parseYaml(readFileSync(join(DEPLOY, 'docker-compose.yml'), 'utf8'), { merge: true }) as {
    services: Record<string, Record<string, unknown>>;
  };
  const s = compose.services;

  it('runs Redis and two vmc replicas behind nginx', () => {
    expect(Object.keys(s).sort()).toEqual(['nginx', 'redis', 'vmc-1', 'vmc-2']);
    expect(String(s.redis.image)).toMatch(/^redis:/);
    expect(String(s.nginx.image)).toMatch(/^nginx:/);
    for (const name of ['vmc-1', 'vmc-2']) {
      const v = s[name] as {
        build: { dockerfile: string; context: string };
        environment: Record<string, string>;
        volumes: string[];
        command: string[];
        depends_on: Record<string, { condition: string }>;
      };
      expect(v.build).toEqual({ context: '..', dockerfile: 'deploy/Dockerfile' });
      expect(v.environment.VMC_STATE_URL).toMatch(/^redis:\/\/:\$\{REDIS_PASSWORD[^}]*\}@redis:6379\/0$/);
      expect(v.environment.VMC_ADMIN_TOKEN).toContain('${VMC_ADMIN_TOKEN');
      // the table directory, not the file: an atomic rename must be visible in the container
      expect(v.volumes).toContain('./table:/etc/vmc:ro');
      expect(v.command).toEqual(['serve', '--table', '/etc/vmc/table.vmct', '--host', '0.0.0.0', '--port', '8080']);
      expect(v.depends_on.redis.condition).toBe('service_healthy');
    }
    expect(existsSync(join(DEPLOY, 'table/README.md'))).toBe(true);
  });

  it('mounts deploy/nginx.conf, whose upstream lists exactly the compose replicas', () => {
    expect(s.nginx.volumes).toContain('./nginx.conf:/etc/nginx/nginx.conf:ro');
    const conf = readFileSync(join(DEPLOY, 'nginx.conf'), 'utf8');
    const servers = [...conf.matchAll(/^\s*server\s+([\w.-]+):8080\b/gm)].map((m) => m[1]);
    expect(servers).toEqual(['vmc-1', 'vmc-2']);
  });
});

describe.skipIf(NGINX === null)('deploy/nginx.conf', () => {
  skipNote('nginx.conf check', NGINX === null ? ['nginx'] : []);
  it('passes nginx -t (as the tests run it: loopback upstreams, a temporary prefix)', async () => {
    const prefix = await mkdtemp(join(tmpdir(), 'vmc-nginx-t-'));
    const conf = join(prefix, 'nginx.conf');
    await writeFile(conf, Nginx.config(await freePort(), [await freePort(), await freePort()], prefix));
    const r = spawnSync(NGINX!, ['-t', '-p', prefix, '-c', conf, '-e', join(prefix, 'error.log')], { encoding: 'utf8' });
    expect(r.stderr).toMatch(/syntax is ok/);
    expect(r.status, r.stderr).toBe(0);
  });
});

describe('deploy/k8s (validated against the Kubernetes schemas)', () => {
  const dir = join(DEPLOY, 'k8s');
  const kustomization = parseYaml(readFileSync(join(dir, 'kustomization.yaml'), 'utf8')) as {
    resources: string[];
    configMapGenerator: { name: string; files: string[] }[];
  };
  const docs = kustomization.resources.flatMap((f) =>
    parseAllDocuments(readFileSync(join(dir, f), 'utf8')).map((d) => ({ file: f, obj: d.toJS() as Record<string, any> })),
  );
  const find = (kind: string, name: string) => docs.find((d) => d.obj.kind === kind && d.obj.metadata?.name === name)?.obj;

  it('every resource is valid for its apiVersion and kind', async () => {
    const models: Record<string, () => Promise<new (o: any) => { validate(): void }>> = {
      'apps/v1/Deployment': async () => (await import('kubernetes-models/apps/v1/Deployment')).Deployment,
      'v1/Service': async () => (await import('kubernetes-models/v1/Service')).Service,
      'v1/Secret': async () => (await import('kubernetes-models/v1/Secret')).Secret,
      'v1/Namespace': async () => (await import('kubernetes-models/v1/Namespace')).Namespace,
      'policy/v1/PodDisruptionBudget': async () => (await import('kubernetes-models/policy/v1/PodDisruptionBudget')).PodDisruptionBudget,
    };
    expect(docs.length).toBeGreaterThanOrEqual(7);
    for (const { file, obj } of docs) {
      const model = models[`${obj.apiVersion}/${obj.kind}`];
      expect(model, `${file}: ${obj.apiVersion} ${obj.kind} has no validator here`).toBeDefined();
      const Model = await model();
      expect(() => new Model(obj).validate(), `${file}: ${obj.kind} ${obj.metadata?.name}`).not.toThrow();
    }
    // and the validator does refuse a broken one (so the loop above can fail)
    const Deployment = await models['apps/v1/Deployment']();
    const broken = structuredClone(find('Deployment', 'vmc')!);
    broken.spec.template.spec.containers[0].ports[0].containerPort = 'eighty';
    expect(() => new Deployment(broken).validate()).toThrow(/containerPort/);
  });

  it('the Deployment: readiness on /health, the table from the generated ConfigMap, Redis from a Secret, no unavailable replica in a rollout', () => {
    const d = find('Deployment', 'vmc')!;
    const c = d.spec.template.spec.containers[0];
    expect(c.readinessProbe.httpGet).toEqual({ path: '/health', port: 'http' });
    expect(c.livenessProbe.httpGet.path).toBe('/health');
    expect(c.args).toEqual(['serve', '--table', '/etc/vmc/table.vmct', '--host', '0.0.0.0', '--port', '8080']);
    const env = Object.fromEntries((c.env as { name: string; valueFrom?: any }[]).map((e) => [e.name, e.valueFrom?.secretKeyRef]));
    expect(env.VMC_STATE_URL).toEqual({ name: 'vmc', key: 'VMC_STATE_URL' });
    expect(env.VMC_ADMIN_TOKEN).toEqual({ name: 'vmc', key: 'VMC_ADMIN_TOKEN' });
    const mount = c.volumeMounts.find((m: any) => m.mountPath === '/etc/vmc');
    const volume = d.spec.template.spec.volumes.find((v: any) => v.name === mount.name);
    expect(volume.configMap.name).toBe('vmc-table');
    expect(kustomization.configMapGenerator).toEqual([{ name: 'vmc-table', files: ['table/table.vmct'] }]);
    expect(d.spec.strategy.rollingUpdate.maxUnavailable).toBe(0);
    expect(d.spec.template.spec.securityContext.runAsNonRoot).toBe(true);
    expect(d.spec.template.spec.terminationGracePeriodSeconds).toBeGreaterThan(30); // vmc drains for up to 30 s
    // the Secret it reads defines the keys
    const secret = find('Secret', 'vmc')!;
    expect(Object.keys(secret.stringData)).toEqual(expect.arrayContaining(['VMC_STATE_URL', 'VMC_ADMIN_TOKEN']));
    expect(secret.stringData.VMC_STATE_URL).toMatch(/^rediss?:\/\//);
  });

  it('a PodDisruptionBudget and a Service select the Deployment pods', () => {
    const labels = find('Deployment', 'vmc')!.spec.template.metadata.labels;
    const pdb = find('PodDisruptionBudget', 'vmc')!;
    expect(pdb.spec.selector.matchLabels).toEqual(labels);
    expect(pdb.spec.maxUnavailable ?? pdb.spec.minAvailable).toBeDefined();
    expect(find('Service', 'vmc')!.spec.selector).toEqual(labels);
  });
});

describe('deploy/rolling-update.sh', () => {
  const script = join(DEPLOY, 'rolling-update.sh');
  it('is valid bash and refuses bad input with exit 2', async () => {
    expect(spawnSync('bash', ['-n', script]).status).toBe(0);
    expect(spawnSync('bash', [script]).status).toBe(2);
    const notTable = join(await mkdtemp(join(tmpdir(), 'vmc-ru-')), 'x.vmct');
    await writeFile(notTable, 'hello');
    const r = spawnSync('bash', [script, notTable, 'http://127.0.0.1:9=/tmp/x'], { encoding: 'utf8' });
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/not a vmc routing table/);
    const r2 = spawnSync('bash', [script, tablePath, 'http://127.0.0.1:9'], { encoding: 'utf8' });
    expect(r2.status).toBe(2);
    expect(r2.stderr).toMatch(/HEALTH_URL=TABLE_PATH/);
  });
  it('stops at a replica that does not answer, touching nothing', async () => {
    const r = spawnSync('bash', [script, tablePath, `http://127.0.0.1:${await freePort()}=/nonexistent/table.vmct`], { encoding: 'utf8' });
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/does not answer/);
  });
});
