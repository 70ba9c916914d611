import { readFileSync } from 'node:fs';
import { BaseClient, generators, Issuer } from 'openid-client';
import { AppConfig } from '@app/infra/config/config';

/** What the browser keeps between the redirect to the provider and the callback (an HttpOnly cookie, 10 minutes). */
export interface PendingSignIn {
  state: string;
  nonce: string;
  codeVerifier: string;
  reauth: boolean;
}

/**
 * The console's production sign-in: OpenID Connect authorization code flow with PKCE (S256), state
 * and nonce, through openid-client (discovery, ID token signature, iss/aud/exp/nonce checks).
 */
export class ConsoleOidc {
  private client?: Promise<BaseClient>;

  constructor(private readonly config: NonNullable<AppConfig['console']['oidc']>, private readonly publicUrl: string) {}

  get redirectUri(): string {
    return `${new URL(this.publicUrl).origin}/console/auth/callback`;
  }

  private getClient(): Promise<BaseClient> {
    this.client ??= (async () => {
      const issuer = await Issuer.discover(this.config.issuer);
      const secret = readFileSync(this.config.clientSecretFile, 'utf8').trim();
      return new issuer.Client({ client_id: this.config.clientId, client_secret: secret, redirect_uris: [this.redirectUri], response_types: ['code'], token_endpoint_auth_method: 'client_secret_basic' });
    })().catch((e: unknown) => {
      this.client = undefined; // a provider down at the first sign-in is retried at the next
      throw e;
    });
    return this.client;
  }

  /** Where to send the browser, and what to remember until it comes back. reauth asks the provider for a fresh login. */
  async start(reauth: boolean): Promise<{ url: string; pending: PendingSignIn }> {
    const client = await this.getClient();
    const pending: PendingSignIn = { state: generators.state(), nonce: generators.nonce(), codeVerifier: generators.codeVerifier(), reauth };
    const url = client.authorizationUrl({
      scope: 'openid profile groups',
      code_challenge: generators.codeChallenge(pending.codeVerifier),
      code_challenge_method: 'S256',
      state: pending.state,
      nonce: pending.nonce,
      ...(reauth ? { prompt: 'login', max_age: 0 } : {}),
    });
    return { url, pending };
  }

  /** Exchanges the code; the verified ID token's claims (groups from userinfo when the ID token lacks them). */
  async finish(callbackUrl: string, pending: PendingSignIn): Promise<{ sub: unknown; groups: unknown; authTime: number | undefined }> {
    const client = await this.getClient();
    const params = client.callbackParams(callbackUrl);
    const tokens = await client.callback(this.redirectUri, params, { state: pending.state, nonce: pending.nonce, code_verifier: pending.codeVerifier, ...(pending.reauth ? { max_age: 600 } : {}) });
    const claims = tokens.claims();
    let groups: unknown = claims.groups;
    if (groups === undefined && tokens.access_token) groups = (await client.userinfo(tokens.access_token)).groups;
    return { sub: claims.sub, groups: groups ?? [], authTime: claims.auth_time };
  }
}
