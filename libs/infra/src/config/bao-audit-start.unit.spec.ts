import { ConfigError, loadConfig } from './config';

// BAO_AUDIT_START: where the OpenBao audit ingester begins on a first start (no stored offset).
describe('BAO_AUDIT_START', () => {
  const bao = { BAO_ADDR: 'http://127.0.0.1:8200', BAO_AUDIT_FILE: '/openbao/audit/audit-service.log' };

  it('defaults to end', () => {
    expect(loadConfig(bao).bao).toMatchObject({ auditFile: '/openbao/audit/audit-service.log', auditStart: 'end' });
  });

  it('takes beginning or end', () => {
    expect(loadConfig({ ...bao, BAO_AUDIT_START: 'beginning' }).bao?.auditStart).toBe('beginning');
    expect(loadConfig({ ...bao, BAO_AUDIT_START: 'end' }).bao?.auditStart).toBe('end');
  });

  it.each(['start', 'BEGINNING', '0', 'end '])('refuses %p, naming the setting', (v) => {
    expect(() => loadConfig({ ...bao, BAO_AUDIT_START: v })).toThrow(ConfigError);
    expect(() => loadConfig({ ...bao, BAO_AUDIT_START: v })).toThrow(/BAO_AUDIT_START must be beginning or end/);
  });
});
