import { ChildProcess, spawn, spawnSync, SpawnSyncReturns } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { CHART_DIR as REPO_CHART_DIR, ROOT } from './deploy-tools';
import { eventually } from '../support/eventually';

// The Helm chart against a real Kubernetes control plane: etcd, kube-apiserver,
// kube-controller-manager and kube-scheduler built from the Go module proxy, with kwok simulating
// the nodes (scripts/kube). The real API server checks schemas, immutable fields and Pod Security
// admission; the real controllers create ReplicaSets and pods, autoscale and garbage-collect; the
// real scheduler places pods (or leaves them Pending). kwok runs no containers: it marks scheduled
// pods Running/Ready and completes `helm test` pods (scripts/kube.d/stages.yaml), so what happens
// inside the pods is covered by the compose stack, not here.
//
// Every command below is what README "Install on Kubernetes" tells an operator to run: plain helm
// against deploy/helm/pipeline-secrets, with the prerequisite Secrets created first.

// KUBE_SPEC_CHART_DIR runs this suite against another copy of the chart (e.g. the previous
// version, `git archive`d, to see what a fix changed); by default, the repository's.
const CHART_DIR = process.env.KUBE_SPEC_CHART_DIR ?? REPO_CHART_DIR;

/** A cold build of the control plane takes tens of minutes on 2 cores; a warm `up` seconds. */
const UP_TIMEOUT_MS = 75 * 60_000;
const WAIT = '180s';
jest.setTimeout(8 * 60_000);

let env: NodeJS.ProcessEnv;
let helm: string;
let kubectl: string;
let work: string;
let startedByUs = false;
const namespaces: string[] = [];

