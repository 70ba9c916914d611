import { codePointLength, isWellFormedText, parseRfc3339, toWellFormedText } from './invariants';

describe('command invariants', () => {
  it.each([
    ['2026-01-31T12:00:00Z', Date.UTC(2026, 0, 31, 12)],
    ['2026-01-31t12:00:00.123456789z', Date.UTC(2026, 0, 31, 12, 0, 0, 123)],
    ['2024-02-29T00:00:00+23:59', Date.UTC(2024, 1, 28, 0, 1)],
    ['0001-01-01T00:00:00Z', -62135596800000],
    ['9999-12-31T23:59:59.999Z', 253402300799999],
  ])('parses the instant %s', (s, ms) => expect(parseRfc3339(s)).toBe(ms));

  it.each([
    '2030-01-01T00:00:00+25:00', '2030-01-01T00:00:00+01:60', '0000-01-01T00:00:00Z', '0001-01-01T00:00:00+00:01', '2025-02-29T00:00:00Z',
    '2025-02-30T00:00:00Z', '2025-04-31T00:00:00Z', '2025-13-01T00:00:00Z', '2025-00-01T00:00:00Z', '2025-01-00T00:00:00Z', '2025-01-01T24:00:00Z',
    '2025-01-01T23:60:00Z', '2025-01-01T23:59:60Z', '2025-01-01T00:00:00', '+275760-09-13T00:00:00Z', 'tomorrow', '', 42, null,
  ])('refuses %p', (s) => expect(parseRfc3339(s)).toBeNull());

  it('tells lone surrogates from pairs, and counts code points', () => {
    expect(isWellFormedText('ok 😀 é')).toBe(true);
    for (const s of ['\ud800', 'a\udc00', '\udc00\ud800', '😀'.slice(0, 1) + 'x']) expect(isWellFormedText(s)).toBe(false);
    expect(toWellFormedText('a\ud800b😀\udc00')).toBe('a\ufffdb😀\ufffd');
    expect(codePointLength('😀é')).toBe(2);
    expect(codePointLength('\ud800\ud800')).toBe(2);
  });
});

describe('one purpose limit', () => {
  it('the audit record (OCSF) keeps every purpose the access decision accepts', () => {
    // eslint-disable-next-line @typescript-eslint/no-var-requires
    const ocsf = require('./siem/ocsf') as { MAX_PURPOSE_LENGTH: number };
    const { MAX_PURPOSE_LENGTH } = require('./limits') as { MAX_PURPOSE_LENGTH: number };
    expect(ocsf.MAX_PURPOSE_LENGTH).toBe(MAX_PURPOSE_LENGTH);
  });
});
