import { placeOf } from '@app/domain';
import { AccessHistoryItem } from '@app/infra/read-models/compliance';

export const HISTORY_CSV_HEADER = [
  'occurred_at', 'event_id', 'project_id', 'secret', 'action', 'decision', 'reason', 'version',
  'principal_type', 'principal_id', 'pipeline_id', 'job_id', 'ref', 'ref_protected', 'environment', 'triggered_by',
  'via_grant_id', 'via_role', 'via_scope', 'purpose', 'correlation_id', 'channel', 'via_openbao_request_id', 'via_openbao_policy',
  // Groups (issue 20): a group secret's row has group_id instead of project_id; a CI job's read of it, the job's project.
  'group_id', 'job_project_id', 'via_inherited_from',
];

export function historyCsvFields(i: AccessHistoryItem): Array<string | number | boolean | null> {
  const via = i.via;
  const place = placeOf(i.projectId);
  const group = place?.type === 'group' ? place.id : null;
  return [
    i.occurredAt, i.eventId, group === null ? i.projectId : null, i.secret, i.action, i.decision, i.reason, i.version,
    i.principal.type, i.principal.id, i.principal.pipelineId, i.principal.jobId, i.principal.ref, i.principal.refProtected, i.principal.environment, i.principal.triggeredBy,
    via && 'grantId' in via ? via.grantId : null, via && 'role' in via ? via.role : null, via && 'scope' in via ? via.scope : null,
    i.purpose, i.correlationId,
    i.channel, via && 'requestId' in via ? via.requestId : null, via && 'channel' in via ? via.policy : null,
    group, i.jobProjectId ?? null, via && 'inheritedFrom' in via && via.inheritedFrom ? via.inheritedFrom.id : null,
  ];
}

/**
 * One RFC 4180 row. Every field is quoted; a text field that a spreadsheet would run as a formula
 * (leading = + - @ tab or CR) gets a leading apostrophe (OWASP CSV injection advice), since a
 * `purpose` is free text from any caller.
 */
export function toCsvRow(fields: ReadonlyArray<string | number | boolean | null>): string {
  return (
    fields
      .map((f) => {
        if (f === null) return '';
        let s = String(f);
        if (typeof f === 'string' && /^[=+\-@\t\r]/.test(s)) s = `'${s}`;
        return `"${s.replace(/"/g, '""')}"`;
      })
      .join(',') + '\r\n'
  );
}
