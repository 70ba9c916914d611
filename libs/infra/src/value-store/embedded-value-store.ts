import { createCipheriv, createDecipheriv, createHmac, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import { SecretValueKey, SecretValueMissingError, SecretValueStore, StoreUnavailableError } from '@app/domain';
import { Migration, runMigrations } from '../sql/migrations';
import { SqlClient } from '../sql/sql-client';

// Envelope encryption for the embedded profile (NOT for production: the master key sits on
// the same disk as the data). Each value version gets a fresh AES-256-GCM data key; the data
// key is wrapped by the master key with AES-256-GCM. The value reference is bound into both
// as additional authenticated data, so a ciphertext moved to another row fails to decrypt.

export const VALUE_STORE_MIGRATIONS: Migration[] = [
  {
    version: 1,
    name: 'secret_values',
    sql: `CREATE TABLE IF NOT EXISTS secret_values (
      value_ref   text PRIMARY KEY,
      project_id  text NOT NULL,
      name        text NOT NULL,
      version     integer NOT NULL,
      wrapped_key bytea NOT NULL,
      key_iv      bytea NOT NULL,
      key_tag     bytea NOT NULL,
      iv          bytea NOT NULL,
      ciphertext  bytea NOT NULL,
      tag         bytea NOT NULL,
      created_at  timestamptz NOT NULL DEFAULT now()
    );
    CREATE INDEX IF NOT EXISTS secret_values_by_secret ON secret_values (project_id, name);`,
  },
  {
    version: 2,
    name: 'master key check value',
    sql: `CREATE TABLE IF NOT EXISTS value_store_meta (
      key   text PRIMARY KEY,
      value bytea NOT NULL
    )`,
  },
];

/** The master key does not match the one that encrypted the stored values: refuse to start rather than fail every read. */
export class MasterKeyMismatchError extends Error {
  constructor() {
    super('the master key does not match the key the stored secret values were encrypted with (check MASTER_KEY_FILE)');
    this.name = 'MasterKeyMismatchError';
  }
}

const keyCheckValue = (masterKey: Buffer) => createHmac('sha256', masterKey).update('pipeline-secrets master key check v1').digest();

interface Row {
  wrapped_key: Uint8Array;
  key_iv: Uint8Array;
  key_tag: Uint8Array;
  iv: Uint8Array;
  ciphertext: Uint8Array;
  tag: Uint8Array;
}

function seal(key: Buffer, plaintext: Buffer, aad: string) {
  const iv = randomBytes(12);
  const c = createCipheriv('aes-256-gcm', key, iv);
  c.setAAD(Buffer.from(aad, 'utf8'));
  const ciphertext = Buffer.concat([c.update(plaintext), c.final()]);
  return { iv, ciphertext, tag: c.getAuthTag() };
}

function open(key: Buffer, iv: Uint8Array, ciphertext: Uint8Array, tag: Uint8Array, aad: string): Buffer {
  const d = createDecipheriv('aes-256-gcm', key, iv);
  d.setAAD(Buffer.from(aad, 'utf8'));
  d.setAuthTag(Buffer.from(tag));
  return Buffer.concat([d.update(ciphertext), d.final()]);
}

export class EmbeddedValueStore implements SecretValueStore {
  private constructor(private readonly sql: SqlClient, private readonly masterKey: Buffer) {}

  static async open(sql: SqlClient, masterKey: Buffer): Promise<EmbeddedValueStore> {
    if (masterKey.length !== 32) throw new Error('master key must be 32 bytes');
    await runMigrations(sql, 'value-store', VALUE_STORE_MIGRATIONS);
    // The first key to open the store is recorded (as an HMAC, never the key); any other is refused.
    const kcv = keyCheckValue(masterKey);
    await sql.query("INSERT INTO value_store_meta (key, value) VALUES ('master-key-check', $1) ON CONFLICT (key) DO NOTHING", [kcv]);
    const { rows } = await sql.query<{ value: Uint8Array }>("SELECT value FROM value_store_meta WHERE key = 'master-key-check'");
    const stored = Buffer.from(rows[0].value);
    if (stored.length !== kcv.length || !timingSafeEqual(stored, kcv)) throw new MasterKeyMismatchError();
    return new EmbeddedValueStore(sql, masterKey);
  }

  async put(key: SecretValueKey, value: string): Promise<{ valueRef: string }> {
    const valueRef = `embedded:${randomUUID()}`;
    const dataKey = randomBytes(32);
    try {
      const body = seal(dataKey, Buffer.from(value, 'utf8'), valueRef);
      const wrapped = seal(this.masterKey, dataKey, `key:${valueRef}`);
      await this.sql.query(
        `INSERT INTO secret_values (value_ref, project_id, name, version, wrapped_key, key_iv, key_tag, iv, ciphertext, tag)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
        [valueRef, key.projectId, key.name, key.version, wrapped.ciphertext, wrapped.iv, wrapped.tag, body.iv, body.ciphertext, body.tag],
      );
      return { valueRef };
    } finally {
      dataKey.fill(0);
    }
  }

  async get(valueRef: string): Promise<string> {
    const { rows } = await this.sql.query<Row>(
      'SELECT wrapped_key, key_iv, key_tag, iv, ciphertext, tag FROM secret_values WHERE value_ref = $1',
      [valueRef],
    );
    const r = rows[0];
    if (!r) throw new SecretValueMissingError(valueRef);
    const dataKey = open(this.masterKey, r.key_iv, r.wrapped_key, r.key_tag, `key:${valueRef}`);
    try {
      return open(dataKey, r.iv, r.ciphertext, r.tag, valueRef).toString('utf8');
    } finally {
      dataKey.fill(0);
    }
  }

  async destroy(valueRefs: string[]): Promise<void> {
    if (valueRefs.length === 0) return;
    await this.sql.query('DELETE FROM secret_values WHERE value_ref = ANY($1::text[])', [valueRefs]);
  }

  async ping(): Promise<void> {
    try {
      await this.sql.query('SELECT 1');
    } catch (e) {
      throw new StoreUnavailableError('value store unreachable', e);
    }
  }
}
