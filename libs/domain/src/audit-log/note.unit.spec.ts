import { createHash, generateKeyPairSync } from 'node:crypto';
import { formatCheckpoint, noteKeyId, openNote, parseCheckpoint, signNote, verifierKey } from './note';

const ORIGIN = 'audit.example.com/log';
const log = generateKeyPairSync('ed25519');
const other = generateKeyPairSync('ed25519');
const root = createHash('sha256').update('root').digest();
const text = formatCheckpoint({ origin: ORIGIN, treeSize: 42, rootHash: root });

describe('checkpoints', () => {
  it('formats origin, decimal size and base64 root, one per line', () => {
    expect(text).toBe(`${ORIGIN}\n42\n${root.toString('base64')}\n`);
    expect(formatCheckpoint({ origin: ORIGIN, treeSize: 0, rootHash: root, extensions: ['ext one'] })).toBe(
      `${ORIGIN}\n0\n${root.toString('base64')}\next one\n`,
    );
  });

  it('round-trips through parseCheckpoint', () => {
    expect(parseCheckpoint(text)).toEqual({ origin: ORIGIN, treeSize: 42, rootHash: root, extensions: [] });
    const withExt = formatCheckpoint({ origin: ORIGIN, treeSize: 7, rootHash: root, extensions: ['a', 'b c'] });
    expect(parseCheckpoint(withExt).extensions).toEqual(['a', 'b c']);
  });

  it.each([
    ['empty origin', { origin: '', treeSize: 1, rootHash: root }],
    ['newline in origin', { origin: 'a\nb', treeSize: 1, rootHash: root }],
    ['negative size', { origin: ORIGIN, treeSize: -1, rootHash: root }],
    ['fractional size', { origin: ORIGIN, treeSize: 1.5, rootHash: root }],
    ['short root', { origin: ORIGIN, treeSize: 1, rootHash: root.subarray(1) }],
    ['blank extension', { origin: ORIGIN, treeSize: 1, rootHash: root, extensions: [''] }],
  ])('formatCheckpoint rejects %s', (_, c) => {
    expect(() => formatCheckpoint(c)).toThrow(Error);
  });

  const b64 = root.toString('base64');
  it.each([
    ['no trailing newline', `${ORIGIN}\n1\n${b64}`],
    ['missing root line', `${ORIGIN}\n1\n`],
    ['missing size and root', `${ORIGIN}\n`],
    ['empty origin', `\n1\n${b64}\n`],
    ['non-decimal size', `${ORIGIN}\n0x10\n${b64}\n`],
    ['signed size', `${ORIGIN}\n+1\n${b64}\n`],
    ['leading zeros', `${ORIGIN}\n007\n${b64}\n`],
    ['size past 2^53', `${ORIGIN}\n9007199254740993\n${b64}\n`],
    ['bad base64', `${ORIGIN}\n1\n${b64.slice(1)}\n`],
    ['non-canonical base64 padding bits', `${ORIGIN}\n1\n${Buffer.alloc(32).toString('base64').replace(/A=$/, 'B=')}\n`],
    ['url-safe base64', `${ORIGIN}\n1\n${Buffer.alloc(32, 0xfb).toString('base64url')}=\n`],
    ['31-byte hash', `${ORIGIN}\n1\n${root.subarray(1).toString('base64')}\n`],
    ['33-byte hash', `${ORIGIN}\n1\n${Buffer.concat([root, Buffer.from([0])]).toString('base64')}\n`],
    ['blank extension line', `${ORIGIN}\n1\n${b64}\n\n`],
  ])('parseCheckpoint rejects %s', (_, input) => {
    expect(() => parseCheckpoint(input)).toThrow(Error);
  });
});