function sh(cmd: string, args: string[], opts: { input?: string; timeoutMs?: number } = {}): SpawnSyncReturns<string> {
  const r = spawnSync(cmd, args, { encoding: 'utf8', cwd: ROOT, env, input: opts.input, timeout: opts.timeoutMs ?? 5 * 60_000, maxBuffer: 64 * 1024 * 1024 });
  if (r.error) throw new Error(`${cmd} ${args.join(' ')} could not run: ${r.error.message}`);
  return r;
}
function ok(r: SpawnSyncReturns<string>, what: string): string {
  if (r.status !== 0) throw new Error(`${what} failed (exit ${r.status}):\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}
const k = (...args: string[]) => sh(kubectl, args);
const h = (...args: string[]) => sh(helm, args);
const kOk = (...args: string[]) => ok(k(...args), `kubectl ${args.join(' ')}`);
const hOk = (...args: string[]) => ok(h(...args), `helm ${args.join(' ')}`);
const values = (file: string) => ['-f', join(CHART_DIR, file)];
const extra = (yaml: string) => {
  const path = join(work, `values-${Math.random().toString(36).slice(2)}.yaml`);
  writeFileSync(path, yaml);
  return ['-f', path];
};

function script(args: string[], timeoutMs: number): string {
  const r = spawnSync('bash', [join(ROOT, 'scripts', 'kube'), ...args], { encoding: 'utf8', cwd: ROOT, timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024 });
  if (r.error) throw new Error(`scripts/kube ${args.join(' ')} could not run: ${r.error.message}`);
  if (r.status !== 0) throw new Error(`scripts/kube ${args.join(' ')} failed (exit ${r.status}):\n${r.stderr}`);
  return r.stdout;
}

beforeAll(() => {
  startedByUs = !/^kube-apiserver: running/m.test(script(['status'], 60_000));
  script(['up'], UP_TIMEOUT_MS);
  // eval "$(scripts/kube env)", as the README says
  env = { ...process.env };
  for (const line of script(['env'], 30 * 60_000).split('\n')) {
    const m = /^export (\w+)=(.*)$/.exec(line);
    if (m) env[m[1]] = m[2].replace(/\$PATH\b/, process.env.PATH ?? '');
  }
  helm = env.HELM!;
  kubectl = env.KUBECTL!;
  expect(env.KUBECONFIG).toMatch(/admin\.kubeconfig$/);
  work = mkdtempSync(join(tmpdir(), 'ps-kube-'));
}, UP_TIMEOUT_MS);

afterAll(() => {
  if (kubectl) for (const ns of namespaces) k('delete', 'namespace', ns, '--wait=false');
  if (work) rmSync(work, { recursive: true, force: true });
  if (startedByUs && process.env.KEEP_KUBE !== '1') script(['down'], 5 * 60_000);
}, 10 * 60_000);

/**
 * A fresh namespace holding what the chart expects to exist before `helm install` (README,
 * "Credentials"): the Secrets it reads and never creates. Values are placeholders: nothing runs
 * inside the simulated pods.
 */
function namespace(name: string, labels: Record<string, string> = {}): string {
  const ns = `${name}-${Math.random().toString(36).slice(2, 7)}`;
  namespaces.push(ns);
  kOk('create', 'namespace', ns);
  if (Object.keys(labels).length) kOk('label', 'namespace', ns, ...Object.entries(labels).map(([l, v]) => `${l}=${v}`));
  kOk('-n', ns, 'create', 'secret', 'generic', 'pipeline-secrets-database', '--from-literal=DATABASE_URL=postgres://u:p@postgres:5432/secrets?sslmode=verify-full');
  kOk('-n', ns, 'create', 'secret', 'generic', 'pipeline-secrets-openbao', '--from-literal=token=placeholder');
  kOk('-n', ns, 'create', 'secret', 'generic', 'pipeline-secrets-audit-signing', '--from-literal=signing.key=placeholder');
  return ns;
}

/** What each example values file names and expects to exist already (its header says so). */
function examplePrerequisites(ns: string, file: string) {
  if (file === 'eventstoredb-values.yaml') {
    kOk('-n', ns, 'create', 'secret', 'generic', 'pipeline-secrets-eventstoredb', '--from-literal=connection-string=esdb://eventstoredb:2113?tls=true');
    kOk('-n', ns, 'create', 'secret', 'generic', 'pipeline-secrets-master-key', '--from-literal=master.key=placeholder');
    kOk('-n', ns, 'create', 'secret', 'generic', 'pipeline-secrets-auditor-openbao', '--from-literal=auditor-token=placeholder');
    kOk('-n', ns, 'create', 'configmap', 'sso-signing-keys', '--from-literal=sso.pem=placeholder');
    kOk('-n', ns, 'create', 'configmap', 'ci-signing-keys', '--from-literal=ci.pem=placeholder');
  }
  if (file === 'restricted-network-values.yaml') kOk('-n', ns, 'create', 'serviceaccount', 'pipeline-secrets-runtime');
}

interface Deploy {
  metadata: { name: string; labels: Record<string, string> };
  spec: { replicas?: number; selector: { matchLabels: Record<string, string> } };
  status: { readyReplicas?: number; availableReplicas?: number };
}
function deployments(ns: string): Deploy[] {
  return JSON.parse(kOk('-n', ns, 'get', 'deployments', '-o', 'json')).items;
}
function byComponent(ns: string, component: string): Deploy {
  const d = deployments(ns).filter((x) => x.metadata.labels['app.kubernetes.io/component'] === component);
  expect(d).toHaveLength(1);
  return d[0];
}
/** Every pod of the namespace is scheduled, Running and Ready (as far as kwok can tell). */
function expectAllPodsReady(ns: string) {
  const pods = JSON.parse(kOk('-n', ns, 'get', 'pods', '-o', 'json')).items as Array<{ metadata: { name: string }; spec: { nodeName?: string }; status: { phase: string } }>;
  expect(pods.length).toBeGreaterThanOrEqual(4);
  for (const p of pods) expect({ pod: p.metadata.name, node: Boolean(p.spec.nodeName), phase: p.status.phase }).toEqual({ pod: p.metadata.name, node: true, phase: 'Running' });
}
function helmTest(release: string, ns: string) {
  const out = hOk('test', release, '-n', ns, '--timeout', WAIT);
  expect(out).toMatch(/Phase:\s+Succeeded/);
}

/**
 * Watches spec.replicas of a Deployment and records every value the API server reports. The
 * watch writes to a file (the test's kubectl and helm calls block the event loop, so a pipe would
 * be read late).
 */
class ReplicaWatch {
  private child: ChildProcess;
  private readonly file: string;
  constructor(ns: string, name: string) {
    this.file = join(work, `watch-${ns}.txt`);
    const fd = openSync(this.file, 'w');
    this.child = spawn(kubectl, ['-n', ns, 'get', 'deployment', name, '--watch', '-o', 'jsonpath={.spec.replicas}{"\\n"}'], { env, stdio: ['ignore', fd, fd] });
    closeSync(fd);
  }
  get seen(): number[] {
    return readFileSync(this.file, 'utf8').split('\n').filter((l) => l.trim()).map(Number);
  }
  async started() {
    await eventually(async () => this.seen.length, (n) => n > 0, 30_000, 100);
    expect(this.seen.length).toBeGreaterThan(0);
  }
  stop() {
    if (this.child.exitCode === null) this.child.kill('SIGTERM');
  }
}

describe('scripts/kube: a real control plane with simulated nodes', () => {
  it('the API server is the pinned Kubernetes and the nodes are Ready', () => {
    const version = JSON.parse(kOk('version', '-o', 'json')).serverVersion;
    expect(version.gitVersion).toMatch(/^v1\.37\.\d+$/);
    const nodes = JSON.parse(kOk('get', 'nodes', '-o', 'json')).items as Array<{ status: { conditions: Array<{ type: string; status: string }> } }>;
    expect(nodes.length).toBeGreaterThanOrEqual(3);
    for (const n of nodes) expect(n.status.conditions.find((c) => c.type === 'Ready')?.status).toBe('True');
  });
});

describe('helm install --wait against the real API server', () => {
  it('defaults: every pod is scheduled and Ready (the auditor needs no PersistentVolumeClaim that nobody made), and helm test passes', () => {
    const ns = namespace('defaults');
    const r = h('install', 'ps', CHART_DIR, '-n', ns, '--wait', '--timeout', WAIT);
    const pending = r.status === 0 ? '' : kOk('-n', ns, 'get', 'pods', '-o', 'wide') + k('-n', ns, 'get', 'events', '--field-selector', 'reason=FailedScheduling').stdout;
    expect({ status: r.status, stderr: r.status === 0 ? '' : r.stderr, pending }).toEqual({ status: 0, stderr: '', pending: '' });
    expect(r.stdout).toMatch(/openbao\.audit\.enabled/); // NOTES say how to turn the audit input on
    expectAllPodsReady(ns);
    expect(byComponent(ns, 'command-api').status.readyReplicas).toBe(2);
    helmTest('ps', ns);
  });

  it('with openbao.audit.enabled and no openbao-audit claim, the auditor stays Pending: the claim really is needed then', async () => {
    const ns = namespace('audit-claim');
    hOk('install', 'ps', CHART_DIR, '-n', ns, ...extra('openbao:\n  audit:\n    enabled: true\n'));
    const events = await eventually(
      async () => k('-n', ns, 'get', 'events', '--field-selector', 'reason=FailedScheduling', '-o', 'jsonpath={.items[*].message}').stdout,
      (m) => /openbao-audit/.test(m),
      120_000,
      1000,
    );
    expect(events).toMatch(/persistentvolumeclaim "openbao-audit" not found/);
    expect(byComponent(ns, 'auditor').status.readyReplicas ?? 0).toBe(0);
  });

  const examples = readdirSync(join(CHART_DIR, 'ci')).filter((f) => f.endsWith('.yaml')).sort();
  it('the chart documents example values files', () => expect(examples.length).toBeGreaterThanOrEqual(3));

  it.each(examples)('ci/%s: installs, every pod Ready, helm test passes', (file) => {
    const ns = namespace(file.replace(/-values\.yaml$/, ''));
    examplePrerequisites(ns, file);
    // the longest release name helm accepts, with the example that names it
    const release = file === 'restricted-network-values.yaml' ? 'release-name-of-fifty-three-characters-for-the-limits' : 'ps';
    const r = h('install', release, CHART_DIR, '-n', ns, ...values(`ci/${file}`), '--wait', '--timeout', WAIT);
    expect({ status: r.status, stderr: r.stderr }).toEqual({ status: 0, stderr: '' });
    expectAllPodsReady(ns);
    helmTest(release, ns);
  });
});

describe('helm upgrade and rollback', () => {
  it('to the HPA/ingress values and back, then rollback: the command API never drops below its replica count, and the HPA takes over', async () => {
    const ns = namespace('upgrade');
    hOk('install', 'ps', CHART_DIR, '-n', ns, '--wait', '--timeout', WAIT);
    const api = byComponent(ns, 'command-api').metadata.name;
    expect(byComponent(ns, 'command-api').spec.replicas).toBe(2);
    const watch = new ReplicaWatch(ns, api);
    try {
      await watch.started();
      // revision 2: HPA (min 3) and Ingress
      hOk('upgrade', 'ps', CHART_DIR, '-n', ns, ...values('ci/ingress-hpa-values.yaml'), '--wait', '--timeout', WAIT);
      expect(JSON.parse(kOk('-n', ns, 'get', 'hpa', api, '-o', 'json')).spec.minReplicas).toBe(3);
      expect(kOk('-n', ns, 'get', 'ingress', api, '-o', 'jsonpath={.spec.tls[0].secretName}')).toBe('secrets-api-tls');
      // The real HPA controller raises the Deployment to minReplicas (no metrics here: kwok has none).
      const scaled = await eventually(async () => byComponent(ns, 'command-api'), (d) => d.spec.replicas === 3 && d.status.readyReplicas === 3, 120_000, 1000);
      expect({ replicas: scaled.spec.replicas, ready: scaled.status.readyReplicas }).toEqual({ replicas: 3, ready: 3 });
      // revision 3: back to the defaults: no HPA, no Ingress, 2 replicas. (--reset-values: an
      // upgrade given no values at all reuses the last release's, HPA included.)
      hOk('upgrade', 'ps', CHART_DIR, '-n', ns, '--reset-values', '--wait', '--timeout', WAIT);
      expect(k('-n', ns, 'get', 'hpa', api).status).not.toBe(0);
      expect(k('-n', ns, 'get', 'ingress', api).status).not.toBe(0);
      expect(byComponent(ns, 'command-api').spec.replicas).toBe(2);
      // revision 4: rollback to revision 2 brings the HPA and the Ingress back
      hOk('rollback', 'ps', '2', '-n', ns, '--wait', '--timeout', WAIT);
      expect(kOk('-n', ns, 'get', 'hpa', api, '-o', 'jsonpath={.spec.maxReplicas}')).toBe('12');
      expect(k('-n', ns, 'get', 'ingress', api).status).toBe(0);
      const history = JSON.parse(hOk('history', 'ps', '-n', ns, '-o', 'json')) as Array<{ revision: number; status: string; description: string }>;
      expect(history.map((x) => x.revision)).toEqual([1, 2, 3, 4]);
      expect(history[3]).toMatchObject({ status: 'deployed', description: 'Rollback to 2' });
      await eventually(async () => byComponent(ns, 'command-api').status.readyReplicas, (n) => n === 3, 120_000, 1000);
      expectAllPodsReady(ns);
    } finally {
      watch.stop();
    }
    // Every spec.replicas the API server held during all of it: never below the 2 it started with.
    expect({ seen: watch.seen, lowest: Math.min(...watch.seen) }).toEqual({ seen: watch.seen, lowest: 2 });
  });

  it('changing nameOverride on an upgrade keeps the immutable selectors, and the pods stay selected', () => {
    const ns = namespace('rename');
    hOk('install', 'ps', CHART_DIR, '-n', ns, ...extra('fullnameOverride: secrets\n'), '--wait', '--timeout', WAIT);
    const before = deployments(ns).map((d) => [d.metadata.name, d.spec.selector.matchLabels]);
    const r = h('upgrade', 'ps', CHART_DIR, '-n', ns, ...extra('fullnameOverride: secrets\nnameOverride: vault-broker\n'), '--wait', '--timeout', WAIT);
    expect({ status: r.status, stderr: r.stderr }).toEqual({ status: 0, stderr: '' });
    expect(deployments(ns).map((d) => [d.metadata.name, d.spec.selector.matchLabels])).toEqual(before);
    const svc = JSON.parse(kOk('-n', ns, 'get', 'service', 'secrets-command-api', '-o', 'json'));
    const selector = Object.entries(svc.spec.selector as Record<string, string>).map(([l, v]) => `${l}=${v}`).join(',');
    expect(kOk('-n', ns, 'get', 'pods', '-l', selector, '-o', 'name').trim().split('\n')).toHaveLength(2);
    helmTest('ps', ns);
  });
});

describe('Pod Security admission: restricted', () => {
  const restricted = { 'pod-security.kubernetes.io/enforce': 'restricted', 'pod-security.kubernetes.io/enforce-version': 'latest' };

  it('the chart installs with the defaults in a namespace enforcing restricted, and helm test passes there', () => {
    const ns = namespace('restricted', restricted);
    const r = h('install', 'ps', CHART_DIR, '-n', ns, '--wait', '--timeout', WAIT);
    expect({ status: r.status, stderr: r.stderr }).toEqual({ status: 0, stderr: '' });
    expectAllPodsReady(ns);
    helmTest('ps', ns);
  });

  it('the enforcement is real: the hostPath audit example is refused there, and so is a root container', () => {
    const ns = namespace('restricted-attack', restricted);
    const server = JSON.parse(kOk('version', '-o', 'json')).serverVersion.gitVersion;
    const rendered = hOk('template', 'ps', CHART_DIR, '-n', ns, '--kube-version', server, ...values('ci/eventstoredb-values.yaml'));
    const auditor = parseAllDocuments(rendered)
      .map((d) => d.toJS())
      .find((o) => o?.kind === 'Deployment' && o.metadata.labels['app.kubernetes.io/component'] === 'auditor');
    // (the namespace's default ServiceAccount: the chart's own is not installed here)
    const pod = { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'auditor-hostpath', namespace: ns }, spec: { ...auditor.spec.template.spec, serviceAccountName: 'default' } };
    const r = sh(kubectl, ['create', '--dry-run=server', '-f', '-'], { input: JSON.stringify(pod) });
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/violates PodSecurity "restricted:latest".*volume "openbao-audit" uses restricted volume type "hostPath"/);
    const root = JSON.parse(JSON.stringify(pod));
    root.metadata.name = 'root';
    root.spec.volumes = [];
    root.spec.containers[0].volumeMounts = [];
    root.spec.securityContext.runAsUser = 0;
    root.spec.containers[0].securityContext.runAsUser = 0;
    const r2 = sh(kubectl, ['create', '--dry-run=server', '-f', '-'], { input: JSON.stringify(root) });
    expect(r2.status).not.toBe(0);
    expect(r2.stderr).toMatch(/violates PodSecurity "restricted:latest".*runAsUser=0/);
  });
});

describe('chart-testing (ct, built from its Go module by scripts/kube.d/ensure-chart-testing)', () => {
  let ct: string;
  let ctEnv: NodeJS.ProcessEnv;
  const ctRun = (args: string[]) => {
    const r = spawnSync(ct, args, { encoding: 'utf8', cwd: ROOT, env: ctEnv, timeout: 15 * 60_000, maxBuffer: 64 * 1024 * 1024 });
    if (r.error) throw new Error(`ct ${args.join(' ')} could not run: ${r.error.message}`);
    return r;
  };
  beforeAll(() => {
    const r = spawnSync('bash', [join(ROOT, 'scripts', 'kube.d', 'ensure-chart-testing')], { encoding: 'utf8', timeout: UP_TIMEOUT_MS });
    if (r.status !== 0) throw new Error(`scripts/kube.d/ensure-chart-testing failed (exit ${r.status}):\n${r.stderr}`);
    ct = r.stdout.trim().split('\n').pop()!;
    // ct calls helm, kubectl, yamllint and yamale from PATH
    ctEnv = { ...env, PATH: `${join(dirname(ct), 'venv', 'bin')}:${env.PATH}` };
  }, UP_TIMEOUT_MS);
  const etc = () => ['--chart-yaml-schema', join(dirname(ct), 'etc', 'chart_schema.yaml'), '--lint-conf', join(dirname(ct), 'etc', 'lintconf.yaml')];

  it('ct lint: helm lint with every ci/*-values.yaml, yamllint and the Chart.yaml schema', () => {
    const r = ctRun(['lint', '--charts', CHART_DIR, ...etc(), '--check-version-increment=false', '--validate-maintainers=false']);
    expect({ status: r.status, out: r.status === 0 ? '' : r.stdout + r.stderr }).toEqual({ status: 0, out: '' });
    expect(r.stdout + r.stderr).toMatch(/All charts linted successfully/);
  });

  it('ct install: installs the chart with every ci/*-values.yaml, runs helm test, uninstalls', () => {
    const ns = namespace('ct-install');
    for (const f of readdirSync(join(CHART_DIR, 'ci'))) examplePrerequisites(ns, f);
    const r = ctRun(['install', '--charts', CHART_DIR, '--namespace', ns, '--helm-extra-args', `--timeout ${WAIT}`]);
    expect({ status: r.status, out: r.status === 0 ? '' : r.stdout + r.stderr }).toEqual({ status: 0, out: '' });
    expect(r.stdout + r.stderr).toMatch(/All charts installed successfully/);
    expect((r.stdout + r.stderr).match(/Phase:\s+Succeeded/g)?.length).toBe(readdirSync(join(CHART_DIR, 'ci')).filter((f) => f.endsWith('.yaml')).length);
  });
});
