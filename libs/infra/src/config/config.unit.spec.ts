import { ConfigError, loadConfig, settingNames } from './config';
import { SETTINGS } from './settings-catalog';

describe('loadConfig', () => {
  it('defaults to the embedded profile with the dev issuer on, on loopback', () => {
    const c = loadConfig({});
    expect(c).toMatchObject({ profile: 'embedded', host: '127.0.0.1', port: 8080, apps: ['command-api', 'projector', 'auditor'] });
    expect(c.auth).toMatchObject({ devIssuer: true, audience: 'pipeline-secrets', clockSkewSeconds: 30, algorithms: ['RS256', 'ES256', 'EdDSA'] });
    expect(c.dataDir).toMatch(/\/data$/);
  });

  it.each([
    [{ PORT: 'eighty' }, /PORT/],
    [{ PORT: '70000' }, /PORT/],
    [{ PROFILE: 'staging' }, /PROFILE/],
    [{ APPS: 'command-api,worker' }, /APPS/],
    [{ LOG_LEVEL: 'loud' }, /LOG_LEVEL/],
    [{ DATABASE_URL: 'mysql://x' }, /DATABASE_URL/],
    [{ AUTH_ALGORITHMS: 'HS256' }, /AUTH_ALGORITHMS/],
    [{ AUTH_ALGORITHMS: 'none' }, /AUTH_ALGORITHMS/],
    [{ KAFKA_BROKERS: 'no port' }, /KAFKA_BROKERS/],
    [{ AUTH_USER_ISSUER: 'https://idp' }, /AUTH_USER_ISSUER needs AUTH_USER_JWKS_URL/],
    [{ AUTH_CI_JWKS_URL: 'https://ci/jwks' }, /AUTH_CI_ISSUER must be set/],
    [{ PROFILE: 'production' }, /DATABASE_URL is required/],
  ])('rejects %j naming the setting', (env, message) => {
    expect(() => loadConfig(env as NodeJS.ProcessEnv)).toThrow(ConfigError);
    expect(() => loadConfig(env as NodeJS.ProcessEnv)).toThrow(message);
  });

  it('never echoes a setting value in its error', () => {
    try {
      loadConfig({ DATABASE_URL: 'mysql://user:hunter2@db' });
      fail('expected an error');
    } catch (e) {
      expect((e as Error).message).not.toContain('hunter2');
    }
  });

  it('production turns the dev issuer off unless DEV_ISSUER=1', () => {
    const base = { PROFILE: 'production', DATABASE_URL: 'postgres://x@h/db', AUTH_USER_ISSUER: 'https://idp', AUTH_USER_JWKS_URL: 'https://idp/jwks', AUDIT_SIGNING_KEY_FILE: '/run/secrets/audit.key' };
    expect(loadConfig(base).auth.devIssuer).toBe(false);
    expect(loadConfig({ ...base, DEV_ISSUER: '1' }).auth.devIssuer).toBe(true);
  });

  it('production needs a mounted audit signing key for the auditor and the command-api, not for the projector alone', () => {
    const base = { PROFILE: 'production', DATABASE_URL: 'postgres://x@h/db', DEV_ISSUER: '1' };
    expect(() => loadConfig(base)).toThrow(/AUDIT_SIGNING_KEY_FILE is required/);
    expect(() => loadConfig({ ...base, APPS: 'projector' })).not.toThrow();
    expect(loadConfig({ ...base, AUDIT_SIGNING_KEY_FILE: '/k' }).auditSigningKeyFile).toBe('/k');
  });

  it('audit checkpoint cadence and log origin are validated', () => {
    expect(() => loadConfig({ AUDIT_CHECKPOINT_EVERY_RECORDS: '0' })).toThrow(/AUDIT_CHECKPOINT_EVERY_RECORDS/);
    expect(() => loadConfig({ AUDIT_LOG_ORIGIN: 'has space' })).toThrow(/AUDIT_LOG_ORIGIN/);
    expect(loadConfig({ AUDIT_CHECKPOINT_SECONDS: '2' }).auditLog).toEqual({ origin: 'pipeline-secrets.local/audit', checkpointEveryRecords: 1000, checkpointSeconds: 2 });
  });

  it('PostgreSQL time bounds: defaults, overrides, and the client bound must exceed the server one', () => {
    expect(loadConfig({}).pgBounds).toEqual({ connectTimeoutMs: 3000, statementTimeoutMs: 10000, queryTimeoutMs: 12000, idleInTransactionTimeoutMs: 15000 });
    expect(loadConfig({ PG_STATEMENT_TIMEOUT_MS: '4000', PG_QUERY_TIMEOUT_MS: '5000' }).pgBounds).toMatchObject({ statementTimeoutMs: 4000, queryTimeoutMs: 5000 });
    expect(() => loadConfig({ PG_QUERY_TIMEOUT_MS: '9000' })).toThrow(/PG_QUERY_TIMEOUT_MS must be greater than PG_STATEMENT_TIMEOUT_MS/);
    expect(() => loadConfig({ PG_CONNECT_TIMEOUT_MS: '0' })).toThrow(/PG_CONNECT_TIMEOUT_MS/);
  });

  it('the settings catalog names every variable loadConfig reads, and nothing else', () => {
    expect(settingNames()).toEqual(SETTINGS.map((s) => s.name).sort());
  });
});
