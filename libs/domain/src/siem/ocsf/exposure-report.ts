// API Activity (6003) record of an exposure report being asked for (ExposureReportGenerated, issue 22).
//
// Asking what someone could read, and what they read, is itself sensitive: a SIEM must see who asked
// about whom, for which window. Read (2) of the report's subject through the service's API; the
// subject is the resource (a user, a group claim, a CI job's project or a secret), the requester the
// actor; the window and the report's digest ride in `unmapped`, never the report's content.
import { isGroupId } from '../../group/place';
import { ExposureReportGenerated } from '../../exposure/exposure-request';
import { RecordedEvent } from '../../ports/event-store';
import { actorFromMetadata, apiActivity, int, placeResource, secretResource, str, unknownPlaceResource } from './common';
import { OcsfApiActivity, OcsfOptions, OcsfResourceDetails } from './types';

function subjectResource(s: Record<string, unknown>): OcsfResourceDetails {
  switch (s.type) {
    case 'user':
      return { type: 'user', uid: str(s.id), name: str(s.id) };
    case 'group':
      // A group claim of users' tokens, not a group of the tree: typed as such.
      return { type: 'group-claim', uid: str(s.id), name: str(s.id) };
    case 'ci-job':
      return { ...placeResource(str(s.projectId)), labels: ['ci-jobs-of'] };
    case 'secret': {
      const place = typeof s.groupId === 'string' && isGroupId(s.groupId) ? `group:${s.groupId}` : typeof s.projectId === 'string' ? s.projectId : null;
      return place === null ? unknownPlaceResource() : secretResource(place, str(s.name), typeof s.version === 'number' ? s.version : undefined);
    }
    default:
      return unknownPlaceResource();
  }
}

export function exposureReportRecord(event: RecordedEvent, domain: ExposureReportGenerated, opts: OcsfOptions): OcsfApiActivity {
  const d = domain.data;
  const subject = d.subject && typeof d.subject === 'object' ? (d.subject as Record<string, unknown>) : {};
  const resource = subjectResource(subject);
  const actor = actorFromMetadata(event);
  return apiActivity(event, opts, {
    activity: 2,
    operation: 'ExposureReport',
    // Medium: who could read what is the map an intruder wants; asking is rare and deliberate.
    severity: 3,
    success: true,
    actor,
    resources: [resource],
    message: `${actor.who} asked what ${str(subject.type)} ${resource.name} could read and read from ${str(d.from)} to ${str(d.to)}`,
    unmapped: {
      exposure_report: { report_id: str(d.reportId), from: str(d.from), to: str(d.to), report_sha256: str(d.reportSha256), covered_places: int(d.coveredPlaces), not_covered: int(d.notCovered) },
    },
  });
}
