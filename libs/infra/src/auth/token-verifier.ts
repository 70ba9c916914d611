import { createRemoteJWKSet, decodeJwt, errors as joseErrors, importSPKI, JWTPayload, jwtVerify, KeyLike } from 'jose';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { CiJobPrincipal, Principal, PRINCIPAL_ID_PATTERN, PROJECT_ID_PATTERN, UserPrincipal } from '@app/domain';

// Bearer token verification with jose: allow-listed asymmetric algorithms, issuer, audience,
// exp/nbf with a small skew. The issuer decides the kind of principal: a CI token can never
// be taken for a user token or the other way round.

export class AuthenticationError extends Error {
  constructor(readonly reason: string) {
    super(reason);
    this.name = 'AuthenticationError';
  }
}

type KeySource = ((header: import('jose').JWSHeaderParameters, token: import('jose').FlattenedJWSInput) => Promise<KeyLike>) | KeyLike;

export interface TrustedIssuer {
  issuer: string;
  kind: 'user' | 'ci-job';
  key: KeySource;
}

export interface VerifierOptions {
  audience: string;
  algorithms: string[];
  clockSkewSeconds: number;
}

export async function keyFromFile(path: string, alg: string): Promise<KeyLike> {
  return importSPKI(readFileSync(path, 'utf8'), alg);
}

export function keyFromJwks(url: string): KeySource {
  return createRemoteJWKSet(new URL(url), { cooldownDuration: 30_000, timeoutDuration: 5_000 }) as unknown as KeySource;
}

const MAX_TOKEN_LENGTH = 8192;

/**
 * A token verified once is not verified again for this long (issue 23: the signature check was
 * ~4 % of the service's CPU per CI access, and OpenBao checks the same JWT again on its inline
 * read). Sound because a signature over the same bytes cannot become invalid: only time and the
 * trusted keys change. Time: exp is checked on every use. Keys: a key removed from a JWKS stops
 * a cached token within this bound, below jose's own JWKS cache (cooldown 30 s, max age 10 min).
 * Only successes are kept, keyed by the token's SHA-256 (the token itself is not retained).
 */
export const VERIFIED_TOKEN_TTL_MS = 60_000;
const VERIFIED_TOKEN_CACHE_MAX = 10_000;
const MAX_GROUPS = 500;
const SHORT_TEXT = /^[\x21-\x7e]{1,255}$/; // printable ASCII, no spaces

export class TokenVerifier {
  private readonly byIssuer = new Map<string, TrustedIssuer>();

  constructor(issuers: TrustedIssuer[], private readonly options: VerifierOptions, private readonly now: () => number = Date.now) {
    for (const i of issuers) this.byIssuer.set(i.issuer, i);
  }

  private readonly verified = new Map<string, { principal: Principal; exp: number; until: number }>();

  async verify(token: string): Promise<Principal> {
    return (await this.verifyWithExpiry(token)).principal;
  }

  /** verify, and the token's exp (seconds since the epoch; a required claim), without decoding the token again. */
  async verifyWithExpiry(token: string): Promise<{ principal: Principal; exp: number }> {
    if (token.length > MAX_TOKEN_LENGTH) throw new AuthenticationError('token too large');
    const digest = createHash('sha256').update(token).digest('base64');
    const hit = this.verified.get(digest);
    if (hit) {
      const now = this.now();
      // jose's rule: expired once exp <= now - tolerance.
      if (hit.exp <= now / 1000 - this.options.clockSkewSeconds) {
        this.verified.delete(digest);
        throw new AuthenticationError('token expired');
      }
      if (now < hit.until) return { principal: clonePrincipal(hit.principal), exp: hit.exp };
      this.verified.delete(digest);
    }
    return this.verifyNow(token, digest);
  }

