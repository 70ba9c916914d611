import { EventStore, isAtOrBelow, isGroupId, placeOf, Position, StreamCategory } from '@app/domain';

const PAGE = 1000;

/**
 * Which projects are in which group now, read forward from the event store (the `projectgroup-`
 * streams: ProjectGroupChanged), for `GET /v1/me` to find the projects below a group where the
 * caller holds a grant. A candidate list only: every project found here is confirmed against its
 * own `projectgroup-<id>` stream and effective policy before it is answered, so an event this index
 * has not seen yet (readAll holds back events behind an older open transaction) can only leave a
 * project out for a moment, never add one where the caller has no action. In memory: a few dozen
 * bytes a placed project; each use reads only what was committed since the last.
 */
export class GroupMembershipIndex {
  private after?: Position;
  private readonly groupOfProject = new Map<string, string>();
  private readonly members = new Map<string, Set<string>>();
  private catching: Promise<void> | null = null;

  constructor(private readonly store: EventStore) {}

  /** Reads what was committed since the last call (one reader at a time; callers share it). */
  catchUp(): Promise<void> {
    if (!this.catching) {
      this.catching = this.readForward().finally(() => {
        this.catching = null;
      });
    }
    return this.catching;
  }

  private async readForward(): Promise<void> {
    for (;;) {
      const page = await this.store.readAll({ after: this.after, maxCount: PAGE, streamPrefixes: [`${StreamCategory.projectGroup}-`] });
      for (const e of page) if (e.type === 'ProjectGroupChanged') this.apply(e.data);
      if (page.length > 0) this.after = page[page.length - 1].position;
      if (page.length < PAGE) return;
    }
  }

  /** Events in global order, so each project's last event is where it is now. Malformed data is skipped. */
  private apply(data: Record<string, unknown>): void {
    const projectId = data.projectId;
    if (typeof projectId !== 'string' || placeOf(projectId)?.type !== 'project') return;
    const groupId = data.groupId;
    if (groupId !== null && !isGroupId(groupId)) return;
    const before = this.groupOfProject.get(projectId);
    if (before !== undefined) {
      const set = this.members.get(before);
      set?.delete(projectId);
      if (set?.size === 0) this.members.delete(before);
    }
    if (groupId === null) {
      this.groupOfProject.delete(projectId);
      return;
    }
    this.groupOfProject.set(projectId, groupId);
    const set = this.members.get(groupId) ?? new Set<string>();
    set.add(projectId);
    this.members.set(groupId, set);
  }

  /**
   * The projects whose group is `groupId` or below it, sorted, at most `limit` (and whether more
   * were left out). Cost: the groups that hold projects, plus the projects found.
   */
  projectsAtOrBelow(groupIds: readonly string[], limit: number): { projects: string[]; truncated: boolean } {
    const found = new Set<string>();
    for (const [g, projects] of this.members) {
      if (!groupIds.some((top) => isAtOrBelow(g, top))) continue;
      for (const p of projects) found.add(p);
    }
    const sorted = [...found].sort();
    return { projects: sorted.slice(0, limit), truncated: sorted.length > limit };
  }
}
