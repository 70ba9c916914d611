import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, KeyObject } from 'node:crypto';
import { ensurePrivateFile, readPrivateFile } from '../crypto/key-files';

/** The Ed25519 key that signs audit-log checkpoints and SLSA evidence. */
export interface AuditSigningKey {
  privateKey: KeyObject;
  publicKey: KeyObject;
  publicKeyPem: string;
  /** sha256 of the SPKI DER, hex, first 16 bytes: names the key in DSSE signatures. */
  keyId: string;
}

/**
 * Loads the key from `path` (PKCS#8 PEM, mode 0600, like ssh refuses a readable key).
 * `generate` (embedded profile only) creates it first when absent.
 */
export function loadAuditSigningKey(path: string, generate: boolean): AuditSigningKey {
  const pem = generate
    ? ensurePrivateFile(path, () => generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }))
    : readPrivateFile(path);
  const privateKey = createPrivateKey(pem);
  if (privateKey.asymmetricKeyType !== 'ed25519') throw new Error(`AUDIT_SIGNING_KEY_FILE ${path} is not an Ed25519 private key`);
  const publicKey = createPublicKey(privateKey);
  const der = publicKey.export({ type: 'spki', format: 'der' });
  return {
    privateKey,
    publicKey,
    publicKeyPem: String(publicKey.export({ type: 'spki', format: 'pem' })),
    keyId: createHash('sha256').update(der).digest('hex').slice(0, 32),
  };
}
