import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from './deploy-tools';

// The Dockerfile read as text: the shape the image must keep. image.deploy.spec.ts builds it
// (scripts/images build) and runs it for real.

interface Instruction {
  keyword: string;
  args: string;
  line: number;
}
interface Stage {
  base: string;
  name?: string;
  instructions: Instruction[];
}

/** Joins continuation lines, drops comments and the parser directive, splits into stages. */
function parseDockerfile(text: string): { args: Map<string, string>; stages: Stage[] } {
  const logical: Instruction[] = [];
  let buf = '';
  let start = 0;
  text.split('\n').forEach((raw, i) => {
    const line = raw.trimEnd();
    if (!buf && (line.trim() === '' || line.trim().startsWith('#'))) return;
    if (buf && line.trim().startsWith('#')) return; // comment inside a continued instruction
    if (!buf) start = i + 1;
    if (line.endsWith('\\')) {
      buf += line.slice(0, -1) + ' ';
      return;
    }
    buf += line;
    const m = /^\s*([A-Za-z]+)\s+([\s\S]*)$/.exec(buf);
    if (m) logical.push({ keyword: m[1].toUpperCase(), args: m[2].trim(), line: start });
    buf = '';
  });
  const args = new Map<string, string>();
  const stages: Stage[] = [];
  for (const ins of logical) {
    if (ins.keyword === 'FROM') {
      const m = /^(?:--platform=\S+\s+)?(\S+)(?:\s+AS\s+(\S+))?$/i.exec(ins.args);
      if (!m) throw new Error(`cannot parse FROM at line ${ins.line}: ${ins.args}`);
      const base = m[1].replace(/\$\{(\w+)\}|\$(\w+)/g, (_, a, b) => args.get(a ?? b) ?? '');
      stages.push({ base, name: m[2], instructions: [] });
    } else if (stages.length === 0) {
      if (ins.keyword === 'ARG') {
        const [k, v] = ins.args.split('=');
        args.set(k.trim(), (v ?? '').trim());
      }
    } else {
      stages[stages.length - 1].instructions.push(ins);
    }
  }
  return { args, stages };
}

const text = readFileSync(join(ROOT, 'Dockerfile'), 'utf8');
const { stages } = parseDockerfile(text);
const runtime = stages[stages.length - 1];
const of = (stage: Stage, keyword: string) => stage.instructions.filter((i) => i.keyword === keyword);
const stageArg = (stage: Stage, name: string) => {
  const decl = of(stage, 'ARG').find((i) => i.args.startsWith(`${name}=`) || i.args === name);
  return decl?.args.split('=')[1]?.trim();
};

