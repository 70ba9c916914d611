import { OcsfActor, OcsfApi, OcsfMetadata, OcsfNetworkEndpoint, OcsfPolicy, OcsfRecord, OcsfResourceDetails, OcsfUnmapped, OcsfUser } from './types';

// ---- canonical key order (issue 23, 4) ----
//
// Every record is assembled once, here, as ONE object literal whose keys are in RFC 8785 order
// (UTF-16 code units, Array.prototype.sort's default), so its canonical JSON is one
// JSON.stringify: the auditor hashes and stores that string (toOcsfJson, ocsf.ts). All records
// share the literal's shape, whatever their class: the fields a record does not have are
// `undefined`, which JSON.stringify leaves out (the key does not exist in the JSON). That is why
// the assembled object never leaves ocsf.ts: toOcsf hands out the record parsed back from those
// very bytes. The nested objects are written in order below too; the variable leaves (unmapped.*,
// resource data) go through sortedCopy. ocsf-canonical.unit.spec.ts checks, for every record kind,
// that the string is byte for byte the canonical JSON of the record, so a key out of order fails there.

/** What a record is made of, in any order; `assemble` writes it in canonical order. */
export interface RecordFields {
  activity_id: number;
  activity_name: string;
  actor: OcsfActor;
  api?: OcsfApi;
  category_name: string;
  category_uid: number;
  class_name: string;
  class_uid: number;
  count?: number;
  end_time?: number;
  end_time_dt?: string;
  group?: { uid: string; name: string };
  message: string;
  metadata: OcsfMetadata;
  privileges?: string[];
  resource?: OcsfResourceDetails;
  resources?: OcsfResourceDetails[];
  severity: string;
  severity_id: number;
  src_endpoint: OcsfNetworkEndpoint;
  start_time?: number;
  start_time_dt?: string;
  status: string;
  status_detail?: string;
  status_id: number;
  time: number;
  time_dt: string;
  type_name: string;
  type_uid: number;
  unmapped?: OcsfUnmapped;
  user?: OcsfUser;
}

/** The record of `f`, every key in canonical order; absent fields are undefined (see above: only for JSON.stringify). */
export function assemble(f: RecordFields): OcsfRecord {
  return {
    activity_id: f.activity_id,
    activity_name: f.activity_name,
    actor: actorOut(f.actor),
    api: f.api === undefined ? undefined : { operation: f.api.operation, service: { name: f.api.service.name } },
    category_name: f.category_name,
    category_uid: f.category_uid,
    class_name: f.class_name,
    class_uid: f.class_uid,
    count: f.count,
    end_time: f.end_time,
    end_time_dt: f.end_time_dt,
    group: f.group === undefined ? undefined : { name: f.group.name, uid: f.group.uid },
    message: f.message,
    // built in canonical order by its one maker (common.ts metadataOf): not copied again
    metadata: f.metadata,
    privileges: f.privileges,
    resource: f.resource === undefined ? undefined : resourceOut(f.resource),
    resources: f.resources === undefined ? undefined : f.resources.map(resourceOut),
    severity: f.severity,
    severity_id: f.severity_id,
    src_endpoint: { svc_name: f.src_endpoint.svc_name },
    start_time: f.start_time,
    start_time_dt: f.start_time_dt,
    status: f.status,
    status_detail: f.status_detail,
    status_id: f.status_id,
    time: f.time,
    time_dt: f.time_dt,
    type_name: f.type_name,
    type_uid: f.type_uid,
    unmapped: f.unmapped === undefined ? undefined : sortedCopy(f.unmapped),
    user: f.user === undefined ? undefined : userOut(f.user),
  } as unknown as OcsfRecord;
}

function userOut(u: OcsfUser): OcsfUser {
  return { name: u.name, type: u.type, type_id: u.type_id, uid: u.uid };
}

function actorOut(a: OcsfActor): OcsfActor {
  return {
    authorizations: a.authorizations === undefined ? undefined : a.authorizations.map(authorizationOut),
    session: a.session === undefined ? undefined : { uid: a.session.uid },
    user: userOut(a.user),
  };
}

function authorizationOut(z: NonNullable<OcsfActor['authorizations']>[number]): NonNullable<OcsfActor['authorizations']>[number] {
  return { decision: z.decision, policy: z.policy === undefined ? undefined : ({ name: z.policy.name, uid: z.policy.uid } as OcsfPolicy) };
}

function resourceOut(r: OcsfResourceDetails): OcsfResourceDetails {
  return {
    data: r.data === undefined ? undefined : sortedCopy(r.data),
    labels: r.labels,
    name: r.name,
    type: r.type,
    uid: r.uid,
    version: r.version,
  };
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
