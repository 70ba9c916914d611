import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, posix } from 'node:path';
import { isMap, isScalar, parse, parseAllDocuments, parseDocument, Pair, YAMLMap } from 'yaml';
import { AppName } from '@app/infra/config/settings-catalog';
import { APPS, CATALOG_NAMES, CHART_DIR, ensureTool, requiredInProductionFor, run, SECRET_SETTINGS, TOOL_TIMEOUT_MS, usedBy } from './deploy-tools';
import { SETTINGS } from '@app/infra/config/settings-catalog';

// The Helm chart, rendered offline with a real helm (scripts/ensure-helm builds it from its Go
// module) and every rendered manifest validated against the Kubernetes JSON schemas shipped in
// the kubernetes-validate package (scripts/ensure-kubernetes-validate), strict mode: an unknown
// field is an error. Then the properties the chart promises are checked object by object.

// The oldest Kubernetes the chart admits (Chart.yaml kubeVersion) and the newest schema set shipped.
const KUBE_VERSIONS = ['1.29.0', '1.37.0'];
const RENDER_KUBE_VERSION = '1.33.0';

interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  spec?: any; // eslint-disable-line @typescript-eslint/no-explicit-any
  data?: Record<string, string>;
}
interface ValueSet {
  name: string;
  files: string[];
  release?: string;
}

const VALUE_SETS: ValueSet[] = [
  { name: 'defaults', files: [] },
  { name: 'ingress + HPA', files: ['ci/ingress-hpa-values.yaml'] },
  { name: 'EventStoreDB + PEM issuer keys + digest', files: ['ci/eventstoredb-values.yaml'] },
  // 53 characters: the longest release name helm accepts.
  { name: 'restricted network + longest release name', files: ['ci/restricted-network-values.yaml'], release: 'release-name-of-fifty-three-characters-for-the-limits' },
];

// Each external tool run (helm, kubernetes-validate, compose-go) takes about a second; leave room
// for a slow machine. Building the tools is covered by the beforeAll timeouts.
jest.setTimeout(60_000);

let helm: string;
let kubernetesValidate: string;
let work: string;

beforeAll(() => {
  helm = ensureTool('ensure-helm');
  kubernetesValidate = ensureTool('ensure-kubernetes-validate');
  work = mkdtempSync(join(tmpdir(), 'ps-helm-'));
}, TOOL_TIMEOUT_MS);

afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

function template(files: string[], opts: { release?: string; extraValues?: string } = {}) {
  const args = ['template', opts.release ?? 'ps', CHART_DIR, '--namespace', 'secrets', '--kube-version', RENDER_KUBE_VERSION];
  for (const f of files) args.push('-f', join(CHART_DIR, f));
  if (opts.extraValues !== undefined) {
    const path = join(work, `extra-${Math.random().toString(36).slice(2)}.yaml`);
    writeFileSync(path, opts.extraValues);
    args.push('-f', path);
  }
  return run(helm, args);
}

function render(set: ValueSet): { text: string; objects: K8sObject[] } {
  const r = template(set.files, { release: set.release });
  if (r.status !== 0) throw new Error(`helm template (${set.name}) failed:\n${r.stderr}`);
  const objects = parseAllDocuments(r.stdout)
    .map((d) => {
      if (d.errors.length) throw new Error(`rendered YAML does not parse: ${d.errors[0].message}`);
      return d.toJS() as K8sObject | null;
    })
    .filter((o): o is K8sObject => o !== null);
  return { text: r.stdout, objects };
}

const find = (objects: K8sObject[], kind: string, component?: string) =>
  objects.filter((o) => o.kind === kind && (component === undefined || o.metadata.labels?.['app.kubernetes.io/component'] === component));

function deployment(objects: K8sObject[], app: AppName): K8sObject {
  const d = find(objects, 'Deployment', app);
  expect(d).toHaveLength(1);
  return d[0];
}

/** Every container spec with its pod spec and owner, Deployments and bare Pods alike. */
function containers(objects: K8sObject[]) {
  const out: Array<{ owner: string; pod: any; container: any }> = []; // eslint-disable-line @typescript-eslint/no-explicit-any
  for (const o of objects) {
    const pod = o.kind === 'Pod' ? o.spec : o.spec?.template?.spec;
    if (!pod) continue;
    for (const c of [...(pod.initContainers ?? []), ...(pod.containers ?? [])]) out.push({ owner: `${o.kind}/${o.metadata.name}`, pod, container: c });
  }
  return out;
}

