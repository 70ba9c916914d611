// DSSE v1 envelopes (https://github.com/secure-systems-lab/dsse). Signing PAE(type, body) rather
// than the body alone binds the payload type, so a payload cannot be replayed as another type.
import { KeyObject, sign, verify } from 'node:crypto';
import { decodeStdBase64 } from './base64';

export interface DsseEnvelope {
  payloadType: string;
  /** Standard base64. */
  payload: string;
  /** sig is standard base64. */
  signatures: { keyid: string; sig: string }[];
}

/** Pre-Authentication Encoding: lengths are byte counts in ASCII decimal. */
export function pae(payloadType: string, payload: Uint8Array): Buffer {
  const type = Buffer.from(payloadType, 'utf8');
  return Buffer.concat([
    Buffer.from(`DSSEv1 ${type.length} `, 'utf8'),
    type,
    Buffer.from(` ${payload.length} `, 'utf8'),
    payload,
  ]);
}

export function signDsse(payloadType: string, payload: Uint8Array, privateKey: KeyObject, keyid: string): DsseEnvelope {
  const sig = sign(null, pae(payloadType, payload), privateKey);
  return {
    payloadType,
    payload: Buffer.from(payload).toString('base64'),
    signatures: [{ keyid, sig: sig.toString('base64') }],
  };
}

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * Verifies an untrusted envelope against one key. With opts.keyid, only signatures carrying that
 * keyid (or none) are tried; the keyid is an unauthenticated hint, never a substitute for the key.
 */
export function verifyDsse(
  envelope: unknown,
  publicKey: KeyObject,
  opts: { keyid?: string; payloadType?: string } = {},
): { payloadType: string; payload: Buffer } {
  if (!isRecord(envelope)) throw new Error('DSSE envelope must be a JSON object');
  const { payloadType, payload, signatures } = envelope;
  if (typeof payloadType !== 'string' || payloadType.length === 0) throw new Error('DSSE envelope payloadType must be a non-empty string');
  if (typeof payload !== 'string') throw new Error('DSSE envelope payload must be a string');
  const body = decodeStdBase64(payload);
  if (!body) throw new Error('DSSE envelope payload is not valid base64');
  if (!Array.isArray(signatures) || signatures.length === 0) throw new Error('DSSE envelope has no signatures');
  const sigs = signatures.map((s, i) => {
    if (!isRecord(s)) throw new Error(`DSSE signatures[${i}] must be an object`);
    if (s.keyid !== undefined && typeof s.keyid !== 'string') throw new Error(`DSSE signatures[${i}].keyid must be a string`);
    const sig = typeof s.sig === 'string' ? decodeStdBase64(s.sig) : undefined;
    if (!sig || sig.length === 0) throw new Error(`DSSE signatures[${i}].sig is not valid base64`);
    return { keyid: s.keyid as string | undefined, sig };
  });

  const message = pae(payloadType, body);
  const ok = sigs.some(
    (s) => (opts.keyid === undefined || !s.keyid || s.keyid === opts.keyid) && verify(null, message, publicKey, s.sig),
  );
  if (!ok) throw new Error('DSSE envelope: no signature verifies with the given key');
  // Checked after the signature so an unauthenticated type never influences the error path.
  if (opts.payloadType !== undefined && payloadType !== opts.payloadType) {
    throw new Error(`DSSE envelope payloadType ${JSON.stringify(payloadType)} is not ${JSON.stringify(opts.payloadType)}`);
  }
  return { payloadType, payload: body };
}
