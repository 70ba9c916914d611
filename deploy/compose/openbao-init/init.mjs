// One-shot set-up of the composed OpenBao (docker-compose.yml, service openbao-init), idempotent:
//   1. initialise it once (1 key share: a local stack), keeping the unseal key and the root
//      token in the openbao-init volume (0600, this service's only);
//   2. unseal it (every `docker compose up`: a restarted OpenBao comes back sealed);
//   3. with the root token: KV v2 at secret/, the broker marker header in clear, the service
//      policies of docs/openbao.md ("The service tokens"; the .hcl files beside this one, which
//      test/deploy/compose.int.spec.ts keeps equal to that document);
//   4. one token per app (orphan, no default policy, only its service policy), each written into
//      that app's own volume. The apps never see the root token or each other's token.
// Runs in the app image (node 20, fetch); only the standard library.
import { chownSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const ADDR = process.env.BAO_ADDR ?? 'http://openbao:8200';
const STATE = process.env.INIT_STATE_FILE ?? '/var/lib/openbao-init/state.json';
const TOKENS_DIR = process.env.TOKENS_DIR ?? '/run/openbao-tokens';
const APP_UID = Number(process.env.APP_UID ?? 10001);
const HERE = new URL('.', import.meta.url).pathname;
// app -> service policy (the auditor repairs drift with the projector's policy: docs/openbao.md)
const APPS = { 'command-api': 'command-api', projector: 'projector', auditor: 'projector' };
const TOKEN_TTL = process.env.SERVICE_TOKEN_TTL ?? '8760h';

const log = (msg) => console.log(`openbao-init: ${msg}`);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// generous: initialising raft storage on a loaded 2-core machine took more than 10 s
async function bao(method, path, { token, body, ok = [200, 204], timeoutMs = 60_000 } = {}) {
  const res = await fetch(`${ADDR}/v1/${path}`, {
    method,
    headers: { ...(token ? { 'X-Vault-Token': token } : {}), ...(body ? { 'Content-Type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
    signal: AbortSignal.timeout(timeoutMs),
  });
  const text = await res.text();
  if (!ok.includes(res.status)) throw new Error(`${method} ${path}: HTTP ${res.status} ${text.slice(0, 300)}`);
  return { status: res.status, json: text ? JSON.parse(text) : {} };
}

async function health() {
  // every state answers 200 with these codes; only "not answering" throws
  return (await bao('GET', 'sys/health?standbyok=true&sealedcode=200&uninitcode=200', { timeoutMs: 10_000 })).json;
}

function writePrivate(file, content, uid) {
  mkdirSync(join(file, '..'), { recursive: true });
  const tmp = `${file}.tmp`;
  writeFileSync(tmp, content, { mode: 0o600 });
  if (uid !== undefined) chownSync(tmp, uid, uid);
  renameSync(tmp, file);
}

async function main() {
  let h;
  for (let i = 0; ; i++) {
    try { h = await health(); break; } catch (e) {
      if (i >= 120) throw new Error(`OpenBao at ${ADDR} did not answer within 60 s: ${e.message}`);
      await sleep(500);
    }
  }
  let state = existsSync(STATE) ? JSON.parse(readFileSync(STATE, 'utf8')) : undefined;
  if (!h.initialized) {
    if (state) throw new Error(`OpenBao is not initialised but ${STATE} exists: its storage was lost; run docker compose down -v`);
    // a lost answer here would lose the keys: wait as long as it takes
    const init = (await bao('PUT', 'sys/init', { body: { secret_shares: 1, secret_threshold: 1 }, timeoutMs: 600_000 })).json;
    state = { unsealKey: init.keys_base64[0], rootToken: init.root_token, tokens: {} };
    writePrivate(STATE, JSON.stringify(state));
    log('initialised (1 key share; unseal key and root token kept in the openbao-init volume)');
  }
  if (!state) throw new Error(`OpenBao is initialised but ${STATE} is missing: this stack did not initialise it`);
  if ((await health()).sealed) {
    await bao('PUT', 'sys/unseal', { body: { key: state.unsealKey } });
    log('unsealed');
  }
  for (let i = 0; ; i++) {
    const s = await health();
    if (!s.sealed && !s.standby) break;
    if (i >= 600) throw new Error('OpenBao did not become active within 5 min of unsealing');
    await sleep(500);
  }
  const token = state.rootToken;
  const mounts = (await bao('GET', 'sys/mounts', { token })).json.data ?? {};
  if (!mounts['secret/']) {
    await bao('POST', 'sys/mounts/secret', { token, body: { type: 'kv', options: { version: '2' } } });
    log('KV v2 enabled at secret/');
  }
  await bao('PUT', 'sys/config/auditing/request-headers/x-pipeline-secrets-broker', { token, body: { hmac: false } });
  for (const policy of new Set(Object.values(APPS))) {
    const text = readFileSync(join(HERE, `${policy}.hcl`), 'utf8');
    await bao('PUT', `sys/policies/acl/pipeline-secrets-${policy}`, { token, body: { policy: text } });
  }
  state.tokens ??= {};
  for (const [app, policy] of Object.entries(APPS)) {
    let appToken = state.tokens[app];
    if (appToken) {
      const r = await bao('POST', 'auth/token/lookup', { token, body: { token: appToken }, ok: [200, 400, 403] });
      if (r.status !== 200) appToken = undefined;
    }
    if (!appToken) {
      const r = await bao('POST', 'auth/token/create-orphan', {
        token,
        body: { policies: [`pipeline-secrets-${policy}`], no_default_policy: true, ttl: TOKEN_TTL, display_name: `pipeline-secrets-${app}` },
      });
      appToken = r.json.auth.client_token;
      state.tokens[app] = appToken;
      writePrivate(STATE, JSON.stringify(state));
      log(`token for ${app} created (policy pipeline-secrets-${policy}, ttl ${TOKEN_TTL})`);
    }
    // the app's own volume; readable by the app's uid only
    writePrivate(join(TOKENS_DIR, app, 'token'), appToken, APP_UID);
  }
  log('ready');
}

main().catch((e) => {
  console.error(`openbao-init: FAILED: ${e.message}`);
  process.exit(1);
});
