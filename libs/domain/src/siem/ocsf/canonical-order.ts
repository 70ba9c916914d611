import { OcsfActor, OcsfMetadata, OcsfPolicy, OcsfRecord, OcsfResourceDetails, OcsfUser } from './types';

// ---- canonical key order (issue 23, 4) ----
//
// The record leaves here with every object's keys in RFC 8785 order (UTF-16 code units, which is
// Array.prototype.sort's default), so its canonical JSON is one JSON.stringify: the auditor hashes
// and stores JSON.stringify(record) (apps/auditor/src/audit-log.projection.ts). Every object of a
// record is written below in that order by hand; the variable leaves (unmapped.*, resource data)
// go through sortedCopy. A unit test checks canonicalJson(record) === JSON.stringify(record) for
// every record kind (ocsf-canonical.unit.spec.ts), so a key added out of order fails there.

export function inCanonicalOrder<R extends OcsfRecord>(r: R): R {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- one reader of the three record classes' fields
  const a = r as any;
  const o: Record<string, unknown> = {};
  o.activity_id = a.activity_id;
  o.activity_name = a.activity_name;
  o.actor = actorOut(a.actor);
  if (a.api !== undefined) o.api = { operation: a.api.operation, service: { name: a.api.service.name } };
  o.category_name = a.category_name;
  o.category_uid = a.category_uid;
  o.class_name = a.class_name;
  o.class_uid = a.class_uid;
  if (a.count !== undefined) o.count = a.count;
  if (a.end_time !== undefined) o.end_time = a.end_time;
  if (a.end_time_dt !== undefined) o.end_time_dt = a.end_time_dt;
  if (a.group !== undefined) o.group = { name: a.group.name, uid: a.group.uid };
  o.message = a.message;
  o.metadata = metadataOut(a.metadata);
  if (a.privileges !== undefined) o.privileges = a.privileges;
  if (a.resource !== undefined) o.resource = resourceOut(a.resource);
  if (a.resources !== undefined) o.resources = a.resources.map(resourceOut);
  o.severity = a.severity;
  o.severity_id = a.severity_id;
  o.src_endpoint = { svc_name: a.src_endpoint.svc_name };
  if (a.start_time !== undefined) o.start_time = a.start_time;
  if (a.start_time_dt !== undefined) o.start_time_dt = a.start_time_dt;
  o.status = a.status;
  if (a.status_detail !== undefined) o.status_detail = a.status_detail;
  o.status_id = a.status_id;
  o.time = a.time;
  o.time_dt = a.time_dt;
  o.type_name = a.type_name;
  o.type_uid = a.type_uid;
  if (a.unmapped !== undefined) o.unmapped = sortedCopy(a.unmapped);
  if (a.user !== undefined) o.user = userOut(a.user);
  return o as unknown as R;
}

function userOut(u: OcsfUser): OcsfUser {
  return u.name === undefined ? ({ type: u.type, type_id: u.type_id, uid: u.uid } as OcsfUser) : ({ name: u.name, type: u.type, type_id: u.type_id, uid: u.uid } as OcsfUser);
}

function actorOut(a: OcsfActor): OcsfActor {
  const o: Partial<OcsfActor> = {};
  if (a.authorizations !== undefined) {
    o.authorizations = a.authorizations.map((z) =>
      z.policy === undefined ? { decision: z.decision } : { decision: z.decision, policy: z.policy.uid === undefined ? { name: z.policy.name } : ({ name: z.policy.name, uid: z.policy.uid } as OcsfPolicy) },
    );
  }
  if (a.session !== undefined) o.session = { uid: a.session.uid };
  o.user = userOut(a.user);
  return o as OcsfActor;
}

function metadataOut(m: OcsfMetadata): OcsfMetadata {
  const o: Record<string, unknown> = { correlation_uid: m.correlation_uid, event_code: m.event_code, log_name: m.log_name };
  if (m.logged_time !== undefined) o.logged_time = m.logged_time;
  o.original_time = m.original_time;
  o.product = { name: m.product.name, vendor_name: m.product.vendor_name, version: m.product.version };
  o.profiles = m.profiles;
  o.uid = m.uid;
  o.version = m.version;
  return o as unknown as OcsfMetadata;
}

function resourceOut(r: OcsfResourceDetails): OcsfResourceDetails {
  const o: Record<string, unknown> = {};
  if (r.data !== undefined) o.data = sortedCopy(r.data);
  if (r.labels !== undefined) o.labels = r.labels;
  o.name = r.name;
  o.type = r.type;
  o.uid = r.uid;
  if (r.version !== undefined) o.version = r.version;
  return o as unknown as OcsfResourceDetails;
}

/** The small variable parts (unmapped.*, resource data: strings, numbers, booleans, null, arrays, objects): a copy with sorted keys. */
function sortedCopy<T>(v: T): T {
  if (Array.isArray(v)) return v.map(sortedCopy) as T;
  if (v === null || typeof v !== 'object') return v;
  const o: Record<string, unknown> = {};
  for (const k of Object.keys(v).sort()) {
    const x = (v as Record<string, unknown>)[k];
    if (x !== undefined) o[k] = sortedCopy(x);
  }
  return o as T;
}
