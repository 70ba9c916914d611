import { ChildProcess, spawn } from 'node:child_process';

/**
 * Starts the built service (`dist/apps/main.js`) as a child on `port` and waits (up to 30 s) until
 * its /readyz answers 200. Refuses a port something already answers on: a server left there would
 * answer /readyz for ours, with another development issuer's keys.
 */
export async function startServer(env: Record<string, string>, port: number, nodeArgs: string[] = []): Promise<ChildProcess> {
  if (await fetch(`http://127.0.0.1:${port}/readyz`).then(() => true, () => false)) throw new Error(`port ${port} is already in use`);
  const child = spawn(process.execPath, [...nodeArgs, 'dist/apps/main.js'], { env: { ...process.env, ...env, PORT: String(port), LOG_LEVEL: 'warn' }, stdio: ['ignore', 'ignore', 'inherit'] });
  for (let i = 0; i < 300; i++) {
    if (child.exitCode !== null) throw new Error(`server exited with ${child.exitCode}`);
    try {
      const r = await fetch(`http://127.0.0.1:${port}/readyz`);
      if (r.ok) return child;
    } catch {
      /* not yet */
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  child.kill('SIGKILL');
  throw new Error('server did not become ready');
}