describe('Dockerfile', () => {
  it('is multi-stage: a build stage, and a runtime stage last', () => {
    expect(stages.length).toBeGreaterThanOrEqual(2);
    expect(stages.map((s) => s.name)).toContain('build');
    expect(runtime.name).toBe('runtime');
  });

  it('pins every base image to a node 20 tag (no latest, no bare name)', () => {
    for (const s of stages) {
      expect(s.base).toMatch(/^node:20\.\d+\.\d+-[a-z]+-slim$/);
    }
  });

  it('builds with npm ci and npm run build, and installs nothing with npm install anywhere', () => {
    const runs = stages.flatMap((s) => of(s, 'RUN').map((i) => i.args));
    expect(runs.some((r) => /\bnpm ci\b/.test(r) && !/--omit=dev/.test(r))).toBe(true);
    expect(runs.some((r) => /\bnpm run build\b/.test(r))).toBe(true);
    expect(runs.some((r) => /\bnpm ci\b.*--omit=dev/.test(r))).toBe(true);
    for (const r of runs) expect(r).not.toMatch(/\bnpm (install|i|add)\b/);
  });

  it('runtime stage: no package installs, only production node_modules, dist/ and package.json copied in', () => {
    for (const r of of(runtime, 'RUN')) {
      expect(r.args).not.toMatch(/\bnpm (install|i|add|ci)\b/);
      expect(r.args).not.toMatch(/\b(apt-get|apt|apk) (install|add)\b/);
    }
    const copies = of(runtime, 'COPY').map((i) => i.args);
    expect(copies).toEqual(
      expect.arrayContaining([expect.stringMatching(/^--from=prod-deps\s+\/app\/node_modules\s+/), expect.stringMatching(/^--from=build\s+\/src\/dist\s+/)]),
    );
    const prodDeps = stages.find((s) => s.name === 'prod-deps');
    expect(prodDeps && of(prodDeps, 'RUN').some((i) => /npm ci --omit=dev/.test(i.args))).toBe(true);
    for (const c of copies) {
      const sources = c.replace(/--\S+/g, '').trim().split(/\s+/).slice(0, -1);
      for (const src of sources) expect(['/app/node_modules', '/src/dist', 'package.json']).toContain(src);
    }
  });

  it('runs as a fixed non-root uid', () => {
    const users = of(runtime, 'USER');
    expect(users.length).toBeGreaterThan(0);
    const user = users[users.length - 1].args.replace(/\$\{(\w+)\}/g, (_, a) => stageArg(runtime, a) ?? '');
    const [uid, gid] = user.split(':');
    expect(uid).toMatch(/^\d+$/);
    expect(Number(uid)).toBeGreaterThanOrEqual(1000);
    expect(Number(gid)).toBeGreaterThanOrEqual(1000);
  });

  it('has a HEALTHCHECK hitting /healthz with node itself (no curl in slim images)', () => {
    const hc = of(runtime, 'HEALTHCHECK');
    expect(hc).toHaveLength(1);
    expect(hc[0].args).toMatch(/CMD\s+\["node"/);
    expect(hc[0].args).toContain('/healthz');
    expect(hc[0].args).not.toMatch(/\b(curl|wget)\b/);
  });

  it('sets the production profile on all interfaces, and defaults to the command API', () => {
    const env = of(runtime, 'ENV').map((i) => i.args).join(' ');
    expect(env).toMatch(/\bPROFILE=production\b/);
    expect(env).toMatch(/\bHOST=0\.0\.0\.0\b/);
    expect(env).toMatch(/\bDATA_DIR=\/var\/lib\/pipeline-secrets\b/);
    const cmd = of(runtime, 'CMD');
    expect(cmd).toHaveLength(1);
    expect(JSON.parse(cmd[0].args)).toEqual(['node', 'dist/apps/command-api/src/main.js']);
  });

  it('is read-only-root friendly: the data directory and /tmp are declared volumes', () => {
    const volumes = of(runtime, 'VOLUME').flatMap((i) => JSON.parse(i.args) as string[]);
    expect(volumes).toEqual(expect.arrayContaining(['/var/lib/pipeline-secrets', '/tmp']));
  });

  it('builds offline with the classic builder: no `# syntax=` directive (BuildKit would fetch that frontend from a registry)', () => {
    expect(text).not.toMatch(/^#\s*syntax\s*=/im);
    // NODE_IMAGE is a build argument: scripts/images points it at the Node 20 image it builds
    expect(text).toMatch(/^ARG NODE_IMAGE=node:20\./m);
    expect(readFileSync(join(ROOT, 'scripts', 'images'), 'utf8')).toMatch(/--build-arg "NODE_IMAGE=\$IMG_NODE"/);
    expect(readFileSync(join(ROOT, 'scripts', 'images'), 'utf8')).toMatch(/^NODE_VERSION=20\.\d+\.\d+$/m);
  });

  it('lets only the build stages trust extra CA certificates (EXTRA_CA_CERTS), never the runtime stage', () => {
    expect(of(runtime, 'ARG').map((i) => i.args).join(' ')).not.toContain('EXTRA_CA_CERTS');
    expect(of(runtime, 'ENV').map((i) => i.args).join(' ')).not.toMatch(/NODE_EXTRA_CA_CERTS|EXTRA_CA/);
    for (const name of ['build', 'prod-deps']) {
      const stage = stages.find((s) => s.name === name)!;
      expect(of(stage, 'ARG').map((i) => i.args)).toContain('EXTRA_CA_CERTS=""');
      expect(of(stage, 'RUN').some((i) => /rm -f \/tmp\/extra-ca\.pem/.test(i.args))).toBe(true);
    }
  });

  it('.dockerignore is an allow-list that keeps local data, env files and node_modules out', () => {
    const lines = readFileSync(join(ROOT, '.dockerignore'), 'utf8')
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l && !l.startsWith('#'));
    expect(lines[0]).toBe('*');
    expect(lines).toEqual(expect.arrayContaining(['!package.json', '!package-lock.json', '!apps/', '!libs/', '**/data', '**/.env*', '**/node_modules']));
    expect(lines.filter((l) => l.startsWith('!'))).not.toContain('!data/');
  });
});
