import { chmodSync, mkdtempSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensurePrivateFile, KeyFileError, readPrivateFile } from './key-files';

describe('key files', () => {
  const dir = mkdtempSync(join(tmpdir(), 'keys-'));

  it('creates a key file with mode 0600 once, and reads it back', () => {
    const p = join(dir, 'a', 'master.key');
    const first = ensurePrivateFile(p, () => Buffer.from('one'));
    const second = ensurePrivateFile(p, () => Buffer.from('two'));
    expect(first.toString()).toBe('one');
    expect(second.toString()).toBe('one');
    expect(statSync(p).mode & 0o777).toBe(0o600);
  });

  it('refuses a key file readable by group or others', () => {
    const p = join(dir, 'loose.key');
    writeFileSync(p, 'k');
    chmodSync(p, 0o644);
    expect(() => readPrivateFile(p)).toThrow(KeyFileError);
    expect(() => readPrivateFile(p)).toThrow(/chmod 600/);
  });
});
