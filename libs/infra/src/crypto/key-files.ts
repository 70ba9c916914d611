import { chmodSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

export class KeyFileError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'KeyFileError';
  }
}

/** Reads a key file, refusing one that group or others can read (like ssh does). */
export function readPrivateFile(path: string): Buffer {
  let st;
  try {
    st = statSync(path);
  } catch {
    throw new KeyFileError(`key file ${path} does not exist or cannot be read`);
  }
  if (process.platform !== 'win32' && (st.mode & 0o077) !== 0) {
    throw new KeyFileError(`key file ${path} is accessible by group or others (mode ${(st.mode & 0o777).toString(8)}); chmod 600 it`);
  }
  return readFileSync(path);
}

/** Creates the file with mode 0600 (exclusive create, so a racing second process cannot clobber it) unless it exists; returns its content. */
export function ensurePrivateFile(path: string, create: () => Buffer | string): Buffer {
  if (!existsSync(path)) {
    mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
    try {
      writeFileSync(path, create(), { mode: 0o600, flag: 'wx' });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
    chmodSync(path, 0o600);
  }
  return readPrivateFile(path);
}
