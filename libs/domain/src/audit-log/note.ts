// C2SP signed-note (https://c2sp.org/signed-note) with Ed25519 keys, and the
// tlog-checkpoint body format (https://c2sp.org/tlog-checkpoint). Byte-compatible with other
// implementations so witnesses and third-party verifiers can check our checkpoints.
import { createHash, createPublicKey, KeyObject, sign, verify } from 'node:crypto';
import { decodeStdBase64 } from './base64';

const ED25519_SIG_TYPE = 0x01;
const SIG_LINE_PREFIX = '\u2014 ';
// Bounds the work an untrusted note can cause; other implementations use the same cap.
const MAX_SIGNATURES = 100;
// A JS string with an unpaired surrogate has no UTF-8 encoding; Buffer.from would replace it silently.
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

export interface Checkpoint {
  origin: string;
  treeSize: number;
  rootHash: Buffer;
  extensions: string[];
}

export interface NoteVerifier {
  name: string;
  publicKey: KeyObject;
}

function assertNoteText(text: string, what: string): void {
  if (text.length === 0 || !text.endsWith('\n')) throw new Error(`${what} must be non-empty and end with a newline`);
  if (text.startsWith('\n') || text.includes('\n\n')) throw new Error(`${what} must not contain a blank line`);
  if (/[\u0000-\u0009\u000b-\u001f]/.test(text)) throw new Error(`${what} must not contain control characters`);
  if (LONE_SURROGATE.test(text)) throw new Error(`${what} must be valid UTF-8`);
}

/** Key names end up in signature lines and vkeys, where spaces and '+' are separators. */
function assertKeyName(name: string): void {
  if (typeof name !== 'string' || name.length === 0 || /[\s+]/u.test(name) || LONE_SURROGATE.test(name)) {
    throw new Error(`invalid note key name ${JSON.stringify(name)}: must be non-empty, without spaces or '+'`);
  }
}

function rawEd25519PublicKey(publicKey: KeyObject): Buffer {
  if (publicKey.asymmetricKeyType !== 'ed25519') throw new Error('note keys must be Ed25519');
  // A private key is accepted too; only its public half is used.
  const pub = publicKey.type === 'private' ? createPublicKey(publicKey) : publicKey;
  const jwk = pub.export({ format: 'jwk' });
  const raw = Buffer.from(jwk.x ?? '', 'base64url');
  if (raw.length !== 32) throw new Error('Ed25519 public key must be 32 bytes');
  return raw;
}

export function noteKeyId(name: string, publicKey: KeyObject): Buffer {
  assertKeyName(name);
  return createHash('sha256')
    .update(name, 'utf8')
    .update(Buffer.from([0x0a, ED25519_SIG_TYPE]))
    .update(rawEd25519PublicKey(publicKey))
    .digest()
    .subarray(0, 4);
}

/** The vkey string a verifier is configured with: `<name>+<keyid hex>+<base64(type || key)>`. */
export function verifierKey(name: string, publicKey: KeyObject): string {
  const encoded = Buffer.concat([Buffer.from([ED25519_SIG_TYPE]), rawEd25519PublicKey(publicKey)]).toString('base64');
  return `${name}+${noteKeyId(name, publicKey).toString('hex')}+${encoded}`;
}

export function signNote(text: string, name: string, privateKey: KeyObject): string {
  assertNoteText(text, 'note text');
  if (privateKey.type !== 'private') throw new Error('signNote needs a private key');
  // Derive the public half so the key ID always matches the key that signed.
  const keyId = noteKeyId(name, createPublicKey(privateKey));
  const sig = sign(null, Buffer.from(text, 'utf8'), privateKey);
  return `${text}\n${SIG_LINE_PREFIX}${name} ${Buffer.concat([keyId, sig]).toString('base64')}\n`;
}

/**
 * Verifies a signed note and returns its text. Signatures from keys we do not know are ignored
 * (notes may be cosigned by witnesses); a bad signature from a key we do know rejects the note.
 */
