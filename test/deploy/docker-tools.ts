import { spawn, spawnSync, SpawnSyncReturns } from 'node:child_process';
import { join } from 'node:path';
import { ROOT } from './deploy-tools';

// Shared by the container suites (*.deploy.spec.ts): the engine `scripts/images` runs or finds,
// the images it builds, and `docker compose` under a project name of the tests' own with
// loopback ports of their own, so nothing collides with a stack someone brought up by hand.

/** A cold `scripts/images build` (debootstrap, npm ci, Kafka/OpenBao images, Compose v2 from the Go proxy). */
export const BUILD_TIMEOUT_MS = 30 * 60_000;

export const APP_IMAGE = 'pipeline-secrets:local';

/** The environment with DOCKER_HOST of the engine scripts/images uses. Throws when none answers. */
export function dockerEnv(): NodeJS.ProcessEnv {
  const r = spawnSync('bash', [join(ROOT, 'scripts', 'images'), 'env'], { encoding: 'utf8', timeout: 60_000 });
  if (r.status !== 0) throw new Error(`scripts/images env failed (no Docker engine answers): ${r.stderr}`);
  const env = { ...process.env };
  const m = /^export DOCKER_HOST=(\S+)$/m.exec(r.stdout);
  if (m) env.DOCKER_HOST = m[1];
  return env;
}

/**
 * Runs `scripts/images build` (idempotent: seconds when nothing changed) so a suite run alone has
 * its images; IMAGES_BUILT=1 (set by scripts/test-all right after its own build) skips it. Throws with the script's output, so the suite fails loudly, when the engine or a
 * build cannot run: never a skip.
 */
export function buildImages(): void {
  // scripts/test-all has just run it (and failed the run loudly if it could not)
  if (process.env.IMAGES_BUILT === '1') return;
  const r = spawnSync('bash', [join(ROOT, 'scripts', 'images'), 'build'], { encoding: 'utf8', timeout: BUILD_TIMEOUT_MS, maxBuffer: 64 * 1024 * 1024 });
  if (r.error) throw new Error(`scripts/images build could not run: ${r.error.message}`);
  if (r.status !== 0) throw new Error(`scripts/images build failed with exit ${r.status}:\n${r.stderr.slice(-8000)}`);
}

export function docker(env: NodeJS.ProcessEnv, args: string[], opts: { timeoutMs?: number; input?: string } = {}): SpawnSyncReturns<string> {
  const r = spawnSync('docker', args, { encoding: 'utf8', cwd: ROOT, env, timeout: opts.timeoutMs ?? 120_000, input: opts.input, maxBuffer: 64 * 1024 * 1024 });
  if (r.error) throw new Error(`docker ${args.join(' ')} could not run: ${r.error.message}`);
  return r;
}

/** docker ... that must succeed; returns stdout trimmed. */
export function dockerOk(env: NodeJS.ProcessEnv, args: string[], opts: { timeoutMs?: number; input?: string } = {}): string {
  const r = docker(env, args, opts);
  if (r.status !== 0) throw new Error(`docker ${args.join(' ')} exited ${r.status}:\n${r.stdout.slice(-4000)}\n${r.stderr.slice(-4000)}`);
  return r.stdout.trim();
}

/** The same, without blocking the event loop (for commands that run while the test does HTTP). */
export function dockerAsync(env: NodeJS.ProcessEnv, args: string[], timeoutMs = 120_000): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn('docker', args, { cwd: ROOT, env });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', reject);
    child.on('close', (status) => {
      clearTimeout(timer);
      resolve({ status, stdout, stderr });
    });
  });
}

/** A compose project of the tests' own: name and published ports that collide with nothing else. */
export interface ComposeProject {
  name: string;
  env: NodeJS.ProcessEnv;
  ports: { api: number; projector: number; auditor: number; openbao: number; kafka: number; postgres: number };
}

export function composeProject(name: string, base: number): ComposeProject {
  const ports = { api: base, projector: base + 1, auditor: base + 2, openbao: base + 3, kafka: base + 4, postgres: base + 5 };
  const env = {
    ...dockerEnv(),
    COMPOSE_PROJECT_NAME: name,
    API_PORT: String(ports.api),
    PROJECTOR_PORT: String(ports.projector),
    AUDITOR_PORT: String(ports.auditor),
    OPENBAO_PORT: String(ports.openbao),
    KAFKA_PORT: String(ports.kafka),
    POSTGRES_PORT: String(ports.postgres),
  };
  return { name, env, ports };
}

export function compose(p: ComposeProject, args: string[], opts: { timeoutMs?: number; input?: string } = {}): SpawnSyncReturns<string> {
  return docker(p.env, ['compose', '-p', p.name, ...args], opts);
}

export function composeOk(p: ComposeProject, args: string[], opts: { timeoutMs?: number; input?: string } = {}): string {
  return dockerOk(p.env, ['compose', '-p', p.name, ...args], opts);
}

/** Containers, networks and volumes that carry the compose project's label. */
export function leftovers(p: ComposeProject): { containers: string[]; networks: string[]; volumes: string[] } {
  const label = `label=com.docker.compose.project=${p.name}`;
  const lines = (s: string) => s.split('\n').filter(Boolean);
  return {
    containers: lines(dockerOk(p.env, ['ps', '-a', '--filter', label, '--format', '{{.Names}}'])),
    networks: lines(dockerOk(p.env, ['network', 'ls', '--filter', label, '--format', '{{.Name}}'])),
    volumes: lines(dockerOk(p.env, ['volume', 'ls', '--filter', label, '--format', '{{.Name}}'])),
  };
}
