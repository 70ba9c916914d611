// A real OpenID provider (oidc-provider, a certified implementation) for the console's production
// sign-in test, run as a child process (it is an ES module): node console-oidc-provider.mjs <port> <client id> <secret> <redirect uri>
import Provider from 'oidc-provider';

const [port, clientId, clientSecret, redirectUri] = process.argv.slice(2);
const provider = new Provider(`http://127.0.0.1:${port}`, {
  clients: [{ client_id: clientId, client_secret: clientSecret, redirect_uris: [redirectUri], grant_types: ['authorization_code'], response_types: ['code'], token_endpoint_auth_method: 'client_secret_basic' }],
  scopes: ['openid', 'groups'],
  claims: { openid: ['sub'], groups: ['groups'] },
  // The console reads `groups` from the ID token (userinfo only as a fallback).
  conformIdTokenClaims: false,
  pkce: { required: () => true },
  features: { devInteractions: { enabled: true } },
  async findAccount(_ctx, id) {
    return { accountId: id, async claims() { return { sub: id, groups: id === 'alice' ? ['team-a', 'auditors'] : [] }; } };
  },
});
provider.listen(Number(port), '127.0.0.1', () => process.stdout.write('ready\n'));
