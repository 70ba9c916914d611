import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, posix } from 'node:path';
import { parse } from 'yaml';
import { APPS, CATALOG_NAMES, ensureTool, requiredInProductionFor, ROOT, run, SECRET_SETTINGS, TOOL_TIMEOUT_MS } from './deploy-tools';

// docker-compose.yml (no Docker engine here): validated against the Compose Specification by
// compose-go, the loader docker compose uses (scripts/ensure-compose-spec builds it), and read
// as YAML for services, pinned images, loopback-only ports, healthchecks, start order, and
// every production setting each app needs (from the settings catalog).

interface Service {
  image?: string;
  build?: { context: string; dockerfile: string } | string;
  command?: string[] | string;
  environment?: Record<string, string | number | boolean | null>;
  ports?: Array<string | { host_ip?: string; published?: string | number; target: number }>;
  volumes?: string[];
  healthcheck?: { test: string[] | string; interval?: string; timeout?: string; retries?: number; disable?: boolean };
  depends_on?: Record<string, { condition: string }> | string[];
  restart?: string;
  read_only?: boolean;
  tmpfs?: string[];
}

// Each external tool run (helm, kubernetes-validate, compose-go) takes about a second; leave room
// for a slow machine. Building the tools is covered by the beforeAll timeouts.
jest.setTimeout(60_000);

const text = readFileSync(join(ROOT, 'docker-compose.yml'), 'utf8');
// Compose resolves YAML merge keys (<<); so does this parse.
const compose = parse(text, { merge: true }) as { name?: string; services: Record<string, Service>; volumes?: Record<string, unknown> };
const services = compose.services;
const entries = Object.entries(services);
const BACKING = ['postgres', 'eventstoredb', 'kafka', 'openbao'];

/** One-shot services: exit when done; others wait for them with service_completed_successfully. */
const oneShots = entries.filter(([, s]) => s.restart === 'no').map(([n]) => n);

function env(service: string): Record<string, string> {
  const e = services[service].environment ?? {};
  return Object.fromEntries(Object.entries(e).map(([k, v]) => [k, v === null || v === undefined ? '' : String(v)]));
}

