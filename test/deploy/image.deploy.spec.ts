import { APP_IMAGE, BUILD_TIMEOUT_MS, buildImages, docker, dockerEnv, dockerOk } from './docker-tools';
import { eventually } from '../support/eventually';

// The project's image alone, as `docker run` starts it (docs/deploy.md, "The image"): it answers
// /healthz and turns healthy by its own HEALTHCHECK, runs as the fixed non-root uid 10001, and its
// root file system is read-only: the app user (and root inside it) cannot change the code.

const PORT = 38180;
const NAME = 'ps-deploy-image-test';
const VOLUME = 'ps-deploy-image-test-data';
// docker exec/compose calls take seconds each on a loaded 2-core machine
jest.setTimeout(120_000);
let env: NodeJS.ProcessEnv;

function cleanup(): void {
  docker(env, ['rm', '-f', '-v', NAME]);
  docker(env, ['volume', 'rm', '-f', VOLUME]);
}

beforeAll(() => {
  buildImages();
  env = dockerEnv();
  cleanup();
  dockerOk(env, [
    'run', '-d', '--name', NAME,
    '--read-only', '--tmpfs', '/tmp', '--cap-drop', 'ALL', '--security-opt', 'no-new-privileges:true',
    '-v', `${VOLUME}:/var/lib/pipeline-secrets`,
    '-e', 'PROFILE=embedded',
    '-p', `127.0.0.1:${PORT}:8080`,
    APP_IMAGE,
  ]);
}, BUILD_TIMEOUT_MS);

afterAll(() => {
  if (env) cleanup();
});

const execIn = (cmd: string[]) => docker(env, ['exec', NAME, ...cmd]);

describe('the image alone (docker run --read-only)', () => {
  it('answers /healthz on the published loopback port', async () => {
    const res = await eventually(
      () => fetch(`http://127.0.0.1:${PORT}/healthz`, { signal: AbortSignal.timeout(3000) }),
      (r) => r instanceof Response && r.status === 200,
      90_000,
      500,
    );
    expect(res).toBeInstanceOf(Response);
    expect((res as Response).status).toBe(200);
  }, 120_000);

  it('turns healthy by its own HEALTHCHECK', async () => {
    const status = await eventually(
      async () => dockerOk(env, ['inspect', '--format', '{{.State.Health.Status}}', NAME]),
      (s) => s === 'healthy' || s === 'unhealthy',
      120_000,
      1000,
    );
    expect(status).toBe('healthy');
  }, 150_000);

  it('runs as the fixed non-root uid/gid 10001, with no capability', () => {
    expect(dockerOk(env, ['inspect', '--format', '{{.Config.User}}', APP_IMAGE])).toBe('10001:10001');
    expect(execIn(['id', '-u']).stdout.trim()).toBe('10001');
    expect(execIn(['id', '-g']).stdout.trim()).toBe('10001');
    // the node process itself (pid 1): its real and effective uid, and an empty effective capability set
    const status = execIn(['cat', '/proc/1/status']).stdout;
    expect(status).toMatch(/^Uid:\s+10001\s+10001\s+10001\s+10001$/m);
    expect(status).toMatch(/^CapEff:\s+0+$/m);
  });

  it('has a read-only root file system: code, dependencies and system paths cannot be written', () => {
    for (const path of ['/app/dist/apps/command-api/src/main.js', '/app/node_modules/x', '/app/x', '/usr/local/bin/node', '/etc/passwd', '/x']) {
      const r = execIn(['sh', '-c', `echo pwned >> ${path}`]);
      expect({ path, failed: r.status !== 0 }).toEqual({ path, failed: true });
      expect(r.stderr).toMatch(/Read-only file system|Permission denied/);
    }
    // even root inside the container (docker exec -u 0) cannot: the mount itself is read-only
    const asRoot = docker(env, ['exec', '-u', '0', NAME, 'sh', '-c', 'echo pwned >> /app/dist/apps/command-api/src/main.js']);
    expect(asRoot.status).not.toBe(0);
    expect(asRoot.stderr).toMatch(/Read-only file system/);
    expect(dockerOk(env, ['inspect', '--format', '{{.HostConfig.ReadonlyRootfs}}', NAME])).toBe('true');
    // it writes only where it must: DATA_DIR (the volume) and /tmp (tmpfs)
    expect(execIn(['sh', '-c', 'touch /var/lib/pipeline-secrets/.probe && touch /tmp/.probe']).status).toBe(0);
  });

  it('ships no package manager and no compiler toolchain in the runtime image', () => {
    for (const tool of ['npm', 'npx', 'yarn', 'corepack', 'gcc', 'cc']) {
      const r = execIn(['sh', '-c', `command -v ${tool}`]);
      expect({ tool, found: r.stdout.trim() }).toEqual({ tool, found: '' });
    }
  });
});
