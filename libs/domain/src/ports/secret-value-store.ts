// Where secret VALUES live: OpenBao KV v2 in production, an envelope-encrypted table in the
// embedded profile. Events hold only the opaque `valueRef` this port returns.

import type { SecretScope } from '../secret/secret';

export interface SecretValueKey {
  projectId: string;
  name: string;
  version: number;
  /** The secret's scope when this value is written: OpenBao keeps each value under a path of its scope, so a policy grants no value written under another scope. */
  scope: SecretScope;
}

export interface SecretValueStore {
  /** Stores a value under a fresh reference; a reference is never reused, so a lost race cannot overwrite a committed version. */
  put(key: SecretValueKey, value: string): Promise<{ valueRef: string }>;
  /** The value behind a reference; throws SecretValueMissingError if there is none. */
  get(valueRef: string): Promise<string>;
  /** Destroys these stored values (a deleted secret's versions, or an orphan whose event was never appended). Unknown refs are ignored. */
  destroy(valueRefs: string[]): Promise<void>;
  ping(): Promise<void>;
}

export class SecretValueMissingError extends Error {
  constructor(readonly valueRef: string) {
    super(`no stored value for reference ${valueRef}`);
    this.name = 'SecretValueMissingError';
  }
}
