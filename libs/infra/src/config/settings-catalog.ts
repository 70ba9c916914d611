// Every environment variable the service reads, with its default and meaning. The README's
// settings table, docker-compose.yml and the Helm chart are checked against this list.

export type AppName = 'command-api' | 'projector' | 'auditor';

export interface SettingSpec {
  name: string;
  /** Default as text; undefined = no default. */
  default?: string;
  description: string;
  /** Apps that read it ('all' = every app). */
  usedBy: AppName[] | 'all';
  /** Must be set in the production profile (for the apps in usedBy). */
  requiredInProduction?: boolean;
  /** Holds a credential: comes from a Secret, never a ConfigMap, never logged. */
  secret?: boolean;
}

export const SETTINGS: readonly SettingSpec[] = [
  { name: 'PROFILE', default: 'embedded', description: '`embedded` (one process, PGlite, local value store, JSONL audit) or `production` (real servers).', usedBy: 'all' },
  { name: 'APPS', default: 'command-api,projector,auditor', description: 'Which apps this process runs (comma list). `npm run start:<app>` sets it to one.', usedBy: 'all' },
  { name: 'HOST', default: '127.0.0.1', description: 'Address the HTTP server binds (containers use 0.0.0.0).', usedBy: 'all' },
  { name: 'PORT', default: '8080', description: 'HTTP port (API, /healthz, /readyz, /metrics).', usedBy: 'all' },
  { name: 'DATA_DIR', default: './data', description: 'Embedded profile state: PGlite database, dev issuer key, master key, audit signing key, JSONL audit, rendered policies.', usedBy: 'all' },
  { name: 'LOG_LEVEL', default: 'info', description: '`debug`, `info`, `warn` or `error`. Logs are JSON lines on stdout and never contain secret values.', usedBy: 'all' },
  { name: 'DATABASE_URL', description: 'PostgreSQL URL: event store (unless EVENTSTORE_URL is set), read models, checkpoints.', usedBy: 'all', requiredInProduction: true, secret: true },
  { name: 'PG_CONNECT_TIMEOUT_MS', default: '3000', description: 'How long opening a PostgreSQL connection (or waiting for a pooled one) may take before the request gets 503 (100 to 60000).', usedBy: 'all' },
  { name: 'PG_STATEMENT_TIMEOUT_MS', default: '10000', description: 'Server-side `statement_timeout` of every pooled connection: PostgreSQL cancels a longer statement (100 to 600000).', usedBy: 'all' },
  { name: 'PG_QUERY_TIMEOUT_MS', default: '12000', description: 'Client-side bound of one query, for a server that does not answer at all (black-holed); must exceed `PG_STATEMENT_TIMEOUT_MS`. A request waiting on PostgreSQL ends with 503 within about this long.', usedBy: 'all' },
  { name: 'PG_IDLE_IN_TRANSACTION_TIMEOUT_MS', default: '15000', description: '`idle_in_transaction_session_timeout`: PostgreSQL ends a session left idle inside a transaction (1000 to 3600000).', usedBy: 'all' },
  { name: 'EVENTSTORE_URL', description: 'EventStoreDB connection string; when set it is the event store (PostgreSQL still holds read models).', usedBy: 'all', secret: true },
  { name: 'KAFKA_BROKERS', description: 'Comma list of Kafka bootstrap brokers for audit topics.', usedBy: ['auditor'], requiredInProduction: true },
  { name: 'KAFKA_CLIENT_ID', default: 'pipeline-secrets', description: 'Kafka client id.', usedBy: ['auditor'] },
  { name: 'AUDIT_TOPIC', default: 'secrets.audit.v1', description: 'Kafka topic for OCSF audit records.', usedBy: ['auditor'] },
  { name: 'AUDIT_CHECKPOINT_TOPIC', default: 'secrets.audit.checkpoints.v1', description: 'Kafka topic for signed Merkle-log checkpoints.', usedBy: ['auditor'] },
  { name: 'AUDIT_TOPIC_PARTITIONS', default: '6', description: 'Partitions when the auditor creates its topics.', usedBy: ['auditor'] },
  { name: 'AUDIT_SIGNING_KEY_FILE', description: 'Ed25519 private key (PKCS#8 PEM) signing checkpoints and evidence; the X-Pipeline-Secrets-Broker MAC key is derived from it (HKDF), so every process talking to OpenBao needs the same file. Embedded default: DATA_DIR/audit-signing.key (generated, mode 0600).', usedBy: ['auditor', 'command-api', 'projector'], requiredInProduction: true, secret: true },
  { name: 'AUDIT_LOG_ORIGIN', default: 'pipeline-secrets.local/audit', description: 'Origin line (and signer name) of the signed checkpoints: name the log uniquely, e.g. `secrets.example.com/audit`.', usedBy: ['auditor', 'command-api'] },
  { name: 'AUDIT_CHECKPOINT_EVERY_RECORDS', default: '1000', description: 'Sign a checkpoint after this many new audit records…', usedBy: ['auditor'] },
  { name: 'AUDIT_CHECKPOINT_SECONDS', default: '5', description: '…or after this many seconds, whichever comes first (only when the log grew).', usedBy: ['auditor'] },
  { name: 'AUDIT_TOPIC_REPLICATION', default: '1', description: 'Replication factor when the auditor creates its topics (use 3 on a real cluster).', usedBy: ['auditor'] },
  { name: 'BAO_ADDR', description: 'OpenBao address (values in KV v2, ACL policies, JWT roles).', usedBy: ['auditor', 'command-api', 'projector'], requiredInProduction: true },
  { name: 'BAO_TOKEN', description: 'OpenBao token for the service (prefer BAO_TOKEN_FILE).', usedBy: ['auditor', 'command-api', 'projector'], secret: true },
  { name: 'BAO_TOKEN_FILE', description: 'File holding the OpenBao token (a mounted Secret).', usedBy: ['auditor', 'command-api', 'projector'], secret: true },
  { name: 'BAO_KV_MOUNT', default: 'secret', description: 'KV v2 mount holding secret values.', usedBy: ['auditor', 'command-api', 'projector'] },
  { name: 'BAO_KV_PREFIX', default: 'pipeline-secrets', description: 'Folder under the KV mount that this service owns: values live at `<mount>/data/<prefix>/<project>/<NAME>`.', usedBy: ['auditor', 'command-api', 'projector'] },
  { name: 'BAO_JWT_MOUNT', default: 'jwt-ci', description: 'OpenBao JWT auth mount CI jobs log in through; the projector enables and configures it and owns its `ps-ci-*` roles.', usedBy: ['auditor', 'command-api', 'projector'] },
  { name: 'BAO_AUDIT_FILE', description: 'Path of the OpenBao file audit device the auditor tails (direct reads by CI jobs and changes to the service\'s OpenBao objects become events). Never the only device OpenBao has.', usedBy: ['auditor'] },
  { name: 'BAO_AUDIT_START', default: 'end', description: 'Where the auditor starts in `BAO_AUDIT_FILE` on its first start (no stored offset): `end` (after the last whole line, logged as a warning; earlier entries are not ingested) or `beginning` (the whole file: earlier direct reads become events, earlier unmarked writes to `ps-ci-*` objects become drift). Never consulted once an offset is stored.', usedBy: ['auditor'] },
  { name: 'BAO_CI_TOKEN_TTL_SECONDS', default: '300', description: 'TTL (and max TTL) of the OpenBao token a CI job gets from a rendered JWT role.', usedBy: ['auditor', 'projector'] },
  { name: 'VALUE_SWEEP_GRACE_SECONDS', default: '900', description: 'A KV version no event refers to (a crash between the value write and the append) is destroyed by the projector once it is this old.', usedBy: ['projector'] },
  { name: 'MASTER_KEY_FILE', description: 'Embedded value store only: 32-byte master key wrapping per-value data keys. Default DATA_DIR/master.key (generated, mode 0600).', usedBy: ['command-api'], secret: true },
  { name: 'AUTH_AUDIENCE', default: 'pipeline-secrets', description: 'Required `aud` of every bearer token (and the `bound_audiences` of the OpenBao JWT roles the projector writes).', usedBy: ['auditor', 'command-api', 'projector'] },
  { name: 'AUTH_USER_ISSUER', description: '`iss` of user tokens (admin tooling, reviewers).', usedBy: ['command-api'], requiredInProduction: true },
  { name: 'AUTH_USER_JWKS_URL', description: 'JWKS URL of the user issuer (or AUTH_USER_PUBLIC_KEY_FILE).', usedBy: ['command-api'] },
  { name: 'AUTH_USER_PUBLIC_KEY_FILE', description: 'PEM public key of the user issuer.', usedBy: ['command-api'] },
  { name: 'AUTH_CI_ISSUER', description: '`iss` of CI job tokens.', usedBy: ['auditor', 'command-api', 'projector'], requiredInProduction: true },
  { name: 'AUTH_CI_JWKS_URL', description: 'JWKS URL of the CI issuer (or AUTH_CI_PUBLIC_KEY_FILE); OpenBao JWT auth trusts the same keys.', usedBy: ['auditor', 'command-api', 'projector'] },
  { name: 'AUTH_CI_PUBLIC_KEY_FILE', description: 'PEM public key of the CI issuer.', usedBy: ['auditor', 'command-api', 'projector'] },
  { name: 'AUTH_ALGORITHMS', default: 'RS256,ES256,EdDSA', description: 'Allowed JWT `alg` values.', usedBy: ['command-api'] },
  { name: 'AUTH_CLOCK_SKEW_SECONDS', default: '30', description: 'Tolerance for `exp`/`nbf`.', usedBy: ['command-api'] },
  { name: 'ACCESS_REQUEST_TTL_SECONDS', default: '86400', description: 'How long an access request may stay pending (60 s to a year); then it expires unreviewed and `AccessRequestExpired` is recorded once.', usedBy: ['command-api'] },
  { name: 'ACCESS_REQUEST_MAX_PENDING_PER_REQUESTER', default: '20', description: 'Pending access requests one user may hold across all projects (invented project ids included); one more is a 429 `access-request-limit`.', usedBy: ['command-api'] },
  { name: 'ACCESS_REQUEST_MAX_PENDING_PER_PROJECT', default: '200', description: 'Pending access requests one project may hold; one more is a 429 `access-request-limit`.', usedBy: ['command-api'] },
  { name: 'GRANT_EXPIRY_SCAN_SECONDS', default: '30', description: 'How often the command API\'s timer records what fell due: `RoleExpired` for grants whose `expiresAt` passed, `AccessRequestExpired` for requests left pending, `SecretRotationOverdue` for value versions past their rotation interval (so SIEMs see them when they happen; access is refused from the expiry instant regardless).', usedBy: ['command-api'] },
  { name: 'GRAPHQL_JIT', default: 'on', description: '`on`: a GraphQL query document a tool sends again runs compiled by graphql-jit (after validation and the depth and cost limits; only documents with no string literal, no `_` in names, no @include/@skip on fragments and at most 500 selections; mutations never), about 1.5–2× the interpreted throughput on 100-row pages. `off`: every operation runs on graphql-js (graphql-jit generates JavaScript from the query: turn it off if that is not acceptable to you).', usedBy: ['command-api'] },
  { name: 'DENIAL_RATE_PER_MINUTE', default: '60', description: 'Denials one principal may cause per minute (whatever the project, known or not); beyond it the request that would be denied gets 429 with `Retry-After` and is folded into a summary event instead of recorded.', usedBy: ['command-api'] },
  { name: 'EXPOSURE_REPORTS_PER_MINUTE', default: '10', description: 'Exposure reports one user may ask for per minute (each scans a window of history); beyond it 429 with `Retry-After`, nothing read or recorded.', usedBy: ['command-api'] },
  { name: 'DENIAL_SUMMARY_WINDOW_SECONDS', default: '60', description: 'Window of identical denials (principal × project × reason): the first is recorded, the rest are counted into one `SecretAccessDenialsSuppressed` when the window closes.', usedBy: ['command-api'] },
  { name: 'CONSOLE_SESSION_IDLE_SECONDS', default: '1800', description: 'Web console: a session unused this long ends (60 to 86400).', usedBy: ['command-api'] },
  { name: 'CONSOLE_SESSION_MAX_SECONDS', default: '28800', description: 'Web console: a session ends this long after sign-in, used or not (300 to 604800; at least the idle lifetime).', usedBy: ['command-api'] },
  { name: 'CONSOLE_OIDC_ISSUER', description: 'Web console sign-in: OpenID Connect issuer (authorization code flow with PKCE); its ID token\'s `sub` and `groups` become the user principal. Unset: no production sign-in (the development form only where DEV_ISSUER=1).', usedBy: ['command-api'] },
  { name: 'CONSOLE_OIDC_CLIENT_ID', description: 'Web console: OIDC client id (with CONSOLE_OIDC_ISSUER).', usedBy: ['command-api'] },
  { name: 'CONSOLE_OIDC_CLIENT_SECRET_FILE', description: 'Web console: file holding the OIDC client secret (a mounted Secret).', usedBy: ['command-api'], secret: true },
  { name: 'CONSOLE_PUBLIC_URL', description: 'Web console: the origin browsers use (e.g. `https://secrets.example.com`): the OIDC redirect URI is `<origin>/console/auth/callback`, and cookie-authenticated writes must come from this origin. Unset: the request\'s own Host.', usedBy: ['command-api'] },
  { name: 'DEV_ISSUER', default: '1 (embedded), 0 (production)', description: 'Run the development issuer (key in DATA_DIR) whose tokens the CLI mints. Tests and local trials only.', usedBy: ['command-api'] },
];
