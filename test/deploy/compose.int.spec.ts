import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, posix } from 'node:path';
import { parse } from 'yaml';
import { APPS, CATALOG_NAMES, ensureTool, requiredInProductionFor, ROOT, run, SECRET_SETTINGS, TOOL_TIMEOUT_MS } from './deploy-tools';

// docker-compose.yml read statically (compose.deploy.spec.ts brings it up for real): validated
// against the Compose Specification by compose-go, the loader docker compose uses
// (scripts/ensure-compose-spec builds it), and read as YAML for services, the locally built images
// (never pulled), loopback-only ports, healthchecks, start order, least-privilege OpenBao tokens,
// and every production setting each app needs (from the settings catalog).

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
  pull_policy?: string;
  profiles?: string[];
  user?: string;
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
const BACKING = ['postgres', 'kafka', 'openbao'];
/** Behind a compose profile: needs a public image no registry here ships. */
const OPTIONAL = ['eventstoredb'];

/** One-shot services: exit when done; others wait for them with service_completed_successfully. */
const oneShots = entries.filter(([, s]) => s.restart === 'no').map(([n]) => n);

/** The environment as compose resolves it with no variable set: ${X:-default} is the default. */
function env(service: string): Record<string, string> {
  const e = services[service].environment ?? {};
  const interpolate = (v: string) => v.replace(/\$\{\w+:-([^}]*)\}/g, (_, d: string) => d);
  return Object.fromEntries(Object.entries(e).map(([k, v]) => [k, v === null || v === undefined ? '' : interpolate(String(v))]));
}

