// Every stream name is built here. One dash between category and id, so EventStoreDB's
// `$ce-<category>` streams work; ids are validated before they reach this file.

export const StreamCategory = {
  project: 'project',
  secret: 'secret',
  access: 'access',
} as const;

export const StreamName = {
  /** Grants of one project: the project access policy aggregate. */
  project: (projectId: string) => `${StreamCategory.project}-${projectId}`,
  /** One secret's metadata and value versions (never the value). */
  secret: (projectId: string, name: string) => `${StreamCategory.secret}-${projectId}/${name}`,
  /** Access decisions (SecretAccessed / SecretAccessDenied) of one project: an append-only audit log. */
  access: (projectId: string) => `${StreamCategory.access}-${projectId}`,
};

export function categoryOf(streamName: string): string {
  const dash = streamName.indexOf('-');
  return dash < 0 ? streamName : streamName.slice(0, dash);
}