type EnvSource = { from: 'value'; value: string } | { from: 'configMap'; value: string } | { from: 'secret'; secret: string; key: string };

/** The environment an app container gets, ConfigMap references resolved against the rendered ConfigMap. */
function appEnv(objects: K8sObject[], app: AppName): Map<string, EnvSource> {
  const configMaps = new Map(find(objects, 'ConfigMap').map((c) => [c.metadata.name, c.data ?? {}]));
  const container = deployment(objects, app).spec.template.spec.containers[0];
  expect(container.envFrom).toBeUndefined();
  const env = new Map<string, EnvSource>();
  for (const e of container.env ?? []) {
    expect(env.has(e.name)).toBe(false);
    if (e.value !== undefined) env.set(e.name, { from: 'value', value: String(e.value) });
    else if (e.valueFrom?.configMapKeyRef) {
      const ref = e.valueFrom.configMapKeyRef;
      const data = configMaps.get(ref.name);
      expect({ env: e.name, configMap: ref.name, found: data !== undefined && ref.key in data }).toEqual({ env: e.name, configMap: ref.name, found: true });
      env.set(e.name, { from: 'configMap', value: data![ref.key] });
    } else if (e.valueFrom?.secretKeyRef) env.set(e.name, { from: 'secret', secret: e.valueFrom.secretKeyRef.name, key: e.valueFrom.secretKeyRef.key });
    else throw new Error(`unexpected env source for ${e.name}`);
  }
  return env;
}