export function openNote(note: string, verifiers: NoteVerifier[]): { text: string; verifiedBy: string[] } {
  if (typeof note !== 'string') throw new Error('signed note must be a string');
  const split = note.lastIndexOf('\n\n');
  if (split < 0) throw new Error('signed note has no blank line before its signatures');
  const text = note.slice(0, split + 1);
  const sigBlock = note.slice(split + 2);
  assertNoteText(text, 'note text');
  if (sigBlock.length === 0) throw new Error('signed note has no signature lines');
  if (!sigBlock.endsWith('\n')) throw new Error('signed note must end with a newline');
  const lines = sigBlock.slice(0, -1).split('\n');
  if (lines.length > MAX_SIGNATURES) throw new Error(`signed note has more than ${MAX_SIGNATURES} signatures`);

  const known = verifiers.map((v) => ({ name: v.name, key: v.publicKey, id: noteKeyId(v.name, v.publicKey) }));
  const message = Buffer.from(text, 'utf8');
  const verifiedBy: string[] = [];
  const seen = new Set<string>();
  for (const [i, line] of lines.entries()) {
    const m = /^\u2014 (\S+) (\S+)$/u.exec(line);
    if (!m) throw new Error(`signed note: malformed signature line ${i + 1}`);
    const [, name, b64] = m;
    assertKeyName(name);
    const blob = decodeStdBase64(b64);
    if (!blob || blob.length < 5) throw new Error(`signed note: signature line ${i + 1} has bad base64`);
    const id = blob.subarray(0, 4);
    const verifier = known.find((k) => k.name === name && k.id.equals(id));
    if (!verifier) continue;
    const tag = `${name}+${id.toString('hex')}`;
    if (seen.has(tag)) throw new Error(`signed note: duplicate signature by ${name}`);
    seen.add(tag);
    if (!verify(null, message, verifier.key, blob.subarray(4))) {
      throw new Error(`signed note: signature by ${name} does not verify`);
    }
    verifiedBy.push(name);
  }
  if (verifiedBy.length === 0) throw new Error('signed note: no signature by a known key');
  return { text, verifiedBy };
}

export function formatCheckpoint(c: {
  origin: string;
  treeSize: number;
  rootHash: Uint8Array;
  extensions?: string[];
}): string {
  if (typeof c.origin !== 'string' || c.origin.length === 0 || c.origin.includes('\n')) {
    throw new Error('checkpoint origin must be a non-empty single line');
  }
  if (!Number.isSafeInteger(c.treeSize) || c.treeSize < 0) throw new Error('checkpoint tree size must be a non-negative integer');
  if (!(c.rootHash instanceof Uint8Array) || c.rootHash.length !== 32) throw new Error('checkpoint root hash must be 32 bytes');
  const ext = c.extensions ?? [];
  for (const line of ext) {
    if (typeof line !== 'string' || line.length === 0 || line.includes('\n')) {
      throw new Error('checkpoint extension lines must be non-empty single lines');
    }
  }
  const root = Buffer.from(c.rootHash).toString('base64');
  return [c.origin, String(c.treeSize), root, ...ext].map((l) => `${l}\n`).join('');
}

/** Strict inverse of formatCheckpoint for an already-verified note text. */
export function parseCheckpoint(text: string): Checkpoint {
  if (typeof text !== 'string' || !text.endsWith('\n')) throw new Error('checkpoint must end with a newline');
  const lines = text.slice(0, -1).split('\n');
  if (lines.length < 3) throw new Error('checkpoint needs origin, tree size and root hash lines');
  const [origin, size, root, ...extensions] = lines;
  if (origin.length === 0) throw new Error('checkpoint origin is empty');
  // Decimal without leading zeros: one tree size, one spelling.
  if (!/^(?:0|[1-9][0-9]*)$/.test(size)) throw new Error(`checkpoint tree size is not a canonical decimal: ${JSON.stringify(size)}`);
  const treeSize = Number(size);
  if (!Number.isSafeInteger(treeSize)) throw new Error('checkpoint tree size is too large');
  const rootHash = decodeStdBase64(root);
  if (!rootHash) throw new Error('checkpoint root hash is not valid base64');
  if (rootHash.length !== 32) throw new Error(`checkpoint root hash must be 32 bytes, got ${rootHash.length}`);
  if (extensions.some((l) => l.length === 0)) throw new Error('checkpoint extension lines must be non-empty');
  return { origin, treeSize, rootHash, extensions };
}
