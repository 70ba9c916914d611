// API Activity (6003) records of OpenBao drift: a write to an object the projector owns by
// someone other than the service, and the reconciler's repair.
import { OpenBaoDriftEvent } from '../../openbao-audit/drift';
import { RecordedEvent } from '../../ports/event-store';
import { actorFromMetadata, ApiActivityId, apiActivity, nullableStr, str } from './common';
import { OcsfApiActivity, OcsfOptions, OcsfResourceDetails } from './types';

const DRIFT_ACTIVITY: Readonly<Record<string, ApiActivityId>> = { create: 1, update: 3, delete: 4 };

/** The kind of OpenBao object a drift path names (the path itself is the resource uid). */
function driftResource(path: string | null): OcsfResourceDetails {
  const p = path ?? '';
  const type: OcsfResourceDetails['type'] = p.startsWith('sys/polic') ? 'openbao-acl-policy' : p.endsWith('/config') ? 'openbao-jwt-config' : p.includes('/role/') ? 'openbao-jwt-role' : 'openbao-object';
  return { type, uid: p || 'openbao', name: p.slice(p.lastIndexOf('/') + 1) || 'openbao' };
}

/**
 * Drift on OpenBao's side: a write by someone else to an object the projector owns is an API
 * Activity (6003) on OpenBao's API by that actor (severity High: it bypassed the service); the
 * repair is an Update by the service (Informational).
 */
export function driftRecord(event: RecordedEvent, domain: OpenBaoDriftEvent, opts: OcsfOptions): OcsfApiActivity {
  if (domain.type === 'OpenBaoDriftDetected') {
    const d = domain.data;
    const who = str(d.who?.displayName);
    const path = nullableStr(d.path);
    const operation = str(d.operation);
    return apiActivity(event, opts, {
      activity: DRIFT_ACTIVITY[operation] ?? 99,
      operation: 'OpenBaoWrite',
      severity: 4,
      success: true,
      actor: { actor: { user: { uid: who, name: who, type_id: 99, type: 'OpenBao token' } }, who: `OpenBao token ${who}` },
      resources: [driftResource(path)],
      message: `OpenBao token ${who} changed ${path ?? 'an OpenBao object'} (${operation}) outside the service: drift`,
      unmapped: { openbao_drift: { request_id: nullableStr(d.requestId), path, operation, policies: Array.isArray(d.who?.policies) ? d.who.policies.map(String) : [] } },
    });
  }
  const d = domain.data;
  const path = nullableStr(d.path);
  const written = Array.isArray(d.written) ? d.written.map(String) : [];
  const removed = Array.isArray(d.removed) ? d.removed.map(String) : [];
  const actor = actorFromMetadata(event);
  return apiActivity(event, opts, {
    activity: 3,
    operation: 'RepairOpenBaoDrift',
    severity: 1,
    success: true,
    actor,
    resources: [driftResource(path)],
    message: `${actor.who} put ${written.length} OpenBao object(s) back to the desired state and removed ${removed.length}`,
    unmapped: { openbao_drift: { request_id: nullableStr(d.requestId), path, written, removed } },
  });
}
