// A project's place in the group tree: one small stream per project (`projectgroup-<id>`), so a
// move never contends with the project's grants, and "which group was P in at T" is a fold of it.
import { assertNever, Decider, DomainEvent } from '../decider';
import { forbidden } from '../errors';
import { requireCommandMetadata, requireOnlyKeys, requireProjectId } from '../invariants';
import { CommandMetadata } from '../secret/secret';
import { requireGroupId } from './place';

export type ProjectGroupCommand = {
  type: 'ChangeProjectGroup';
  /** `asPlatformAdmin`: the caller's token said `admin: true` (only platform admins move projects). */
  data: { projectId: string; groupId: string | null; asPlatformAdmin: boolean };
  metadata: CommandMetadata;
};

export type ProjectGroupChanged = DomainEvent<
  'ProjectGroupChanged',
  { projectId: string; groupId: string | null; previousGroupId: string | null; changedBy: string; changedAt: string }
>;
export type ProjectGroupEvent = ProjectGroupChanged;

/** Membership over time: [groupId from `from` on], oldest first. */
export interface ProjectGroupState {
  projectId: string | null;
  groupId: string | null;
  history: readonly { groupId: string | null; from: string }[];
}

/** The group a project was in at `at` (null: none, or the project had not been placed yet). */
export function groupAt(state: Pick<ProjectGroupState, 'history'>, at: string): string | null {
  const t = Date.parse(at);
  let g: string | null = null;
  for (const h of state.history) {
    if (Date.parse(h.from) > t) break;
    g = h.groupId;
  }
  return g;
}

export function checkProjectGroupCommand(command: ProjectGroupCommand): void {
  requireCommandMetadata(command.metadata);
  const d = requireOnlyKeys(command.data, ['projectId', 'groupId', 'asPlatformAdmin']);
  requireProjectId(d.projectId);
  if (d.groupId !== null) requireGroupId('groupId', d.groupId);
}

export const projectGroupDecider: Decider<ProjectGroupState, ProjectGroupCommand, ProjectGroupEvent> = {
  initialState: () => ({ projectId: null, groupId: null, history: [] }),

  decide(command, state) {
    checkProjectGroupCommand(command);
    switch (command.type) {
      case 'ChangeProjectGroup': {
        const d = command.data;
        if (d.asPlatformAdmin !== true || command.metadata.actor.type !== 'user') throw forbidden('platform-admin-only', 'only a platform admin moves a project between groups');
        // Idempotent: putting a project where it already is records nothing.
        if (state.groupId === d.groupId) return [];
        return [
          {
            type: 'ProjectGroupChanged',
            data: { projectId: d.projectId, groupId: d.groupId, previousGroupId: state.groupId, changedBy: command.metadata.actor.id, changedAt: command.metadata.now },
          },
        ];
      }
      default:
        return assertNever(command.type);
    }
  },

  evolve(state, event) {
    switch (event.type) {
      case 'ProjectGroupChanged':
        return { projectId: event.data.projectId, groupId: event.data.groupId, history: [...state.history, { groupId: event.data.groupId, from: event.data.changedAt }] };
      default:
        return assertNever(event.type);
    }
  },
};