describe('docker-compose.yml', () => {
  it('says at the top that it is for local use and its tokens are not secrets for production', () => {
    const header = text.split('\n').filter((l) => l.startsWith('#')).slice(0, 12).join('\n');
    expect(header).toMatch(/LOCAL \/ DEVELOPMENT USE ONLY/);
    expect(header).toMatch(/NOT secrets/);
    expect(header).toMatch(/production/);
  });

  it('has the four backing servers, the dev-keys and openbao-audit-headers one-shots and the three apps', () => {
    expect(Object.keys(services).sort()).toEqual([...BACKING, 'dev-keys', 'openbao-audit-headers', ...APPS].sort());
    expect(oneShots.sort()).toEqual(['dev-keys', 'openbao-audit-headers']);
  });

  it('uses the expected images, each pinned to a version tag', () => {
    expect(services.postgres.image).toMatch(/^postgres:\d+\.\d+(-[a-z]+)?$/);
    expect(services.eventstoredb.image).toMatch(/^kurrentplatform\/kurrentdb:\d+\.\d+\.\d+$/);
    expect(services.kafka.image).toMatch(/^apache\/kafka:\d+\.\d+\.\d+$/);
    expect(services.openbao.image).toMatch(/^openbao\/openbao:\d+\.\d+\.\d+$/);
    for (const [name, s] of entries) {
      expect({ name, image: s.image }).toEqual({ name, image: expect.not.stringMatching(/:latest$|^[^:]+$/) });
    }
  });

  it('runs the three apps (and dev-keys) from the one Dockerfile, each with its own entry point', () => {
    for (const app of [...APPS, 'dev-keys']) {
      expect(services[app].build).toEqual({ context: '.', dockerfile: 'Dockerfile' });
      expect(services[app].image).toBe('pipeline-secrets:dev');
    }
    for (const app of APPS) expect(services[app].command).toEqual(['node', `dist/apps/${app}/src/main.js`]);
  });

  it('publishes ports on 127.0.0.1 only', () => {
    let published = 0;
    for (const [name, s] of entries) {
      for (const p of s.ports ?? []) {
        published++;
        if (typeof p === 'string') expect({ name, port: p }).toEqual({ name, port: expect.stringMatching(/^127\.0\.0\.1:\d+:\d+(\/tcp)?$/) });
        else expect({ name, hostIp: p.host_ip }).toEqual({ name, hostIp: '127.0.0.1' });
      }
    }
    expect(published).toBeGreaterThanOrEqual(7);
    for (const app of APPS) expect(services[app].ports?.length).toBeGreaterThan(0);
  });

  it('has a healthcheck on every long-running service', () => {
    for (const [name, s] of entries) {
      if (oneShots.includes(name)) continue;
      expect({ name, healthcheck: s.healthcheck?.test }).toEqual({ name, healthcheck: expect.anything() });
      expect(s.healthcheck?.disable).not.toBe(true);
      expect(s.healthcheck?.retries ?? 0).toBeGreaterThan(0);
    }
    expect(services.postgres.healthcheck?.test).toEqual(expect.arrayContaining(['pg_isready']));
    for (const app of APPS) expect(JSON.stringify(services[app].healthcheck?.test)).toMatch(/"node".*\/readyz/);
  });

  it('starts apps only after their dependencies are healthy (or, for one-shots, done)', () => {
    for (const [name, s] of entries) {
      if (!s.depends_on) continue;
      expect(Array.isArray(s.depends_on)).toBe(false); // the short form has no condition
      for (const [dep, spec] of Object.entries(s.depends_on as Record<string, { condition: string }>)) {
        expect(services[dep]).toBeDefined();
        const want = oneShots.includes(dep) ? 'service_completed_successfully' : 'service_healthy';
        expect({ name, dep, condition: spec.condition }).toEqual({ name, dep, condition: want });
      }
    }
    const deps = (app: string) => Object.keys(services[app].depends_on ?? {}).sort();
    expect(deps('command-api')).toEqual(['dev-keys', 'eventstoredb', 'openbao', 'postgres']);
    expect(deps('projector')).toEqual(['dev-keys', 'eventstoredb', 'openbao', 'postgres']);
    expect(deps('auditor')).toEqual(['dev-keys', 'eventstoredb', 'kafka', 'openbao-audit-headers', 'postgres']);
  });

  describe.each(APPS)('%s service settings', (app) => {
    const e = env(app);

    it('sets every setting the catalog requires in production for this app', () => {
      const required = requiredInProductionFor(app);
      expect(required.length).toBeGreaterThan(0);
      for (const name of required) expect({ name, value: e[name] }).toEqual({ name, value: expect.stringMatching(/\S/) });
    });

    it('runs this app alone, in the production profile, on all interfaces', () => {
      expect(e).toMatchObject({ PROFILE: 'production', APPS: app, HOST: '0.0.0.0', PORT: '8080' });
    });

    it('sets only settings the catalog knows (a typo would be silently ignored)', () => {
      for (const name of Object.keys(e)) expect({ name, known: CATALOG_NAMES.has(name) }).toEqual({ name, known: true });
    });

    it('points every *_FILE setting into a mounted volume, read-only where it holds a credential', () => {
      const mounts = (services[app].volumes ?? []).map((v) => {
        const [source, target, mode] = v.split(':');
        return { source, target, readOnly: mode === 'ro' };
      });
      for (const [name, value] of Object.entries(e).filter(([k]) => k.endsWith('_FILE'))) {
        const mount = mounts.find((m) => value.startsWith(posix.join(m.target, '/')));
        expect({ name, mounted: mount !== undefined }).toEqual({ name, mounted: true });
        if (SECRET_SETTINGS.has(name)) expect({ name, readOnly: mount?.readOnly }).toEqual({ name, readOnly: true });
      }
    });

    it('keeps DATA_DIR on a named volume and the root filesystem read-only', () => {
      const s = services[app];
      expect(s.read_only).toBe(true);
      expect(s.tmpfs).toContain('/tmp');
      expect(s.volumes).toContain(`${app}-data:${e.DATA_DIR}`);
      expect(Object.keys(compose.volumes ?? {})).toContain(`${app}-data`);
    });
  });

  it('the command API trusts issuers through key files, never the development issuer switch', () => {
    expect(env('command-api').DEV_ISSUER).toBe('0');
  });

  it('wires the apps to the compose services by name', () => {
    const api = env('command-api');
    expect(api.DATABASE_URL).toMatch(/^postgres:\/\/[^@]+@postgres:5432\//);
    expect(api.EVENTSTORE_URL).toMatch(/^esdb:\/\/eventstoredb:2113\?tls=false$/);
    expect(api.BAO_ADDR).toBe('http://openbao:8200');
    expect(api.BAO_TOKEN).toBe(services.openbao.environment?.BAO_DEV_ROOT_TOKEN_ID);
    expect(env('auditor').KAFKA_BROKERS).toBe('kafka:19092');
    expect(String(services.kafka.environment?.KAFKA_ADVERTISED_LISTENERS)).toContain('INTERNAL://kafka:19092');
    expect(String(services.postgres.environment?.POSTGRES_PASSWORD)).toMatch(/^dev-only-/);
    expect(String(services.openbao.environment?.BAO_DEV_ROOT_TOKEN_ID)).toMatch(/^dev-only-/);
  });

  describe('against the Compose Specification (compose-go, the loader docker compose uses)', () => {
    interface Model {
      name: string;
      services: Record<string, { environment?: Record<string, string | null>; ports?: Array<{ host_ip?: string; target: number; published: string }>; healthcheck?: { test: string[] } }>;
    }
    let model: Model;

    beforeAll(() => {
      const validator = ensureTool('ensure-compose-spec');
      const r = run(validator, ['--format', 'json', 'docker-compose.yml'], { cwd: ROOT });
      if (r.status !== 0) throw new Error(`docker-compose.yml does not conform to the Compose Specification:\n${r.stderr}`);
      model = JSON.parse(r.stdout) as Model;
    }, TOOL_TIMEOUT_MS);

    it('validates and loads as project pipeline-secrets with every service', () => {
      expect(model.name).toBe('pipeline-secrets');
      expect(Object.keys(model.services).sort()).toEqual(Object.keys(services).sort());
    });

    it('resolves the anchors and merge keys to exactly the environment this suite checks', () => {
      for (const name of Object.keys(services)) {
        const resolved = Object.fromEntries(Object.entries(model.services[name].environment ?? {}).map(([k, v]) => [k, v ?? '']));
        expect({ name, env: resolved }).toEqual({ name, env: env(name) });
      }
    });

    it('publishes every port on 127.0.0.1 in the normalized model', () => {
      for (const [name, s] of Object.entries(model.services)) {
        for (const p of s.ports ?? []) expect({ name, hostIp: p.host_ip }).toEqual({ name, hostIp: '127.0.0.1' });
      }
    });

    it('refuses a broken file (the validator is not a no-op)', () => {
      const validator = ensureTool('ensure-compose-spec');
      const dir = mkdtempSync(join(tmpdir(), 'ps-compose-'));
      try {
        writeFileSync(join(dir, 'docker-compose.yml'), 'services:\n  a:\n    image: x\n    depends_on:\n      b: {condition: service_helthy}\n  b: {image: y}\n');
        const r = run(validator, ['docker-compose.yml'], { cwd: dir });
        expect(r.status).not.toBe(0);
        expect(r.stderr).toMatch(/condition value must be one of/);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  });
});
