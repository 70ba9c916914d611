import { ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { homedir } from 'node:os';
import { join } from 'node:path';

/**
 * A PRIVATE OpenBao 2.7.2 dev server (in memory, unsealed, a root token of the test's choosing) on
 * a port of its own, for tests that must restart or reconfigure OpenBao: the stack's shared one is
 * never touched. The binary is the one scripts/stack installs (`BAO_BIN` from `scripts/stack env`,
 * else under STACK_HOME).
 */
export const BAO_BIN = process.env.BAO_BIN ?? join(process.env.STACK_HOME ?? join(homedir(), '.cache', 'pipeline-secrets-stack'), 'bin', 'bao-2.7.2');

export function privateOpenBaoAvailable(): boolean {
  return existsSync(BAO_BIN);
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
}

export interface PrivateOpenBao {
  readonly addr: string;
  readonly token: string;
  /** Kill -9 and start again on the same address with the same root token: empty, as dev mode restarts. */
  restartEmpty(): Promise<void>;
  stop(): Promise<void>;
}

async function healthy(addr: string): Promise<boolean> {
  try {
    const r = await fetch(`${addr}/v1/sys/health`);
    return r.status === 200;
  } catch {
    return false;
  }
}

export async function startPrivateOpenBao(token: string, port?: number): Promise<PrivateOpenBao> {
  const p = port ?? (await freePort());
  const addr = `http://127.0.0.1:${p}`;
  let child: ChildProcess | undefined;
  const start = async () => {
    child = spawn(BAO_BIN, ['server', '-dev', `-dev-listen-address=127.0.0.1:${p}`, `-dev-root-token-id=${token}`], { stdio: 'ignore' });
    for (let i = 0; i < 400; i++) {
      if (child.exitCode !== null) throw new Error(`private OpenBao exited with ${child.exitCode} (port ${p} taken?)`);
      if (await healthy(addr)) return;
      await new Promise((r) => setTimeout(r, 50));
    }
    child.kill('SIGKILL');
    throw new Error('private OpenBao did not start within 20 s');
  };
  const stop = async () => {
    const c = child;
    if (!c || c.exitCode !== null || c.signalCode !== null) return;
    await new Promise<void>((resolve) => {
      c.once('exit', () => resolve());
      c.kill('SIGKILL');
    });
  };
  await start();
  return {
    addr,
    token,
    async restartEmpty() {
      await stop();
      await start();
    },
    stop,
  };
}