describe('signed notes', () => {
  const verifier = { name: ORIGIN, publicKey: log.publicKey };

  it('key ID is the first 4 bytes of SHA-256(name || 0x0A || 0x01 || key)', () => {
    const raw = log.publicKey.export({ format: 'der', type: 'spki' }).subarray(-32);
    const expected = createHash('sha256')
      .update(Buffer.concat([Buffer.from(`${ORIGIN}\n`), Buffer.from([1]), raw]))
      .digest()
      .subarray(0, 4);
    expect(noteKeyId(ORIGIN, log.publicKey)).toEqual(expected);
    expect(verifierKey(ORIGIN, log.publicKey)).toBe(
      `${ORIGIN}+${expected.toString('hex')}+${Buffer.concat([Buffer.from([1]), raw]).toString('base64')}`,
    );
  });

  it('signs with an em-dash signature line and round-trips', () => {
    const note = signNote(text, ORIGIN, log.privateKey);
    const lines = note.split('\n');
    expect(note.startsWith(`${text}\n\u2014 ${ORIGIN} `)).toBe(true);
    const blob = Buffer.from(lines[lines.length - 2].split(' ')[2], 'base64');
    expect(blob.length).toBe(4 + 64);
    expect(blob.subarray(0, 4)).toEqual(noteKeyId(ORIGIN, log.publicKey));
    expect(openNote(note, [verifier])).toEqual({ text, verifiedBy: [ORIGIN] });
    expect(parseCheckpoint(openNote(note, [verifier]).text).treeSize).toBe(42);
  });

  it('rejects a changed byte of the text', () => {
    const note = signNote(text, ORIGIN, log.privateKey);
    expect(() => openNote(note.replace('\n42\n', '\n43\n'), [verifier])).toThrow(/does not verify/);
  });

  it('rejects a changed byte of the signature', () => {
    const note = signNote(text, ORIGIN, log.privateKey);
    const [body, sigLine] = [note.slice(0, note.lastIndexOf('\u2014')), note.slice(note.lastIndexOf('\u2014'))];
    const b64 = sigLine.trimEnd().split(' ')[2];
    const blob = Buffer.from(b64, 'base64');
    blob[20] ^= 1;
    expect(() => openNote(`${body}\u2014 ${ORIGIN} ${blob.toString('base64')}\n`, [verifier])).toThrow(/does not verify/);
  });

  it('rejects a note not signed by any known key', () => {
    const note = signNote(text, ORIGIN, log.privateKey);
    expect(() => openNote(note, [{ name: ORIGIN, publicKey: other.publicKey }])).toThrow(/no signature by a known key/);
    expect(() => openNote(note, [{ name: 'other.example/log', publicKey: log.publicKey }])).toThrow(/no signature by a known key/);
    const renamed = note.replace(`\u2014 ${ORIGIN} `, '\u2014 impostor.example/log ');
    expect(() => openNote(renamed, [verifier])).toThrow(/no signature by a known key/);
  });

  it('ignores signatures by unknown keys, e.g. witness cosignatures', () => {
    const note = signNote(text, ORIGIN, log.privateKey);
    const witness = signNote(text, 'witness.example/w1', other.privateKey);
    const cosigned = note + witness.slice(witness.lastIndexOf('\u2014'));
    expect(openNote(cosigned, [verifier])).toEqual({ text, verifiedBy: [ORIGIN] });
    expect(openNote(cosigned, [verifier, { name: 'witness.example/w1', publicKey: other.publicKey }]).verifiedBy).toEqual([
      ORIGIN,
      'witness.example/w1',
    ]);
    // An unknown key's signature is not even checked, so garbage there is harmless.
    expect(openNote(`${note}\u2014 someone.else ${Buffer.alloc(68, 7).toString('base64')}\n`, [verifier]).text).toBe(text);
  });

  it.each([
    ['no blank line', (n: string) => n.replace('\n\n', '\n')],
    ['ASCII hyphen instead of em dash', (n: string) => n.replace('\u2014', '-')],
    ['missing final newline', (n: string) => n.slice(0, -1)],
    ['two spaces in the signature line', (n: string) => n.replace(`\u2014 ${ORIGIN} `, `\u2014 ${ORIGIN}  `)],
    ['truncated signature blob', (n: string) => n.replace(/ [A-Za-z0-9+/=]+\n$/, ' AAAA\n')],
    ['bad base64 signature', (n: string) => n.replace(/ ([A-Za-z0-9+/=]+)\n$/, ' $1!\n')],
    ['trailing empty signature line', (n: string) => `${n}\n`],
    ['carriage return', (n: string) => n.replace(`${ORIGIN}\n42`, `${ORIGIN}\r\n42`)],
  ])('rejects a malformed note: %s', (_, mangle) => {
    expect(() => openNote(mangle(signNote(text, ORIGIN, log.privateKey)), [verifier])).toThrow(Error);
  });

  it('refuses to sign text that would not parse back', () => {
    expect(() => signNote('no newline', ORIGIN, log.privateKey)).toThrow();
    expect(() => signNote('a\n\nb\n', ORIGIN, log.privateKey)).toThrow();
    expect(() => signNote('', ORIGIN, log.privateKey)).toThrow();
    expect(() => signNote(text, 'has space', log.privateKey)).toThrow();
    expect(() => signNote(text, 'has+plus', log.privateKey)).toThrow();
    expect(() => signNote(text, ORIGIN, log.publicKey)).toThrow();
  });
});
