// An exposure report request, checked (the last gate before anything is read or recorded), and
// the fact that one was made: asking what someone could read is itself sensitive, so every report
// is recorded (`ExposureReportGenerated`: who asked about whom, for which window) and audited.
import { DomainEvent } from '../decider';
import { invalid } from '../errors';
import { groupKey, requireGroupId } from '../group/place';
import { parseRfc3339, requireCommandMetadata, requireOnlyKeys, requirePattern, requirePrincipalId, requireProjectId, requireSecretName, requireString } from '../invariants';
import { CommandMetadata } from '../secret/secret';
import { ExposureSubject, MAX_EXPOSURE_WINDOW_DAYS } from './exposure';

/** The DSSE payload type of a signed exposure report (the audit key and the envelope form of pipeline evidence). */
export const EXPOSURE_REPORT_PAYLOAD_TYPE = 'application/vnd.pipeline-secrets.exposure-report.v1+json';

/** The audit log's place of a report: not a project id or group key, so no project's auditors see it (as for OpenBao drift). */
export const EXPOSURE_REPORT_PLACE = '*';

const DAY_MS = 86_400_000;
/** Group claims of a user subject: as many as a token may carry. */
const MAX_SUBJECT_GROUPS = 100;
/** A CI pipeline id, as in tokens' `pipeline_id` claim. */
const PIPELINE_ID = /^[A-Za-z0-9._-]{1,128}$/;
/** A git ref as a job token carries it: printable, no spaces, bounded. */
const REF = /^[A-Za-z0-9._\/+@-]{1,255}$/;

export interface ExposureRequest {
  subject: ExposureSubject;
  from: string;
  to: string;
}

/** Checks a request body field by field (400 naming the field): the subject's kind and ids, and a window of at most 366 days with `from` before `to`. */
export function parseExposureRequest(body: unknown): ExposureRequest {
  const b = requireOnlyKeys(body, ['subject', 'from', 'to']);
  if (!b.subject || typeof b.subject !== 'object' || Array.isArray(b.subject)) throw invalid('invalid-field', 'subject must be an object', 'subject');
  const s = b.subject as Record<string, unknown>;
  const only = (allowed: string[]) => {
    // An unknown key is named, cut short (it is the caller's text).
    for (const k of Object.keys(s)) if (!allowed.includes(k)) throw invalid('invalid-field', `subject.${k.slice(0, 64)} is not a field of this subject type`, `subject.${k.slice(0, 64)}`);
  };
  let subject: ExposureSubject;
  switch (s.type) {
    case 'user':
      only(['type', 'id', 'groups']);
      // Exact ids: compared with =, never as a pattern (a `*` here names nobody).
      subject = { type: 'user', id: requirePrincipalId('subject.id', s.id) };
      if (s.groups !== undefined) {
        if (!Array.isArray(s.groups) || s.groups.length > MAX_SUBJECT_GROUPS) throw invalid('invalid-field', `subject.groups must be a list of at most ${MAX_SUBJECT_GROUPS} group ids`, 'subject.groups');
        subject.groups = [...new Set(s.groups.map((g, i) => requirePrincipalId(`subject.groups[${i}]`, g)))];
      }
      break;
    case 'group':
      only(['type', 'id']);
      subject = { type: 'group', id: requirePrincipalId('subject.id', s.id) };
      break;
    case 'ci-job':
      only(['type', 'projectId', 'ref', 'pipelineId']);
      subject = { type: 'ci-job', projectId: requireProjectIdAt('subject.projectId', s.projectId) };
      if (s.ref !== undefined) subject.ref = requirePattern('subject.ref', s.ref, REF);
      if (s.pipelineId !== undefined) subject.pipelineId = requirePattern('subject.pipelineId', s.pipelineId, PIPELINE_ID);
      break;
    case 'secret': {
      only(['type', 'projectId', 'groupId', 'name', 'version']);
      if ((s.projectId === undefined) === (s.groupId === undefined)) throw invalid('invalid-field', 'a secret subject names exactly one of projectId and groupId', 'subject.projectId');
      const placeKey = s.projectId !== undefined ? requireProjectIdAt('subject.projectId', s.projectId) : groupKey(requireGroupId('subject.groupId', s.groupId));
      subject = { type: 'secret', placeKey, name: requireSecretNameAt(s.name) };
      if (s.version !== undefined) {
        if (typeof s.version !== 'number' || !Number.isSafeInteger(s.version) || s.version < 1) throw invalid('invalid-field', 'subject.version must be a positive integer', 'subject.version');
        subject.version = s.version;
      }
      break;
    }
    default:
      throw invalid('invalid-field', 'subject.type must be one of user, group, ci-job, secret', 'subject.type');
  }
  const from = instant('from', b.from);
  const to = instant('to', b.to);
  if (Date.parse(to) <= Date.parse(from)) throw invalid('invalid-field', 'to must be after from', 'to');
  if (Date.parse(to) - Date.parse(from) > MAX_EXPOSURE_WINDOW_DAYS * DAY_MS) throw invalid('invalid-field', `the window (to - from) is at most ${MAX_EXPOSURE_WINDOW_DAYS} days`, 'to');
  return { subject, from, to };
}

function requireProjectIdAt(field: string, v: unknown): string {
  try {
    return requireProjectId(v);
  } catch {
    throw invalid('invalid-field', `${field} must be a project id`, field);
  }
}

function requireSecretNameAt(v: unknown): string {
  try {
    return requireSecretName(v);
  } catch {
    throw invalid('invalid-field', 'subject.name must be a secret name', 'subject.name');
  }
}

function instant(field: string, v: unknown): string {
  const ms = parseRfc3339(requireString(field, v));
  if (ms === null) throw invalid('invalid-field', `${field} must be an RFC 3339 date-time with a time zone`, field);
  return new Date(ms).toISOString();
}

export type ExposureReportGenerated = DomainEvent<
  'ExposureReportGenerated',
  {
    /**
     * `*`, as drift events have: a report spans places, so its audit record belongs to no one
     * project (only auditors of the whole log see it; its Kafka key is the drift events' one).
     */
    projectId: typeof EXPOSURE_REPORT_PLACE;
    reportId: string;
    requestedBy: { type: 'user'; id: string };
    /** The subject as the report names it (groupId, never an internal key). */
    subject: Record<string, unknown>;
    from: string;
    to: string;
    /** Places the report named (the caller's read-audit), and places it only counted. */
    coveredPlaces: number;
    notCovered: number;
    /** SHA-256 (hex) of the report's canonical JSON: which report was given, without its content. */
    reportSha256: string;
  }
>;

/** The record of a report, checked: only users ask, for a well-formed request. */
export function decideExposureReport(command: { type: 'RecordExposureReport'; data: Omit<ExposureReportGenerated['data'], 'requestedBy' | 'projectId'>; metadata: CommandMetadata }): ExposureReportGenerated {
  requireCommandMetadata(command.metadata);
  if (command.metadata.actor.type !== 'user') throw invalid('invalid-field', 'only users ask for exposure reports', 'actor');
  const d = command.data;
  if (!/^[0-9a-f-]{36}$/.test(d.reportId)) throw invalid('invalid-field', 'reportId must be a UUID', 'reportId');
  if (!/^[0-9a-f]{64}$/.test(d.reportSha256)) throw invalid('invalid-field', 'reportSha256 must be 64 hex digits', 'reportSha256');
  return { type: 'ExposureReportGenerated', data: { projectId: EXPOSURE_REPORT_PLACE, ...d, requestedBy: { type: 'user', id: command.metadata.actor.id } } };
}
