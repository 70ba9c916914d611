import { generateKeyPairSync } from 'node:crypto';
import { pae, signDsse, verifyDsse } from './dsse';

const key = generateKeyPairSync('ed25519');
const other = generateKeyPairSync('ed25519');
const TYPE = 'application/vnd.in-toto+json';
const body = Buffer.from('{"hello":"world"}');

describe('pae', () => {
  it('matches the DSSE specification example', () => {
    expect(pae('http://example.com/HelloWorld', Buffer.from('hello world')).toString()).toBe(
      'DSSEv1 29 http://example.com/HelloWorld 11 hello world',
    );
  });
  it('counts bytes, not characters', () => {
    expect(pae('t\u00e9', Buffer.from('\u20ac')).toString()).toBe('DSSEv1 3 t\u00e9 3 \u20ac');
  });
  it('handles empty type and body', () => {
    expect(pae('', Buffer.alloc(0)).toString()).toBe('DSSEv1 0  0 ');
  });
});

describe('DSSE envelopes', () => {
  const env = signDsse(TYPE, body, key.privateKey, 'log-key-1');

  it('round-trips', () => {
    expect(env).toEqual({ payloadType: TYPE, payload: body.toString('base64'), signatures: [{ keyid: 'log-key-1', sig: expect.any(String) }] });
    expect(verifyDsse(JSON.parse(JSON.stringify(env)), key.publicKey, { keyid: 'log-key-1', payloadType: TYPE })).toEqual({
      payloadType: TYPE,
      payload: body,
    });
  });

  it('rejects a tampered payload', () => {
    const payload = Buffer.from('{"hello":"World"}').toString('base64');
    expect(() => verifyDsse({ ...env, payload }, key.publicKey)).toThrow(/no signature verifies/);
  });

  it('rejects a tampered payload type', () => {
    expect(() => verifyDsse({ ...env, payloadType: 'application/json' }, key.publicKey)).toThrow(/no signature verifies/);
  });

  it('rejects a tampered signature', () => {
    const sig = Buffer.from(env.signatures[0].sig, 'base64');
    sig[0] ^= 1;
    expect(() => verifyDsse({ ...env, signatures: [{ keyid: 'log-key-1', sig: sig.toString('base64') }] }, key.publicKey)).toThrow(
      /no signature verifies/,
    );
  });

  it('rejects the wrong key or keyid', () => {
    expect(() => verifyDsse(env, other.publicKey)).toThrow(/no signature verifies/);
    expect(() => verifyDsse(env, key.publicKey, { keyid: 'another' })).toThrow(/no signature verifies/);
  });

  it('rejects an unexpected payload type even when validly signed', () => {
    const signed = signDsse('text/plain', body, key.privateKey, 'k');
    expect(() => verifyDsse(signed, key.publicKey, { payloadType: TYPE })).toThrow(/payloadType/);
  });

  it('accepts when any one signature verifies', () => {
    const mixed = { ...env, signatures: [signDsse(TYPE, body, other.privateKey, 'x').signatures[0], ...env.signatures] };
    expect(verifyDsse(mixed, key.publicKey).payload).toEqual(body);
  });

  it.each([
    ['not an object', 'nope'],
    ['array', []],
    ['null', null],
    ['missing payloadType', { payload: env.payload, signatures: env.signatures }],
    ['numeric payload', { ...env, payload: 5 }],
    ['bad base64 payload', { ...env, payload: `${env.payload}!` }],
    ['no signatures', { ...env, signatures: [] }],
    ['signatures not an array', { ...env, signatures: {} }],
    ['signature not an object', { ...env, signatures: ['x'] }],
    ['numeric keyid', { ...env, signatures: [{ ...env.signatures[0], keyid: 1 }] }],
    ['missing sig', { ...env, signatures: [{ keyid: 'log-key-1' }] }],
    ['bad base64 sig', { ...env, signatures: [{ keyid: 'log-key-1', sig: '***' }] }],
  ])('rejects a malformed envelope: %s', (_, input) => {
    expect(() => verifyDsse(input, key.publicKey)).toThrow(Error);
  });
});