describe('docker-compose.yml', () => {
  it('says at the top that it is for local use and its tokens are not secrets for production', () => {
    const header = text.split('\n').filter((l) => l.startsWith('#')).slice(0, 20).join('\n');
    expect(header).toMatch(/LOCAL \/ DEVELOPMENT USE ONLY/);
    expect(header).toMatch(/NOT (a )?secrets?\b/);
    expect(header).toMatch(/production/);
  });

  it('has the three backing servers, the openbao-init and dev-keys one-shots, the three apps, and EventStoreDB behind a profile', () => {
    expect(Object.keys(services).sort()).toEqual([...BACKING, ...OPTIONAL, 'dev-keys', 'openbao-init', ...APPS].sort());
    expect(oneShots.sort()).toEqual(['dev-keys', 'openbao-init']);
    for (const [name, s] of entries) expect({ name, profiles: s.profiles }).toEqual({ name, profiles: OPTIONAL.includes(name) ? ['eventstoredb'] : undefined });
  });

  it('runs only the images scripts/images builds here, never pulling one (pull_policy: never)', () => {
    const script = readFileSync(join(ROOT, 'scripts', 'images'), 'utf8');
    const stack = readFileSync(join(ROOT, 'scripts', 'stack'), 'utf8');
    const kafka = /^KAFKA_VERSION=\$\{STACK_KAFKA_VERSION:-(\S+)\}$/m.exec(stack)?.[1];
    const bao = /^BAO_VERSION=(\S+)$/m.exec(stack)?.[1];
    expect(script).toContain('IMG_PG=pipeline-secrets/postgres:15\n');
    expect(script).toContain('IMG_KAFKA=pipeline-secrets/kafka:$KAFKA_VERSION\n');
    expect(script).toContain('IMG_BAO=pipeline-secrets/openbao:$BAO_VERSION\n');
    expect(services.postgres.image).toBe('pipeline-secrets/postgres:15');
    expect(services.kafka.image).toBe(`pipeline-secrets/kafka:${kafka}`);
    expect(services.openbao.image).toBe(`pipeline-secrets/openbao:${bao}`);
    for (const [name, s] of entries) {
      if (OPTIONAL.includes(name)) continue;
      expect({ name, image: s.image, pull: s.pull_policy, build: s.build }).toEqual({ name, image: expect.stringMatching(/^pipeline-secrets[/:]/), pull: 'never', build: undefined });
    }
    expect(services.eventstoredb.image).toMatch(/^kurrentplatform\/kurrentdb:\d+\.\d+\.\d+$/);
  });

  it('runs the three apps, dev-keys and openbao-init from the one app image, each with its own entry point', () => {
    for (const app of [...APPS, 'dev-keys', 'openbao-init']) expect(services[app].image).toBe('pipeline-secrets:local');
    for (const app of APPS) expect(services[app].command).toEqual(['node', `dist/apps/${app}/src/main.js`]);
  });

  it('publishes ports on 127.0.0.1 only', () => {
    let published = 0;
    for (const [name, s] of entries) {
      for (const p of s.ports ?? []) {
        published++;
        if (typeof p === 'string') expect({ name, port: p }).toEqual({ name, port: expect.stringMatching(/^127\.0\.0\.1:(\d+|\$\{[A-Z_]+:-\d+\}):\d+(\/tcp)?$/) });
        else expect({ name, hostIp: p.host_ip }).toEqual({ name, hostIp: '127.0.0.1' });
      }
    }
    expect(published).toBeGreaterThanOrEqual(7);
    // every host port can be moved (the deploy tests use ports of their own)
    for (const [name, s] of entries) for (const p of s.ports ?? []) expect({ name, p }).toEqual({ name, p: expect.stringMatching(/^127\.0\.0\.1:\$\{[A-Z_]+_PORT:-\d+\}:\d+$/) });
    expect(String(services['command-api'].ports)).toBe('127.0.0.1:${API_PORT:-8080}:8080');
    for (const app of APPS) expect(services[app].ports?.length).toBeGreaterThan(0);
  });

  it('has a healthcheck on every long-running service', () => {
    for (const [name, s] of entries) {
      if (oneShots.includes(name)) continue;
      expect({ name, restart: s.restart }).toEqual({ name, restart: 'unless-stopped' });
      expect({ name, healthcheck: s.healthcheck?.test }).toEqual({ name, healthcheck: expect.anything() });
      expect(s.healthcheck?.disable).not.toBe(true);
      expect(s.healthcheck?.retries ?? 0).toBeGreaterThan(0);
    }
    expect(services.postgres.healthcheck?.test).toEqual(expect.arrayContaining(['pg_isready']));
    // OpenBao is healthy only unsealed: `bao status` exits 2 while sealed
    expect(services.openbao.healthcheck?.test).toEqual(['CMD', 'bao', 'status', '-address=http://127.0.0.1:8200']);
    for (const app of APPS) expect(JSON.stringify(services[app].healthcheck?.test)).toMatch(/"node".*\/readyz/);
  });

  it('starts apps only after their dependencies are healthy (or, for one-shots, done)', () => {
    for (const [name, s] of entries) {
      if (!s.depends_on) continue;
      expect(Array.isArray(s.depends_on)).toBe(false); // the short form has no condition
      for (const [dep, spec] of Object.entries(s.depends_on as Record<string, { condition: string }>)) {
        expect(services[dep]).toBeDefined();
        // openbao-init starts with OpenBao (sealed, so not healthy yet) and unseals it
        const want = oneShots.includes(dep) ? 'service_completed_successfully' : name === 'openbao-init' ? 'service_started' : 'service_healthy';
        expect({ name, dep, condition: spec.condition }).toEqual({ name, dep, condition: want });
      }
    }
    const deps = (app: string) => Object.keys(services[app].depends_on ?? {}).sort();
    expect(deps('command-api')).toEqual(['dev-keys', 'openbao', 'openbao-init', 'postgres']);
    expect(deps('projector')).toEqual(['dev-keys', 'openbao', 'openbao-init', 'postgres']);
    expect(deps('auditor')).toEqual(['dev-keys', 'kafka', 'openbao', 'openbao-init', 'postgres']);
  });

  describe.each(APPS)('%s service settings', (app) => {
    const e = env(app);

    it('sets every setting the catalog requires in production for this app', () => {
      // DEV_ISSUER=1 stands in for the user and CI issuers (config.ts: "or DEV_ISSUER=1 for trials")
      const required = requiredInProductionFor(app).filter((n) => !(e.DEV_ISSUER === '1' && ['AUTH_USER_ISSUER', 'AUTH_CI_ISSUER'].includes(n)));
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
      // the command API's DATA_DIR is the dev-keys volume: the development issuer's keys live there
      const volume = app === 'command-api' ? 'dev-keys' : `${app}-data`;
      expect(s.volumes).toContain(app === 'command-api' ? `dev-keys:${e.DATA_DIR}:ro` : `${volume}:${e.DATA_DIR}`);
      expect(Object.keys(compose.volumes ?? {})).toContain(volume);
    });
  });

  it('the command API runs the development issuer (DEV_ISSUER=1); the projector and the auditor trust its key file', () => {
    expect(env('command-api').DEV_ISSUER).toBe('1');
    for (const app of ['projector', 'auditor']) {
      expect(env(app).DEV_ISSUER).toBeUndefined();
      expect(env(app)).toMatchObject({ AUTH_CI_ISSUER: 'urn:pipeline-secrets:dev-issuer:ci', AUTH_CI_PUBLIC_KEY_FILE: expect.stringMatching(/dev-issuer\.pub\.pem$/) });
    }
  });

  it('hands each app its own OpenBao token file, never a token in the environment and never the root token', () => {
    for (const app of APPS) {
      const e = env(app);
      expect(e.BAO_TOKEN).toBeUndefined();
      expect(e.BAO_TOKEN_FILE).toBe('/run/openbao/token');
      expect(services[app].volumes).toContain(`bao-token-${app}:/run/openbao:ro`);
      // no other app's token volume, and not the init state (unseal key, root token)
      for (const v of services[app].volumes ?? []) expect({ app, v }).toEqual({ app, v: expect.not.stringMatching(new RegExp(`^openbao-init:|^bao-token-(?!${app}:)`)) });
    }
    const init = services['openbao-init'];
    expect(init.volumes).toEqual(expect.arrayContaining(['openbao-init:/var/lib/openbao-init', ...APPS.map((a) => `bao-token-${a}:/run/openbao-tokens/${a}`)]));
    expect(init.user).toBe('0:0');
    expect((init as { cap_add?: string[] }).cap_add).toEqual(['CHOWN']);
    expect((init as { cap_drop?: string[] }).cap_drop).toEqual(['ALL']);
  });

  it('runs OpenBao as a server with its configuration file, not in dev mode', () => {
    expect(JSON.stringify(services.openbao)).not.toMatch(/-dev\b|BAO_DEV_/);
    const hcl = readFileSync(join(ROOT, 'deploy', 'compose', 'openbao', 'openbao.hcl'), 'utf8');
    expect(hcl).toMatch(/storage "raft"/);
    expect(hcl).toMatch(/audit "file" "pipeline-secrets"[\s\S]*file_path\s*=\s*"\/openbao\/audit\/audit-service\.log"/);
    expect((hcl.match(/^audit "file"/gm) ?? []).length).toBe(2);
    expect(env('auditor').BAO_AUDIT_FILE).toBe('/openbao/audit/audit-service.log');
  });

  it("openbao-init writes exactly the service policies of docs/openbao.md", () => {
    const doc = readFileSync(join(ROOT, 'docs', 'openbao.md'), 'utf8');
    for (const policy of ['projector', 'command-api']) {
      const block = new RegExp(`\`\`\`hcl\\n(# service policy: ${policy}\\n[\\s\\S]*?)\`\`\``).exec(doc)?.[1];
      expect({ policy, block: block !== undefined }).toEqual({ policy, block: true });
      expect(readFileSync(join(ROOT, 'deploy', 'compose', 'openbao-init', `${policy}.hcl`), 'utf8')).toBe(block);
    }
  });

  it('wires the apps to the compose services by name', () => {
    const api = env('command-api');
    expect(api.DATABASE_URL).toMatch(/^postgres:\/\/[^@]+@postgres:5432\//);
    expect(api.EVENTSTORE_URL).toBe(''); // PostgreSQL is the event store unless the eventstoredb profile is chosen
    expect(api.BAO_ADDR).toBe('http://openbao:8200');
    expect(env('auditor').KAFKA_BROKERS).toBe('kafka:19092');
    expect(String(services.kafka.environment?.KAFKA_ADVERTISED_LISTENERS)).toContain('INTERNAL://kafka:19092');
    expect(String(services.postgres.environment?.POSTGRES_PASSWORD)).toMatch(/^dev-only-/);
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

    const active = () => Object.keys(services).filter((n) => !OPTIONAL.includes(n));
    it('validates and loads as project pipeline-secrets with every service (the profile ones left out)', () => {
      expect(model.name).toBe('pipeline-secrets');
      for (const n of active()) expect(Object.keys(model.services)).toContain(n);
    });

    it('resolves the anchors and merge keys to exactly the environment this suite checks', () => {
      for (const name of active()) {
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
