import { logRowsFromNdjson } from './main';

const line = (index: number, record: string) => `{"index":${index},"eventId":"e${index}","eventType":"SecretAccessed","key":"p/S","record":${record}}`;

describe('cli verify log --file: reading audit.jsonl', () => {
  it('keeps each index once, in order, with the record bytes as written', () => {
    const text = [line(1, '{"a":2}'), line(0, '{"a":1}'), line(1, '{"a":2}')].join('\n') + '\n';
    expect(logRowsFromNdjson(text)).toEqual([
      { index: 0, record: '{"a":1}' },
      { index: 1, record: '{"a":2}' },
    ]);
  });

  it('skips a torn line left by a crash (a missing record then shows up as an index gap)', () => {
    const text = [line(0, '{"a":1}'), '{"index":1,"eventId":"e1","rec', line(1, '{"a":2}')].join('\n');
    expect(logRowsFromNdjson(text).map((r) => r.index)).toEqual([0, 1]);
  });

  it('refuses a record that is not byte-for-byte canonical, e.g. a duplicated key JSON.parse would collapse', () => {
    expect(() => logRowsFromNdjson(line(0, '{"uid":"mallory","uid":"alice"}'))).toThrow(/not in canonical form/);
    expect(() => logRowsFromNdjson(line(0, '{"b":1,"a":2}'))).toThrow(/not in canonical form/);
  });

  it('refuses two different records at one index', () => {
    expect(() => logRowsFromNdjson([line(0, '{"a":1}'), line(0, '{"a":3}')].join('\n'))).toThrow(/two different records/);
  });
});
