// The marker the service puts on its own OpenBao requests (X-Pipeline-Secrets-Broker), so the
// auditor can tell a brokered read (already a SecretAccessed event) from a CI job's direct one.
// Any client can send a header, so the marker is a MAC only the service can make:
//   v1.<id>.<base64url(HMAC-SHA256(key, "v1" 0x00 <id> 0x00 <OpenBao request path>))>
// where <id> is, on a brokered KV read, the id of the SecretAccessed event appended for that read
// (the value is only read after that event is durable), and on any other request a fresh random
// nonce. Bound to the path, a marker cannot be moved to another secret or object; the auditor
// also refuses a marker whose id is used by a second OpenBao request (a replay).
//
// v2 (issue 20) adds the place whose access stream holds that SecretAccessed when it is not the
// secret's own (a CI job's batch through its project reads a group's secret: the event is in
// `access-<project>`), so the auditor finds it without guessing:
//   v2.<id>.<base64url(place)>.<base64url(HMAC-SHA256(key, "v2" 0x00 <id> 0x00 <place> 0x00 <path>))>
import { createHmac, hkdfSync, randomUUID, timingSafeEqual } from 'node:crypto';

const VERSION = 'v1';
const VERSION_2 = 'v2';
const ID = /^[A-Za-z0-9-]{1,64}$/;
const MAC = /^[A-Za-z0-9_-]{43}$/;
/** base64url of a place key (a project id, or `group:` and a path of at most 8 × 64 + 7 characters). */
const PLACE = /^[A-Za-z0-9_-]{1,800}$/;

/** HKDF label: the marker key is derived from the audit signing key and is independent of it. */
export const BROKER_MARKER_KEY_INFO = 'pipeline-secrets/openbao-broker-marker/v1';

/** The 32-byte marker key, derived (HKDF-SHA256) from a service secret both the command API and the auditor hold. */
export function deriveBrokerMarkerKey(secret: Uint8Array): Buffer {
  return Buffer.from(hkdfSync('sha256', secret, Buffer.alloc(0), BROKER_MARKER_KEY_INFO, 32));
}

/** The path OpenBao's audit device records for a request: no leading slash, no query. */
export function markerPath(path: string): string {
  const q = path.indexOf('?');
  return (q < 0 ? path : path.slice(0, q)).replace(/^\/+/, '');
}

function mac(key: Uint8Array, id: string, path: string, place?: string): Buffer {
  const input = place === undefined ? `${VERSION}\u0000${id}\u0000${markerPath(path)}` : `${VERSION_2}\u0000${id}\u0000${place}\u0000${markerPath(path)}`;
  return createHmac('sha256', key).update(input).digest();
}

/**
 * The header value for one request: `id` is the SecretAccessed event id of a brokered KV read, or
 * omitted (a fresh nonce); `place`, the place whose access stream holds that event when it is not
 * the secret's own (v2).
 */
export function brokerMarker(key: Uint8Array, path: string, id: string = randomUUID(), place?: string): string {
  if (!ID.test(id)) throw new Error('broker marker id must be 1-64 of [A-Za-z0-9-]');
  if (place === undefined) return `${VERSION}.${id}.${mac(key, id, path).toString('base64url')}`;
  const p = Buffer.from(place, 'utf8').toString('base64url');
  if (!PLACE.test(p)) throw new Error('broker marker place is too long');
  return `${VERSION_2}.${id}.${p}.${mac(key, id, path, place).toString('base64url')}`;
}

/** What a header value carries when its MAC is valid for this path (constant-time compare), else null. */
export function readBrokerMarker(key: Uint8Array, value: string, path: string): { id: string; place: string | null } | null {
  const parts = value.split('.');
  const v2 = parts.length === 4 && parts[0] === VERSION_2 && PLACE.test(parts[2]);
  if (!(v2 || (parts.length === 3 && parts[0] === VERSION)) || !ID.test(parts[1]) || !MAC.test(parts[parts.length - 1])) return null;
  const place = v2 ? Buffer.from(parts[2], 'base64url').toString('utf8') : undefined;
  const given = Buffer.from(parts[parts.length - 1], 'base64url');
  const want = mac(key, parts[1], path, place);
  return given.length === want.length && timingSafeEqual(given, want) ? { id: parts[1], place: place ?? null } : null;
}

/** The id a header value carries when its MAC is valid for this path (constant-time compare), else null. */
export function verifyBrokerMarker(key: Uint8Array, value: string, path: string): string | null {
  return readBrokerMarker(key, value, path)?.id ?? null;
}
