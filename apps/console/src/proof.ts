// Checks an audit record's Merkle inclusion proof (RFC 9162) against the signed checkpoint (C2SP
// signed note, Ed25519) in the page, with WebCrypto only: the same rules as libs/domain/src/audit-log.

const te = new TextEncoder();

function b64(s: string): Uint8Array<ArrayBuffer> {
  const bin = atob(s);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

/** RFC 8785 for the JSON the log holds (plain objects, strings, finite numbers): keys sorted by UTF-16 units. */
export function canonicalJson(v: unknown): string {
  if (v === null || typeof v !== 'object') return JSON.stringify(v);
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(',')}]`;
  const o = v as Record<string, unknown>;
  return `{${Object.keys(o)
    .filter((k) => o[k] !== undefined)
    .sort()
    .map((k) => `${JSON.stringify(k)}:${canonicalJson(o[k])}`)
    .join(',')}}`;
}

async function sha256(...parts: Uint8Array[]): Promise<Uint8Array> {
  const all = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    all.set(p, o);
    o += p.length;
  }
  return new Uint8Array(await crypto.subtle.digest('SHA-256', all));
}
const same = (a: Uint8Array, b: Uint8Array) => a.length === b.length && a.every((x, i) => x === b[i]);

export async function leafHashOf(record: unknown): Promise<Uint8Array> {
  return sha256(new Uint8Array([0]), te.encode(canonicalJson(record)));
}

/** RFC 9162 §2.1.3.2: the root the proof leads to, or null when it is malformed. */
export async function rootFromProof(index: number, treeSize: number, leaf: Uint8Array, proof: Uint8Array[]): Promise<Uint8Array | null> {
  if (index >= treeSize) return null;
  let fn = index;
  let sn = treeSize - 1;
  let r = leaf;
  for (const p of proof) {
    if (sn === 0) return null;
    if (fn % 2 === 1 || fn === sn) {
      r = await sha256(new Uint8Array([1]), p, r);
      while (fn % 2 === 0 && fn !== 0) {
        fn = Math.floor(fn / 2);
        sn = Math.floor(sn / 2);
      }
    } else {
      r = await sha256(new Uint8Array([1]), r, p);
    }
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  return sn === 0 ? r : null;
}

export interface CheckpointNote {
  origin: string;
  treeSize: number;
  root: Uint8Array;
  text: string;
  signatures: { name: string; keyId: Uint8Array; sig: Uint8Array<ArrayBuffer> }[];
}

export function parseNote(note: string): CheckpointNote | null {
  const split = note.lastIndexOf('\n\n');
  if (split < 0) return null;
  const text = note.slice(0, split + 1);
  const [origin, size, root] = text.split('\n');
  const signatures = note
    .slice(split + 2)
    .split('\n')
    .filter((l) => l.length > 0)
    .map((l) => /^\u2014 (\S+) (\S+)$/u.exec(l))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => {
      const blob = b64(m[2]);
      return { name: m[1], keyId: blob.slice(0, 4), sig: blob.slice(4) };
    });
  if (!/^\d+$/.test(size ?? '')) return null;
  return { origin, treeSize: Number(size), root: b64(root ?? ''), text, signatures };
}

function pemToDer(pem: string): Uint8Array<ArrayBuffer> {
  return b64(pem.replace(/-----(BEGIN|END) PUBLIC KEY-----/g, '').replace(/\s+/g, ''));
}

export type ProofOutcome =
  | { ok: true; treeSize: number; root: string }
  | { ok: false; why: string; cliOnly?: boolean };

/** Does the record's leaf lead, through its proof, to the root a checkpoint signed by the log's key names? */
export async function verifyRecord(
  rec: { index: number; record: unknown; leafHash: string; treeSize: number; inclusionProof: string[]; checkpoint: string | null },
  key: { publicKeyPem: string; origin: string },
): Promise<ProofOutcome> {
  if (!globalThis.crypto?.subtle) return { ok: false, why: 'this browser has no WebCrypto: verify with the CLI', cliOnly: true };
  const leaf = await leafHashOf(rec.record);
  if (!same(leaf, b64(rec.leafHash))) return { ok: false, why: 'the record does not hash to its leaf' };
  if (!rec.checkpoint) return { ok: false, why: 'no signed checkpoint covers this record yet' };
  const note = parseNote(rec.checkpoint);
  if (!note || note.origin !== key.origin || note.treeSize !== rec.treeSize) return { ok: false, why: 'the checkpoint is not the one for this tree size' };
  const root = await rootFromProof(rec.index, rec.treeSize, leaf, rec.inclusionProof.map(b64));
  if (!root || !same(root, note.root)) return { ok: false, why: 'the inclusion proof does not lead to the checkpoint\'s root' };
  let pub: CryptoKey;
  try {
    pub = await crypto.subtle.importKey('spki', pemToDer(key.publicKeyPem), { name: 'Ed25519' }, false, ['verify']);
  } catch {
    return { ok: false, why: 'this browser cannot check Ed25519 signatures: verify with the CLI', cliOnly: true };
  }
  const mine = note.signatures.filter((s) => s.name === key.origin);
  for (const s of mine) {
    if (await crypto.subtle.verify({ name: 'Ed25519' }, pub, s.sig, te.encode(note.text))) return { ok: true, treeSize: note.treeSize, root: btoa(String.fromCharCode(...note.root)) };
  }
  return { ok: false, why: 'the checkpoint\'s signature does not verify with the log\'s public key' };
}