describe('helm chart deploy/helm/pipeline-secrets', () => {
  it('every ci/*-values.yaml file is one of the value sets below', () => {
    const files = readdirSync(join(CHART_DIR, 'ci')).filter((f) => f.endsWith('.yaml'));
    expect(files.map((f) => `ci/${f}`).sort()).toEqual(VALUE_SETS.flatMap((s) => s.files).sort());
  });

  it.each(VALUE_SETS)('helm lint --strict passes ($name)', (set) => {
    const args = ['lint', '--strict', CHART_DIR, '--kube-version', RENDER_KUBE_VERSION, ...set.files.flatMap((f) => ['-f', join(CHART_DIR, f)])];
    const r = run(helm, args);
    expect({ status: r.status, out: r.status === 0 ? '' : r.stdout + r.stderr }).toEqual({ status: 0, out: '' });
    expect(r.stdout).toMatch(/1 chart\(s\) linted, 0 chart\(s\) failed/);
  });

  describe.each(VALUE_SETS)('rendered with $name', (set) => {
    let objects: K8sObject[];
    let text: string;
    beforeAll(() => ({ objects, text } = render(set)));

    it.each(KUBE_VERSIONS)('every manifest validates against the Kubernetes %s JSON schemas (strict)', (version) => {
      const file = join(work, `${set.name.replace(/\W+/g, '-')}-${version}.yaml`);
      writeFileSync(file, text);
      const r = run(kubernetesValidate, ['--strict', '-k', version, file]);
      const lines = r.stdout.split('\n').filter(Boolean);
      const problems = lines.filter((l) => /^(WARN|ERROR)/.test(l)).concat(r.stderr.trim() ? [r.stderr.trim()] : []);
      expect(problems).toEqual([]);
      expect(r.status).toBe(0);
      // One "passed" line per object: nothing was skipped for want of a schema.
      expect(lines.filter((l) => /^INFO .* passed for resource /.test(l))).toHaveLength(objects.length);
    });

    it('renders the expected objects', () => {
      const kinds = objects.map((o) => o.kind).sort();
      for (const k of ['ConfigMap', 'Deployment', 'NetworkPolicy', 'Pod', 'Service']) expect(kinds).toContain(k);
      expect(find(objects, 'Deployment').map((d) => d.metadata.labels?.['app.kubernetes.io/component']).sort()).toEqual([...APPS].sort());
      expect(find(objects, 'Secret')).toEqual([]); // credentials are never rendered: existing Secrets only
      expect(find(objects, 'ServiceAccount')).toHaveLength(set.files.includes('ci/restricted-network-values.yaml') ? 0 : 1);
    });

    it('names fit in 63 characters and every object carries the standard labels', () => {
      for (const o of objects) {
        expect({ name: o.metadata.name, length: o.metadata.name.length <= 63 }).toEqual({ name: o.metadata.name, length: true });
        expect(o.metadata.namespace).toBe('secrets');
        const labels = o.metadata.labels ?? {};
        for (const l of ['helm.sh/chart', 'app.kubernetes.io/name', 'app.kubernetes.io/instance', 'app.kubernetes.io/version', 'app.kubernetes.io/managed-by']) {
          expect({ object: o.metadata.name, label: l, set: typeof labels[l] }).toEqual({ object: o.metadata.name, label: l, set: 'string' });
        }
        for (const v of Object.values(labels)) expect(v.length).toBeLessThanOrEqual(63);
      }
    });

    it('every container runs with the hardened security context', () => {
      const all = containers(objects);
      expect(all.length).toBe(4); // three apps + the test pod
      for (const { owner, pod, container } of all) {
        const sc = container.securityContext ?? {};
        const ctx = { owner, container: container.name };
        expect({ ...ctx, sc }).toEqual({
          ...ctx,
          sc: expect.objectContaining({
            runAsNonRoot: true,
            readOnlyRootFilesystem: true,
            allowPrivilegeEscalation: false,
            capabilities: { drop: ['ALL'] },
            seccompProfile: { type: 'RuntimeDefault' },
          }),
        });
        expect(sc.privileged).not.toBe(true);
        expect(sc.capabilities.add).toBeUndefined();
        expect(sc.runAsUser ?? pod.securityContext?.runAsUser).toBeGreaterThan(0);
        expect(pod.securityContext).toEqual(expect.objectContaining({ runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } }));
        expect(pod.hostNetwork ?? false).toBe(false);
        expect(pod.hostPID ?? false).toBe(false);
        expect(pod.automountServiceAccountToken).toBe(false);
        expect(container.resources?.limits?.memory).toBeDefined();
        expect(container.resources?.requests?.cpu).toBeDefined();
      }
    });

    it.each(APPS)('%s: probes /healthz (liveness) and /readyz (readiness), /tmp and DATA_DIR on emptyDirs', (app) => {
      const pod = deployment(objects, app).spec.template.spec;
      const c = pod.containers[0];
      expect(c.livenessProbe.httpGet).toEqual({ path: '/healthz', port: 'http' });
      expect(c.readinessProbe.httpGet).toEqual({ path: '/readyz', port: 'http' });
      expect(c.startupProbe.httpGet.path).toBe('/healthz');
      expect(c.ports).toEqual([expect.objectContaining({ name: 'http', protocol: 'TCP' })]);
      expect(c.command).toEqual(['node', `dist/apps/${app}/src/main.js`]);
      const volumes = new Map<string, any>(pod.volumes.map((v: any) => [v.name, v])); // eslint-disable-line @typescript-eslint/no-explicit-any
      const mountAt = (path: string) => c.volumeMounts.find((m: { mountPath: string }) => m.mountPath === path);
      expect(volumes.get(mountAt('/tmp').name).emptyDir).toBeDefined();
      const dataDir = appEnv(objects, app).get('DATA_DIR');
      expect(dataDir).toEqual({ from: 'configMap', value: '/var/lib/pipeline-secrets' });
      expect(volumes.get(mountAt('/var/lib/pipeline-secrets').name).emptyDir).toBeDefined();
    });

    it('projector and auditor run exactly one replica, replaced with Recreate; the command API rolls', () => {
      for (const app of ['projector', 'auditor'] as const) {
        const d = deployment(objects, app);
        expect(d.spec.replicas).toBe(1);
        expect(d.spec.strategy).toEqual({ type: 'Recreate' });
      }
      const api = deployment(objects, 'command-api');
      expect(api.spec.strategy.type).toBe('RollingUpdate');
      const hpa = find(objects, 'HorizontalPodAutoscaler');
      if (hpa.length) {
        expect(api.spec.replicas).toBeUndefined(); // the HPA owns the count
        expect(hpa[0].spec.scaleTargetRef).toEqual({ apiVersion: 'apps/v1', kind: 'Deployment', name: api.metadata.name });
      } else expect(api.spec.replicas).toBeGreaterThanOrEqual(1);
      // Nothing but the command API is scaled or disruption-budgeted.
      for (const o of [...hpa, ...find(objects, 'PodDisruptionBudget')]) expect(o.metadata.labels?.['app.kubernetes.io/component']).toBe('command-api');
    });

    describe.each(APPS)('%s settings', (app) => {
      it('sets every setting the catalog requires in production for this app', () => {
        const env = appEnv(objects, app);
        for (const name of requiredInProductionFor(app)) {
          const src = env.get(name);
          expect({ name, set: src !== undefined && (src.from === 'secret' || src.value !== '') }).toEqual({ name, set: true });
        }
        expect(env.get('PROFILE')).toEqual({ from: 'configMap', value: 'production' });
        expect(env.get('HOST')).toEqual({ from: 'configMap', value: '0.0.0.0' });
        expect(env.get('APPS')).toEqual({ from: 'value', value: app });
      });

      it('gets only catalog settings this app reads', () => {
        for (const name of appEnv(objects, app).keys()) {
          expect({ name, known: CATALOG_NAMES.has(name) }).toEqual({ name, known: true });
          const spec = SETTINGS.find((s) => s.name === name)!;
          expect({ name, app, usedByApp: usedBy(spec, app) }).toEqual({ name, app, usedByApp: true });
        }
      });

      it('gets every non-credential setting it reads that has a catalog default', () => {
        const env = appEnv(objects, app);
        const missing = SETTINGS.filter((s) => !s.secret && s.default !== undefined && usedBy(s, app) && !env.has(s.name)).map((s) => s.name);
        expect(missing).toEqual([]);
      });

      it('takes credentials from existing Secrets only: secretKeyRef, or a file on a read-only Secret volume', () => {
        const pod = deployment(objects, app).spec.template.spec;
        const c = pod.containers[0];
        for (const [name, src] of appEnv(objects, app)) {
          if (!SECRET_SETTINGS.has(name)) continue;
          if (name.endsWith('_FILE')) {
            expect(src.from).toBe('value');
            const path = (src as { value: string }).value;
            const mount = c.volumeMounts.find((m: { mountPath: string }) => path.startsWith(posix.join(m.mountPath, '/')));
            expect({ name, mount: mount?.readOnly }).toEqual({ name, mount: true });
            const volume = pod.volumes.find((v: { name: string }) => v.name === mount.name);
            expect({ name, secretVolume: typeof volume.secret?.secretName }).toEqual({ name, secretVolume: 'string' });
          } else {
            expect({ name, from: src.from }).toEqual({ name, from: 'secret' });
          }
        }
      });
    });

    it('the ConfigMap holds no credential setting', () => {
      const [cm] = find(objects, 'ConfigMap');
      for (const key of Object.keys(cm.data ?? {})) {
        expect({ key, known: CATALOG_NAMES.has(key) }).toEqual({ key, known: true });
        expect({ key, credential: SECRET_SETTINGS.has(key) }).toEqual({ key, credential: false });
      }
      expect(cm.data?.DEV_ISSUER).toBe('0');
    });

    it('has a helm test pod that curls the command API /readyz through its Service', () => {
      const tests = find(objects, 'Pod').filter((p) => p.metadata.annotations?.['helm.sh/hook'] === 'test');
      expect(tests).toHaveLength(1);
      const c = tests[0].spec.containers[0];
      expect(c.command).toEqual(['curl']);
      const [svc] = find(objects, 'Service', 'command-api');
      expect(c.args).toContain(`http://${svc.metadata.name}.secrets.svc:${svc.spec.ports[0].port}/readyz`);
      expect(c.args).toContain('--fail');
      expect(tests[0].spec.restartPolicy).toBe('Never');
    });

    it('NetworkPolicies select each app and open only its HTTP port', () => {
      const policies = find(objects, 'NetworkPolicy');
      expect(policies.map((p) => p.metadata.labels?.['app.kubernetes.io/component']).sort()).toEqual([...APPS].sort());
      for (const p of policies) {
        for (const rule of p.spec.ingress ?? []) expect(rule.ports).toEqual([{ port: 'http', protocol: 'TCP' }]);
      }
    });
  });

  describe('value-specific rendering', () => {
    it('defaults: image tag is the appVersion; Postgres event store; JWKS issuers', () => {
      const chart = parse(readFileSync(join(CHART_DIR, 'Chart.yaml'), 'utf8')) as { appVersion: string };
      const { objects } = render(VALUE_SETS[0]);
      for (const app of APPS) {
        expect(deployment(objects, app).spec.template.spec.containers[0].image).toBe(`ghcr.io/pipeline-secrets/pipeline-secrets:${chart.appVersion}`);
        expect(appEnv(objects, app).has('EVENTSTORE_URL')).toBe(false);
      }
      expect(appEnv(objects, 'command-api').get('AUTH_USER_JWKS_URL')?.from).toBe('configMap');
      expect(find(objects, 'Ingress')).toEqual([]);
      expect(find(objects, 'HorizontalPodAutoscaler')).toEqual([]);
      expect(find(objects, 'PodDisruptionBudget')).toHaveLength(1);
    });

    it('defaults: every setting the chart does not fix itself renders with the catalog default', () => {
      // The chart fixes these for a container (production profile, bind address, data
      // directory, one app per pod, no development issuer); every other default mirrors the catalog.
      const chartOwn = new Set(['PROFILE', 'APPS', 'HOST', 'DATA_DIR', 'DEV_ISSUER']);
      const [cm] = find(render(VALUE_SETS[0]).objects, 'ConfigMap');
      const differing = SETTINGS.filter((s) => !s.secret && s.default !== undefined && !chartOwn.has(s.name))
        .map((s) => ({ name: s.name, catalog: s.default, chart: cm.data?.[s.name] }))
        .filter((d) => d.chart !== d.catalog);
      expect(differing).toEqual([]);
    });

    it('ingress + HPA: an Ingress with TLS to the command API Service, an autoscaler on CPU and memory', () => {
      const { objects } = render(VALUE_SETS[1]);
      const [ing] = find(objects, 'Ingress');
      const [svc] = find(objects, 'Service', 'command-api');
      expect(ing.spec.rules[0].http.paths[0].backend.service).toEqual({ name: svc.metadata.name, port: { number: svc.spec.ports[0].port } });
      expect(ing.spec.tls).toEqual([{ secretName: 'secrets-api-tls', hosts: ['secrets-api.example.com'] }]);
      const [hpa] = find(objects, 'HorizontalPodAutoscaler');
      expect(hpa.spec).toMatchObject({ minReplicas: 3, maxReplicas: 12 });
      expect(hpa.spec.metrics.map((m: { resource: { name: string } }) => m.resource.name)).toEqual(['cpu', 'memory']);
      const tsc = deployment(objects, 'command-api').spec.template.spec.topologySpreadConstraints;
      expect(tsc[0].labelSelector.matchLabels['app.kubernetes.io/component']).toBe('command-api');
    });

    it('EventStoreDB: every app reads EVENTSTORE_URL from its Secret; issuer keys and the master key are mounted files', () => {
      const { objects } = render(VALUE_SETS[2]);
      for (const app of APPS) {
        expect(appEnv(objects, app).get('EVENTSTORE_URL')).toEqual({ from: 'secret', secret: 'pipeline-secrets-eventstoredb', key: 'connection-string' });
        expect(deployment(objects, app).spec.template.spec.containers[0].image).toBe(
          'registry.example.com/platform/pipeline-secrets@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef',
        );
      }
      const api = appEnv(objects, 'command-api');
      expect(api.get('AUTH_USER_PUBLIC_KEY_FILE')).toEqual({ from: 'value', value: '/var/run/secrets/pipeline-secrets/user-issuer/sso.pem' });
      expect(api.has('AUTH_USER_JWKS_URL')).toBe(false);
      expect(api.get('MASTER_KEY_FILE')?.from).toBe('value');
      expect(appEnv(objects, 'projector').get('AUTH_CI_PUBLIC_KEY_FILE')).toEqual({ from: 'value', value: '/var/run/secrets/pipeline-secrets/ci-issuer/ci.pem' });
      // The projector never gets the user issuer (it has no key for it and does not read it).
      expect(appEnv(objects, 'projector').has('AUTH_USER_ISSUER')).toBe(false);
    });

    /** The auditor's volume and mount holding OpenBao's audit file, if any. */
    const auditVolume = (objects: K8sObject[], app: AppName) => {
      const pod = deployment(objects, app).spec.template.spec;
      const mount = pod.containers[0].volumeMounts.find((m: { mountPath: string }) => m.mountPath === '/openbao/audit');
      return { mount, volume: mount && pod.volumes.find((v: { name: string }) => v.name === mount.name) };
    };

    const renderWith = (extraValues: string) => {
      const r = template([], { extraValues });
      if (r.status !== 0) throw new Error(`helm template failed:\n${r.stderr}`);
      return parseAllDocuments(r.stdout).map((d) => d.toJS() as K8sObject | null).filter((o): o is K8sObject => o !== null);
    };

    it('openbao.audit.enabled=true: the auditor tails OpenBao\'s audit file from the openbao-audit PVC (read-only), starting at its end, and repairs drift with the OpenBao token', () => {
      const objects = renderWith('openbao:\n  audit:\n    enabled: true\n');
      const env = appEnv(objects, 'auditor');
      expect(env.get('BAO_AUDIT_FILE')).toEqual({ from: 'configMap', value: '/openbao/audit/audit-service.log' });
      expect(env.get('BAO_AUDIT_START')).toEqual({ from: 'configMap', value: 'end' });
      for (const name of ['BAO_ADDR', 'BAO_KV_MOUNT', 'BAO_KV_PREFIX', 'BAO_JWT_MOUNT', 'BAO_CI_TOKEN_TTL_SECONDS', 'AUTH_AUDIENCE', 'AUTH_CI_ISSUER', 'AUTH_CI_JWKS_URL']) {
        // the same values as the projector's: the auditor's reconciler renders the same desired state
        expect({ name, auditor: env.get(name) }).toEqual({ name, auditor: appEnv(objects, 'projector').get(name) });
      }
      const { mount, volume } = auditVolume(objects, 'auditor');
      expect(mount.readOnly).toBe(true);
      expect(volume.persistentVolumeClaim).toEqual({ claimName: 'openbao-audit', readOnly: true });
      const pod = deployment(objects, 'auditor').spec.template.spec;
      expect(env.get('BAO_TOKEN_FILE')).toEqual({ from: 'value', value: '/var/run/secrets/pipeline-secrets/openbao/token' });
      const tokenVolume = pod.volumes.find((v: { name: string }) => v.name === 'openbao-token');
      expect(tokenVolume.secret).toMatchObject({ secretName: 'pipeline-secrets-openbao', items: [{ key: 'token', path: 'token' }] });
      // only the auditor sees the audit file
      for (const app of ['command-api', 'projector'] as const) {
        expect(auditVolume(objects, app).mount).toBeUndefined();
        expect(appEnv(objects, app).has('BAO_AUDIT_FILE')).toBe(false);
      }
    });

    it('hostPath, its own token and a first start from the beginning: the auditor mounts the node directory read-only and its own token Secret', () => {
      const { objects } = render(VALUE_SETS[2]);
      const env = appEnv(objects, 'auditor');
      expect(env.get('BAO_AUDIT_FILE')).toEqual({ from: 'configMap', value: '/openbao/audit/pipeline-secrets.log' });
      expect(env.get('BAO_AUDIT_START')).toEqual({ from: 'configMap', value: 'beginning' });
      const { mount, volume } = auditVolume(objects, 'auditor');
      expect(mount.readOnly).toBe(true);
      expect(volume).toEqual({ name: mount.name, hostPath: { path: '/var/log/openbao', type: 'Directory' } });
      expect(env.get('BAO_TOKEN_FILE')).toEqual({ from: 'value', value: '/var/run/secrets/pipeline-secrets/openbao/auditor-token' });
      const pod = deployment(objects, 'auditor').spec.template.spec;
      expect(pod.volumes.find((v: { name: string }) => v.name === 'openbao-token').secret.secretName).toBe('pipeline-secrets-auditor-openbao');
      expect(env.get('AUTH_CI_PUBLIC_KEY_FILE')).toEqual({ from: 'value', value: '/var/run/secrets/pipeline-secrets/ci-issuer/ci.pem' });
      // the other apps keep the shared token
      const projectorPod = deployment(objects, 'projector').spec.template.spec;
      expect(projectorPod.volumes.find((v: { name: string }) => v.name === 'openbao-token').secret.secretName).toBe('pipeline-secrets-openbao');
    });

    it('defaults (openbao.audit.enabled=false): no audit file, no volume, so a plain install needs no claim; the auditor still reaches OpenBao (readiness, drift check)', () => {
      const { objects } = render(VALUE_SETS[0]);
      const env = appEnv(objects, 'auditor');
      expect(env.has('BAO_AUDIT_FILE')).toBe(false);
      expect(auditVolume(objects, 'auditor').mount).toBeUndefined();
      expect(deployment(objects, 'auditor').spec.template.spec.volumes.map((v: { name: string }) => v.name)).not.toContain('openbao-audit');
      expect(env.get('BAO_ADDR')).toEqual({ from: 'configMap', value: 'http://openbao:8200' });
      expect(env.get('BAO_TOKEN_FILE')?.from).toBe('value');
    });

    it('nameOverride renames objects but never changes a selector (selectors are immutable; test/deploy/kube.deploy.spec.ts upgrades through such a change)', () => {
      const selectors = (objects: K8sObject[]) =>
        Object.fromEntries(
          objects
            .filter((o) => o.spec?.selector || o.spec?.podSelector)
            .map((o) => [`${o.kind}/${o.metadata.labels?.['app.kubernetes.io/component']}`, o.spec.selector ?? o.spec.podSelector]),
        );
      const plain = renderWith('fullnameOverride: secrets\n');
      const renamed = renderWith('fullnameOverride: secrets\nnameOverride: vault-broker\n');
      expect(Object.keys(selectors(plain)).length).toBeGreaterThanOrEqual(7);
      expect(selectors(renamed)).toEqual(selectors(plain));
      // and a selector still matches its pods
      for (const d of find(renamed, 'Deployment')) expect(d.spec.template.metadata.labels).toMatchObject(d.spec.selector.matchLabels);
    });

    it('restricted network: API from the ingress namespace and the test pod only; egress limited, DNS kept', () => {
      const { objects } = render(VALUE_SETS[3]);
      const [api] = find(objects, 'NetworkPolicy', 'command-api');
      expect(api.spec.policyTypes).toEqual(['Ingress', 'Egress']);
      expect(api.spec.ingress[0].from).toEqual([
        { namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'ingress-nginx' } } },
        { podSelector: { matchLabels: expect.objectContaining({ 'app.kubernetes.io/component': 'test' }) } },
      ]);
      expect(api.spec.egress[0].ports).toEqual([
        { port: 53, protocol: 'UDP' },
        { port: 53, protocol: 'TCP' },
      ]);
      const [projector] = find(objects, 'NetworkPolicy', 'projector');
      expect(projector.spec.ingress[0].from).toEqual([{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'monitoring' } } }]);
      for (const app of APPS) {
        const pod = deployment(objects, app).spec.template.spec;
        expect(pod.serviceAccountName).toBe('pipeline-secrets-runtime');
        expect(pod.imagePullSecrets).toEqual([{ name: 'registry-credentials' }]);
      }
    });

    it('defaults: the projector and auditor accept no ingress at all', () => {
      const { objects } = render(VALUE_SETS[0]);
      for (const app of ['projector', 'auditor'] as const) expect(find(objects, 'NetworkPolicy', app)[0].spec.ingress).toEqual([]);
    });
  });

  describe('values that must be refused', () => {
    it.each([
      ['a negative replica count', 'commandApi:\n  replicaCount: -1\n', /commandApi\/replicaCount/],
      ['zero replicas', 'commandApi:\n  replicaCount: 0\n', /commandApi\/replicaCount/],
      ['a non-integer replica count', 'commandApi:\n  replicaCount: "3"\n', /commandApi\/replicaCount/],
      ['an unknown top-level key', 'replicas: 3\n', /additional properties 'replicas' not allowed/],
      ['an unknown nested key', 'commandApi:\n  replicas: 3\n', /additional properties 'replicas' not allowed/],
      ['a replica count for the projector', 'projector:\n  replicaCount: 2\n', /additional properties 'replicaCount' not allowed/],
      ['a replica count for the auditor', 'auditor:\n  replicaCount: 2\n', /additional properties 'replicaCount' not allowed/],
      ['a credential as a value', 'database:\n  password: hunter2\n', /additional properties 'password' not allowed/],
      ['a token as a value', 'openbao:\n  token:\n    value: s.abc\n', /additional properties 'value' not allowed/],
      ['no database Secret', 'database:\n  existingSecret: ""\n', /database\/existingSecret/],
      ['EventStoreDB without its Secret', 'eventStore:\n  type: eventstoredb\n', /eventStore\/existingSecret/],
      ['an unknown event store', 'eventStore:\n  type: mongodb\n', /eventStore\/type/],
      ['an unknown log level', 'config:\n  logLevel: loud\n', /config\/logLevel/],
      ['a privileged port', 'config:\n  port: 80\n', /config\/port/],
      ['a symmetric JWT algorithm', 'auth:\n  algorithms: HS256\n', /auth\/algorithms/],
      ['root as the pod user', 'podSecurityContext:\n  runAsUser: 0\n', /podSecurityContext\/runAsUser/],
      ['a malformed broker list', 'kafka:\n  brokers: kafka\n', /kafka\/brokers/],
      ['an HPA with zero minimum', 'commandApi:\n  autoscaling:\n    minReplicas: 0\n', /autoscaling\/minReplicas/],
      ['an unknown pull policy', 'image:\n  pullPolicy: Sometimes\n', /image\/pullPolicy/],
      ['both a JWKS URL and a key ConfigMap', 'auth:\n  user:\n    publicKey:\n      existingConfigMap: keys\n', /auth.user: set only one of jwksUrl and publicKey.existingConfigMap/],
      ['OpenBao audit ingestion without a volume', 'openbao:\n  audit:\n    enabled: true\n    existingClaim: ""\n', /openbao.audit: set existingClaim \(or hostPath\)/],
      ['OpenBao audit from both a PVC and a hostPath', 'openbao:\n  audit:\n    enabled: true\n    hostPath: /var/log/openbao\n', /openbao.audit: set only one of existingClaim and hostPath/],
      ['an unknown audit start', 'openbao:\n  audit:\n    start: middle\n', /openbao\/audit\/start/],
      ['an audit file name leaving its volume', 'openbao:\n  audit:\n    fileName: ../etc/passwd\n', /openbao\/audit\/fileName/],
      ['a relative audit hostPath', 'openbao:\n  audit:\n    existingClaim: ""\n    hostPath: var/log\n', /openbao\/audit\/hostPath/],
      ['an auditor token as a value', 'openbao:\n  audit:\n    token:\n      value: s.abc\n', /additional properties 'value' not allowed/],
      ['neither a JWKS URL nor a key ConfigMap', 'auth:\n  ci:\n    jwksUrl: ""\n', /auth.ci: set jwksUrl or publicKey.existingConfigMap/],
    ])('refuses %s', (_what, values, message) => {
      const r = template([], { extraValues: values });
      expect(r.status).not.toBe(0);
      expect(r.stderr).toMatch(message);
    });
  });

  describe('values.yaml documentation', () => {
    const doc = parseDocument(readFileSync(join(CHART_DIR, 'values.yaml'), 'utf8'));
    const leaves: Array<{ path: string; comment: string }> = [];
    const walk = (map: YAMLMap, prefix: string) => {
      (map.items as Pair[]).forEach((pair, i) => {
        const key = String(isScalar(pair.key) ? pair.key.value : pair.key);
        const path = prefix ? `${prefix}.${key}` : key;
        // The comment above a map's first key belongs to the map node in the YAML AST.
        let comment = (isScalar(pair.key) ? pair.key.commentBefore : undefined) ?? '';
        if (i === 0 && !comment) comment = map.commentBefore ?? '';
        const documented = /(^|\n)\s*-- \S/.test(comment);
        // A map without its own "# --" is a section: its keys are the values. A documented map
        // (resources, annotations) is one value, like scalars and lists.
        if (isMap(pair.value) && pair.value.items.length > 0 && !documented) walk(pair.value, path);
        else leaves.push({ path, comment });
      });
    };
    walk(doc.contents as YAMLMap, '');

    it('documents every value with a "# --" comment', () => {
      expect(leaves.length).toBeGreaterThan(50);
      const undocumented = leaves.filter((l) => !/(^|\n)\s*-- \S/.test(l.comment)).map((l) => l.path);
      expect(undocumented).toEqual([]);
    });

    it('lists every value in the chart README values table', () => {
      const readme = readFileSync(join(CHART_DIR, 'README.md'), 'utf8');
      const missing = leaves.filter((l) => !readme.includes(`| \`${l.path}\` |`)).map((l) => l.path);
      expect(missing).toEqual([]);
    });

    it('every value is in values.schema.json, which refuses unknown keys at every level', () => {
      const schema = JSON.parse(readFileSync(join(CHART_DIR, 'values.schema.json'), 'utf8'));
      for (const { path } of leaves) {
        let node = schema;
        for (const part of path.split('.')) {
          expect({ path, additionalProperties: node.additionalProperties }).toEqual({ path, additionalProperties: false });
          node = node.properties?.[part];
          expect({ path, part, inSchema: node !== undefined }).toEqual({ path, part, inSchema: true });
        }
      }
    });
  });
});
