import { createHash } from 'node:crypto';
import { chmodSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * A fixed master key for tests and benchmarks that share one PostgreSQL database across runs:
 * the value store refuses any key but the first one it saw. A test key, not a secret.
 */
export function writeTestMasterKey(dir: string): string {
  const path = join(dir, 'test-master.key');
  writeFileSync(path, createHash('sha256').update('pipeline-secrets shared test database key').digest(), { mode: 0o600 });
  chmodSync(path, 0o600);
  return path;
}
