import { exportJWK, exportSPKI, generateKeyPair, importJWK, JWK, SignJWT } from 'jose';
import { createPublicKey, KeyObject, randomUUID } from 'node:crypto';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ensurePrivateFile } from '../crypto/key-files';

// The embedded profile's development issuer: an Ed25519 key pair in DATA_DIR (mode 0600)
// signing user tokens and CI job tokens under two issuer names. For tests and local trials.

export const DEV_USER_ISSUER = 'urn:pipeline-secrets:dev-issuer:users';
export const DEV_CI_ISSUER = 'urn:pipeline-secrets:dev-issuer:ci';
export const DEV_KEY_FILE = 'dev-issuer.jwk.json';
export const DEV_PUBLIC_KEY_FILE = 'dev-issuer.pub.pem';

export interface DevIssuerKeys {
  privateKey: Awaited<ReturnType<typeof importJWK>>;
  publicKey: KeyObject;
  publicKeyPem: string;
  kid: string;
}

export async function loadOrCreateDevIssuer(dataDir: string): Promise<DevIssuerKeys> {
  const path = join(dataDir, DEV_KEY_FILE);
  if (!existsSync(path)) {
    const { privateKey } = await generateKeyPair('EdDSA', { crv: 'Ed25519', extractable: true });
    const jwk = await exportJWK(privateKey);
    jwk.kid = randomUUID();
    ensurePrivateFile(path, () => JSON.stringify(jwk));
  }
  const jwk = JSON.parse(ensurePrivateFile(path, () => '').toString('utf8')) as JWK;
  const privateKey = await importJWK(jwk, 'EdDSA');
  const { d: _private, ...pub } = jwk;
  const publicKey = createPublicKey({ key: pub as import('node:crypto').JsonWebKey, format: 'jwk' });
  const publicKeyPem = await exportSPKI(publicKey);
  const pemPath = join(dataDir, DEV_PUBLIC_KEY_FILE);
  if (!existsSync(pemPath)) writeFileSync(pemPath, publicKeyPem, { mode: 0o644 });
  return { privateKey, publicKey, publicKeyPem, kid: jwk.kid ?? 'dev' };
}

export interface UserTokenRequest {
  sub: string;
  groups?: string[];
  admin?: boolean;
  ttlSeconds: number;
}

export interface CiTokenRequest {
  project: string;
  ref: string;
  refType?: 'branch' | 'tag';
  protected?: boolean;
  environment?: string;
  pipeline?: string;
  job?: string;
  user?: string;
  ttlSeconds: number;
}

export async function mintUserToken(keys: DevIssuerKeys, audience: string, req: UserTokenRequest): Promise<string> {
  const claims: Record<string, unknown> = { groups: req.groups ?? [] };
  if (req.admin) claims.admin = true;
  return new SignJWT(claims)
    .setProtectedHeader({ alg: 'EdDSA', kid: keys.kid, typ: 'JWT' })
    .setIssuer(DEV_USER_ISSUER)
    .setAudience(audience)
    .setSubject(req.sub)
    .setIssuedAt()
    .setJti(randomUUID())
    .setExpirationTime(Math.floor(Date.now() / 1000) + req.ttlSeconds)
    .sign(keys.privateKey);
}

export async function mintCiToken(keys: DevIssuerKeys, audience: string, req: CiTokenRequest): Promise<string> {
  const pipeline = req.pipeline ?? String(Math.floor(Math.random() * 1e6));
  const job = req.job ?? String(Math.floor(Math.random() * 1e6));
  const claims: Record<string, unknown> = {
    project_id: req.project,
    ref: req.ref,
    ref_type: req.refType ?? 'branch',
    ref_protected: req.protected ? 'true' : 'false',
    pipeline_id: pipeline,
    job_id: job,
  };
  if (req.environment) claims.environment = req.environment;
  if (req.user) claims.user_id = req.user;
  return new SignJWT(claims)
    .setProtectedHeader({ alg: 'EdDSA', kid: keys.kid, typ: 'JWT' })
    .setIssuer(DEV_CI_ISSUER)
    .setAudience(audience)
    .setSubject(`project_path:${req.project}:ref_type:${req.refType ?? 'branch'}:ref:${req.ref}`)
    .setIssuedAt()
    .setJti(randomUUID())
    .setExpirationTime(Math.floor(Date.now() / 1000) + req.ttlSeconds)
    .sign(keys.privateKey);
}
