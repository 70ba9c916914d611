import { randomUUID } from 'node:crypto';
// node-vault: the OpenBao/Vault HTTP client the design names.
import vault from 'node-vault';

const BAO_ADDR = process.env.BAO_ADDR;
const BAO_TOKEN = process.env.BAO_TOKEN;

if (!BAO_ADDR || !BAO_TOKEN) {
  console.warn('SKIPPED OpenBao smoke: BAO_ADDR/BAO_TOKEN is not set (scripts/test-all sets them; or eval "$(scripts/stack env)")');
  describe.skip('OpenBao smoke — SKIPPED, BAO_ADDR not set', () => it('needs BAO_ADDR', () => undefined));
} else {
  describe('OpenBao smoke (real server from scripts/stack)', () => {
    const bao = vault({ apiVersion: 'v1', endpoint: BAO_ADDR, token: BAO_TOKEN });

    it('is OpenBao, unsealed', async () => {
      const health = await bao.health();
      expect(health).toMatchObject({ initialized: true, sealed: false });
      expect(String(health.version)).toMatch(/^2\./);
    });

    it('writes and reads a KV v2 value, and check-and-set refuses a stale version', async () => {
      const path = `secret/data/smoke/${randomUUID()}`;
      const v1 = await bao.write(path, { data: { value: 'one' }, options: { cas: 0 } });
      expect(v1.data.version).toBe(1);
      expect((await bao.read(path)).data.data).toEqual({ value: 'one' });
      await bao.write(path, { data: { value: 'two' }, options: { cas: 1 } });
      await expect(bao.write(path, { data: { value: 'stale' }, options: { cas: 1 } })).rejects.toMatchObject({ response: { statusCode: 400 } });
      expect((await bao.read(path)).data.data).toEqual({ value: 'two' });
    });

    it('writes and reads an ACL policy', async () => {
      const name = `smoke-${randomUUID().slice(0, 8)}`;
      const rules = 'path "secret/data/smoke/*" {\n  capabilities = ["read"]\n}\n';
      await bao.addPolicy({ name, rules });
      const got = await bao.getPolicy({ name });
      expect(got.rules ?? got.data?.rules).toBe(rules);
      await bao.removePolicy({ name });
    });
  });
}
