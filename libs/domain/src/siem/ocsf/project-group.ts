// API Activity (6003) record of a project moving between groups (ProjectGroupChanged).
//
// Why API Activity "Update" on the project, not Group Management (3006): 3006's activities (Add User,
// Remove User, Assign/Revoke Privileges, Add Subgroup, Remove Subgroup) and its `user` / `group`
// objects describe identity groups and their members. A project is not a user, and our groups are
// places in a tree of secrets, not identity groups: a record saying "Add User acme-app to group
// acme/payments" would tell a SIEM that an account gained membership. What happened is that a
// platform admin changed one attribute of a project (its group) through the service's API, which
// is what API Activity Update on a `project` resource says; the groups involved ride along as
// resources of their own.
import { isGroupId } from '../../group/place';
import { ProjectGroupChanged } from '../../group/project-group';
import { RecordedEvent } from '../../ports/event-store';
import { actorFromMetadata, apiActivity, groupResourceLabelled, placeResource, recordPlace, str, unknownPlaceResource } from './common';
import { OcsfApiActivity, OcsfOptions, OcsfResourceDetails } from './types';

export function projectGroupRecord(event: RecordedEvent, domain: ProjectGroupChanged, opts: OcsfOptions): OcsfApiActivity {
  const d = domain.data;
  const projectKey = str(d.projectId);
  // Only a project moves: a `group:` key here (a forged event) is an unknown place, never a project.
  const place = recordPlace(projectKey);
  const project = place.type === 'project' ? placeResource(projectKey) : unknownPlaceResource();
  const to = isGroupId(d.groupId) ? d.groupId : null;
  const from = isGroupId(d.previousGroupId) ? d.previousGroupId : null;
  project.data = { group_id: to, previous_group_id: from };
  const resources: OcsfResourceDetails[] = [project];
  if (to !== null) resources.push(groupResourceLabelled(to, 'project-group:new'));
  if (from !== null && from !== to) resources.push(groupResourceLabelled(from, 'project-group:previous'));
  const actor = actorFromMetadata(event);
  const what = to === null ? `took project ${project.name} out of ${from === null ? 'its group' : `group ${from}`}` : `moved project ${project.name} into group ${to}${from === null ? '' : ` (from group ${from})`}`;
  return apiActivity(event, opts, {
    activity: 3,
    operation: 'ChangeProjectGroup',
    // What the project's jobs read and who may act on it changes with the move (inherited grants,
    // group secrets): Low, above a routine grant, as a deletion is.
    severity: 2,
    success: true,
    actor,
    resources,
    message: `${actor.who} ${what}`,
  });
}