  private async verifyNow(token: string, digest: string): Promise<{ principal: Principal; exp: number }> {
    let unverified: JWTPayload;
    try {
      unverified = decodeJwt(token);
    } catch {
      throw new AuthenticationError('malformed token');
    }
    const trusted = typeof unverified.iss === 'string' ? this.byIssuer.get(unverified.iss) : undefined;
    if (!trusted) throw new AuthenticationError('untrusted issuer');
    let payload: JWTPayload;
    try {
      const result = await jwtVerify(token, trusted.key as Parameters<typeof jwtVerify>[1], {
        issuer: trusted.issuer,
        audience: this.options.audience,
        algorithms: this.options.algorithms,
        clockTolerance: this.options.clockSkewSeconds,
        requiredClaims: ['exp', 'sub'],
      });
      payload = result.payload;
    } catch (e) {
      throw new AuthenticationError(reasonOf(e));
    }
    // A token issued in the future (beyond the clock skew) is refused: jose checks iat only for a maximum age.
    if (payload.iat !== undefined && (typeof payload.iat !== 'number' || !Number.isFinite(payload.iat) || payload.iat > this.now() / 1000 + this.options.clockSkewSeconds)) {
      throw claimError('iat');
    }
    const principal = trusted.kind === 'user' ? userFrom(payload) : ciJobFrom(payload);
    if (this.verified.size >= VERIFIED_TOKEN_CACHE_MAX) this.verified.clear();
    this.verified.set(digest, { principal: clonePrincipal(principal), exp: payload.exp as number, until: this.now() + VERIFIED_TOKEN_TTL_MS });
    return { principal, exp: payload.exp as number };
  }
}

function clonePrincipal(p: Principal): Principal {
  return p.kind === 'user' ? { ...p, groups: [...p.groups] } : { ...p };
}

function reasonOf(e: unknown): string {
  if (e instanceof joseErrors.JWTExpired) return 'token expired';
  if (e instanceof joseErrors.JWTClaimValidationFailed) return `token claim ${e.claim} invalid`;
  if (e instanceof joseErrors.JOSEAlgNotAllowed) return 'token algorithm not allowed';
  if (e instanceof joseErrors.JWSSignatureVerificationFailed) return 'token signature invalid';
  if (e instanceof joseErrors.JWKSNoMatchingKey) return 'token key unknown';
  if (e instanceof joseErrors.JWKSTimeout || e instanceof joseErrors.JOSEError) return 'token not verifiable';
  return 'token not verifiable';
}

function claimError(name: string): AuthenticationError {
  return new AuthenticationError(`token claim ${name} invalid`);
}

function userFrom(p: JWTPayload): UserPrincipal {
  const sub = p.sub;
  if (typeof sub !== 'string' || !PRINCIPAL_ID_PATTERN.test(sub)) throw claimError('sub');
  const groups = p.groups ?? [];
  if (!Array.isArray(groups) || groups.length > MAX_GROUPS || !groups.every((g) => typeof g === 'string' && PRINCIPAL_ID_PATTERN.test(g))) {
    throw claimError('groups');
  }
  if (p.admin !== undefined && typeof p.admin !== 'boolean') throw claimError('admin');
  return { kind: 'user', id: sub, groups: groups as string[], admin: p.admin === true };
}

function idClaim(p: JWTPayload, name: string, required: boolean): string | undefined {
  const v = p[name];
  if (v === undefined && !required) return undefined;
  const s = typeof v === 'number' && Number.isSafeInteger(v) ? String(v) : v;
  if (typeof s !== 'string' || !SHORT_TEXT.test(s)) throw claimError(name);
  return s;
}

function ciJobFrom(p: JWTPayload): CiJobPrincipal {
  const sub = idClaim(p, 'sub', true)!;
  const projectId = idClaim(p, 'project_id', true)!;
  if (!PROJECT_ID_PATTERN.test(projectId)) throw claimError('project_id');
  const ref = idClaim(p, 'ref', true)!;
  const refType = p.ref_type ?? 'branch';
  if (refType !== 'branch' && refType !== 'tag') throw claimError('ref_type');
  // Only the string form the CI issuer sends ("true"/"false"): OpenBao's bound claims compare strings,
  // so a boolean accepted here would be a token the API honours and OpenBao refuses.
  const prot = p.ref_protected;
  if (prot !== 'true' && prot !== 'false') throw claimError('ref_protected');
  const job: CiJobPrincipal = {
    kind: 'ci-job',
    id: sub,
    projectId,
    ref,
    refType,
    refProtected: prot === 'true',
    pipelineId: idClaim(p, 'pipeline_id', true)!,
    jobId: idClaim(p, 'job_id', true)!,
  };
  const environment = idClaim(p, 'environment', false);
  if (environment !== undefined) job.environment = environment;
  const userId = idClaim(p, 'user_id', false);
  if (userId !== undefined) job.userId = userId;
  return job;
}
