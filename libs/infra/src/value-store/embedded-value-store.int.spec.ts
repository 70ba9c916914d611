import { randomBytes } from 'node:crypto';
import { SecretValueMissingError } from '@app/domain';
import { PgliteClient } from '../sql/pglite-client';
import { EmbeddedValueStore, MasterKeyMismatchError } from './embedded-value-store';

describe('EmbeddedValueStore (PGlite)', () => {
  it('round-trips values under fresh references, never storing plaintext, and destroys them', async () => {
    const sql = await PgliteClient.open();
    const store = await EmbeddedValueStore.open(sql, randomBytes(32));
    const canary = `value-canary-${randomBytes(8).toString('hex')}`;
    const a = await store.put({ projectId: 'p', name: 'N', version: 1, scope: { environment: null, branch: null, protectedOnly: false } }, canary);
    const b = await store.put({ projectId: 'p', name: 'N', version: 1, scope: { environment: null, branch: null, protectedOnly: false } }, canary);
    expect(a.valueRef).not.toBe(b.valueRef);
    expect(await store.get(a.valueRef)).toBe(canary);
    const { rows } = await sql.query<{ c: Uint8Array; w: Uint8Array }>('SELECT ciphertext AS c, wrapped_key AS w FROM secret_values');
    for (const r of rows) expect(Buffer.from(r.c).includes(Buffer.from(canary))).toBe(false);
    // Two encryptions of one value share nothing: fresh data key and IV each time.
    expect(Buffer.from(rows[0].c).equals(Buffer.from(rows[1].c))).toBe(false);
    await store.destroy([a.valueRef]);
    await expect(store.get(a.valueRef)).rejects.toBeInstanceOf(SecretValueMissingError);
    expect(await store.get(b.valueRef)).toBe(canary);
    await sql.close();
  });

  it('detects a ciphertext moved to another reference (AAD binds the reference)', async () => {
    const sql = await PgliteClient.open();
    const store = await EmbeddedValueStore.open(sql, randomBytes(32));
    const a = await store.put({ projectId: 'p', name: 'A', version: 1, scope: { environment: null, branch: null, protectedOnly: false } }, 'alpha');
    const b = await store.put({ projectId: 'p', name: 'B', version: 1, scope: { environment: null, branch: null, protectedOnly: false } }, 'bravo');
    await sql.query(
      `UPDATE secret_values SET wrapped_key = s.wrapped_key, key_iv = s.key_iv, key_tag = s.key_tag, iv = s.iv, ciphertext = s.ciphertext, tag = s.tag
       FROM (SELECT * FROM secret_values WHERE value_ref = $1) s WHERE secret_values.value_ref = $2`,
      [a.valueRef, b.valueRef],
    );
    await expect(store.get(b.valueRef)).rejects.toThrow();
    await sql.close();
  });

  it('refuses to open with a master key other than the one the values were stored with', async () => {
    const sql = await PgliteClient.open();
    const key = randomBytes(32);
    await EmbeddedValueStore.open(sql, key);
    await expect(EmbeddedValueStore.open(sql, randomBytes(32))).rejects.toBeInstanceOf(MasterKeyMismatchError);
    await expect(EmbeddedValueStore.open(sql, key)).resolves.toBeInstanceOf(EmbeddedValueStore);
    await sql.close();
  });
});
