// Every stream name is built here. One dash between category and id, so EventStoreDB's
// `$ce-<category>` streams work; ids are validated before they reach this file.

export const StreamCategory = {
  project: 'project',
  secret: 'secret',
  access: 'access',
  accessRequest: 'accessrequest',
  projectGroup: 'projectgroup',
  exposureReport: 'exposurereport',
} as const;

// A group's streams are its place key's (`project-group:a/b`, `secret-group:a/b/NAME`): `:` never
// occurs in a project id, so no group stream can be a project's (group/place.ts).
export const StreamName = {
  /** One exposure report asked for (ExposureReportGenerated): who asked about whom, for which window. */
  exposureReport: (reportId: string) => `${StreamCategory.exposureReport}-${reportId}`,
  /** The group a project is in, over time (ProjectGroupChanged). */
  projectGroup: (projectId: string) => `${StreamCategory.projectGroup}-${projectId}`,
  /** Grants of one place (project or group key): the access policy aggregate. */
  project: (projectId: string) => `${StreamCategory.project}-${projectId}`,
  /** One secret's metadata and value versions (never the value). */
  secret: (projectId: string, name: string) => `${StreamCategory.secret}-${projectId}/${name}`,
  /**
   * Access decisions (SecretAccessed / SecretAccessDenied): append-only audit logs, one per
   * secret (so reads of different secrets never queue behind each other), and one per project
   * for decisions about no single secret (grants, listing).
   */
  access: (projectId: string, name?: string | null) => (name ? `${StreamCategory.access}-${projectId}/${name}` : `${StreamCategory.access}-${projectId}`),
  /** One access request: asked, claimed for approval, denied, cancelled or expired (the approval itself is on `project-<id>`). */
  accessRequest: (projectId: string, requestId: string) => accessRequestStreamName(projectId, requestId),
};

/** The one dash is the category's; the id is `<projectId>.<requestId>` (a request id is a UUID, so the last dot splits it). */
export function accessRequestStreamName(projectId: string, requestId: string): string {
  return `${StreamCategory.accessRequest}-${projectId}.${requestId}`;
}

export function categoryOf(streamName: string): string {
  const dash = streamName.indexOf('-');
  return dash < 0 ? streamName : streamName.slice(0, dash);
}
