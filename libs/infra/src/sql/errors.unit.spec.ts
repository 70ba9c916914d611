import { StoreUnavailableError } from '@app/domain';
import { isUnavailable, mapSqlError } from './errors';
import { isDeterministic } from '../projection/projection-runner';

describe('store unavailable vs. statement errors', () => {
  it.each([
    ['pg-pool exhausted / server black-holed', new Error('timeout exceeded when trying to connect')],
    ['pg query_timeout', new Error('Query read timeout')],
    ['statement_timeout', Object.assign(new Error('canceling statement due to statement timeout'), { code: '57014' })],
    ['refused', Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' })],
    ['reset', Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' })],
    ['admin shutdown', Object.assign(new Error('terminating connection due to administrator command'), { code: '57P01' })],
    ['connection exception class 08', Object.assign(new Error('x'), { code: '08006' })],
    ['terminated', new Error('Connection terminated unexpectedly')],
  ])('%s is StoreUnavailableError (503)', (_n, e) => {
    expect(isUnavailable(e)).toBe(true);
    expect(mapSqlError(e)).toBeInstanceOf(StoreUnavailableError);
    expect(isDeterministic(e)).toBe(false);
  });

  it('data and constraint errors are deterministic (dead-lettered by projections), others are retried', () => {
    expect(isDeterministic(Object.assign(new Error('null value in column'), { code: '23502' }))).toBe(true);
    expect(isDeterministic(Object.assign(new Error('invalid input syntax'), { code: '22P02' }))).toBe(true);
    expect(isDeterministic(new TypeError("Cannot read properties of null (reading 'x')"))).toBe(true);
    expect(isDeterministic(Object.assign(new Error('could not serialize'), { code: '40001' }))).toBe(false);
    expect(isDeterministic(Object.assign(new Error('relation does not exist'), { code: '42P01' }))).toBe(false);
    expect(isDeterministic(new Error('crash in the middle'))).toBe(false);
    expect(isUnavailable(Object.assign(new Error('null value'), { code: '23502' }))).toBe(false);
  });
});
