import { describe, expect, it } from 'vitest';
import { SourceValidationError } from '../src/index.js';
import { decodeBase64, decodeError, jsonPayload, unmarshallItem } from '../src/lambda/decode.js';

// The payload decoding every handler shares, case by case: what a producer's bytes become, and what is refused.

const json = (...bytes: number[]) => jsonPayload(Buffer.from(bytes), { index: 0 }, {});

describe('jsonPayload', () => {
  it('refuses bytes that are not UTF-8 rather than reading them as U+FFFD', () => {
    // "\xff" in quotes: read leniently it would be the string "\ufffd".
    expect(() => json(0x22, 0xff, 0x22)).toThrow(new SyntaxError('payload is not valid UTF-8'));
  });

  it('skips a byte order mark, and only the whole mark EF BB BF', () => {
    expect(json(0xef, 0xbb, 0xbf, 0x31)).toBe(1);
    // "¿" is C2 BF: a BF third byte alone is no mark.
    expect(jsonPayload(Buffer.from('"¿"'), { index: 0 }, {})).toBe('¿');
    // U+FFBF (EF BE BF), U+FEC0 (EF BB 80) and U+2EFF (E2 BB BF) before "1": characters, not a mark, so no JSON.
    for (const lead of [[0xef, 0xbe, 0xbf], [0xef, 0xbb, 0x80], [0xe2, 0xbb, 0xbf]]) expect(() => json(...lead, 0x31)).toThrow(SyntaxError);
  });
});

describe('decodeBase64', () => {
  it('refuses base64url and text with characters Buffer.from would skip', () => {
    expect(decodeBase64('eyJhIjoxfQ==').toString()).toBe('{"a":1}');
    // 'eyJh IjoxfQ=' is 12 characters: Buffer.from skips the space and gives 7 bytes, not the 8 its length promises.
    for (const text of ['eyJhIjoxfQ', 'ey-hIjoxfQ==', 'ey_hIjoxfQ==', 'eyJh IjoxfQ=']) expect(() => decodeBase64(text)).toThrow(SyntaxError);
  });
});

describe('decodeError', () => {
  it('is the poison error the pipeline would give, with the position and the decoder\'s error as cause', () => {
    const cause = new SyntaxError('Unexpected token');
    const error = decodeError(cause, { source: 'kinesis', index: 3 });
    expect(error).toBeInstanceOf(SourceValidationError);
    expect(error.message).toBe('payload cannot be decoded: Unexpected token');
    expect(error.position).toEqual({ source: 'kinesis', index: 3 });
    expect(error.cause).toBe(cause);
  });
});

describe('unmarshallItem', () => {
  it('reads every AttributeValue type', () => {
    expect(
      unmarshallItem({
        s: { S: 'c1' },
        n: { N: '12.5' },
        t: { BOOL: true },
        f: { BOOL: false },
        z: { NULL: true },
        m: { M: { a: { S: 'x' } } },
        l: { L: [{ N: '1' }, { S: 'y' }] },
        ss: { SS: ['a', 'b'] },
        ns: { NS: ['1', '9007199254740993'] },
        b: { B: Buffer.from('hi').toString('base64') },
        bs: { BS: [Buffer.from('a').toString('base64')] },
      }),
    ).toEqual({ s: 'c1', n: 12.5, t: true, f: false, z: null, m: { a: 'x' }, l: [1, 'y'], ss: ['a', 'b'], ns: [1, 9007199254740993n], b: Buffer.from('hi'), bs: [Buffer.from('a')] });
  });

  it('keeps an integer beyond 2^53 exact as a bigint, and a large number written with an exponent a number', () => {
    expect(unmarshallItem({ id: { N: '-9007199254740993' }, big: { N: '1e20' }, small: { N: '42' } })).toEqual({ id: -9007199254740993n, big: 1e20, small: 42 });
  });

  it('refuses what is no AttributeValue, naming the type it does not know', () => {
    expect(() => unmarshallItem({ a: 'plain' })).toThrow(new SyntaxError('not a DynamoDB AttributeValue'));
    expect(() => unmarshallItem({ a: null })).toThrow(new SyntaxError('not a DynamoDB AttributeValue'));
    expect(() => unmarshallItem({ a: { X: 1 } })).toThrow(new SyntaxError('unknown DynamoDB attribute type X'));
    expect(() => unmarshallItem({ a: {} })).toThrow(new SyntaxError('a DynamoDB AttributeValue with no type'));
  });
});
