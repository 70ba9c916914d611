import { spawnSync, SpawnSyncReturns } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { SETTINGS, SettingSpec, AppName } from '@app/infra/config/settings-catalog';

// Shared by the deploy suites: where things are, the external tools (built or installed by
// scripts/ensure-*, never skipped), and the settings catalog seen per app.

export const ROOT = resolve(__dirname, '..', '..');
export const CHART_DIR = join(ROOT, 'deploy', 'helm', 'pipeline-secrets');
export const APPS: readonly AppName[] = ['command-api', 'projector', 'auditor'];

/** A cold helm build from the Go module proxy takes minutes on 2 cores. */
export const TOOL_TIMEOUT_MS = 20 * 60_000;

/**
 * Runs scripts/<script> (which builds or installs a tool into a cache outside the repository
 * and prints its path) and returns that path. Throws, so the suite fails loudly, when the tool
 * cannot be had: a missing tool is never a silent pass.
 */
export function ensureTool(script: string): string {
  const scriptPath = join(ROOT, 'scripts', script);
  const r = spawnSync('bash', [scriptPath], { encoding: 'utf8', timeout: TOOL_TIMEOUT_MS, maxBuffer: 64 * 1024 * 1024 });
  if (r.error) throw new Error(`scripts/${script} could not run: ${r.error.message}`);
  if (r.status !== 0) throw new Error(`scripts/${script} failed with exit ${r.status}; its output:\n${r.stderr}`);
  const path = r.stdout.trim().split('\n').pop() ?? '';
  if (!path || !existsSync(path)) throw new Error(`scripts/${script} printed no usable path (got ${JSON.stringify(path)}); stderr:\n${r.stderr}`);
  return path;
}

export function run(cmd: string, args: string[], opts: { cwd?: string; timeoutMs?: number } = {}): SpawnSyncReturns<string> {
  const r = spawnSync(cmd, args, { encoding: 'utf8', cwd: opts.cwd ?? ROOT, timeout: opts.timeoutMs ?? 120_000, maxBuffer: 64 * 1024 * 1024 });
  if (r.error) throw new Error(`${cmd} ${args.join(' ')} could not run: ${r.error.message}`);
  return r;
}

export function usedBy(s: SettingSpec, app: AppName): boolean {
  return s.usedBy === 'all' || s.usedBy.includes(app);
}

/** Settings the catalog says must be set in production for this app. */
export function requiredInProductionFor(app: AppName): string[] {
  return SETTINGS.filter((s) => s.requiredInProduction && usedBy(s, app)).map((s) => s.name);
}

export const CATALOG_NAMES = new Set(SETTINGS.map((s) => s.name));
export const SECRET_SETTINGS = new Set(SETTINGS.filter((s) => s.secret).map((s) => s.name));
