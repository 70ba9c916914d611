import { PipeTransform, Type } from '@nestjs/common';
import { PROJECT_ID_PATTERN } from '@app/domain';
import { GROUP_ID_PATTERN, GroupKeyPipe, ProjectIdPipe } from './params';

/**
 * Where a family of endpoints lives: a project (`projectId`) or a group (`groupId`, the URL-encoded
 * full path, which GroupKeyPipe turns into the group's place key). Controllers made per place kind
 * (`secretsControllerFor(place)` and the like) serve both with the same commands and rules; `name`
 * prefixes the class name, so OpenAPI operation ids stay unique.
 */
export interface PlaceRoute {
  prefix: 'v1/projects/:projectId' | 'v1/groups/:groupId';
  param: 'projectId' | 'groupId';
  pipe: Type<PipeTransform<string, string>>;
  pattern: string;
  description?: string;
  name: '' | 'Group';
}

export const PROJECT_ROUTE: PlaceRoute = { prefix: 'v1/projects/:projectId', param: 'projectId', pipe: ProjectIdPipe, pattern: PROJECT_ID_PATTERN.source, name: '' };
export const GROUP_ROUTE: PlaceRoute = {
  prefix: 'v1/groups/:groupId',
  param: 'groupId',
  pipe: GroupKeyPipe,
  pattern: GROUP_ID_PATTERN.source,
  description: 'Full path, URL-encoded as one segment (acme%2Fpayments).',
  name: 'Group',
};
