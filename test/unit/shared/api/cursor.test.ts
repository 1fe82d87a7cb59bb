import '../../functions/api/env.ts';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CursorCodec } from '#shared/api/cursor.ts';

const codec = new CursorCodec('a-test-secret-that-is-long-enough-for-32');
const owners = fc.stringMatching(/^[a-z0-9][a-z0-9_-]{0,20}$/);
const keys = fc.dictionary(
  fc.constantFrom('id', 'owner', 'ownerStatus', 'createdAt'),
  fc.string(),
  {
    minKeys: 1,
  },
);

describe('CursorCodec', () => {
  it('gives back the key it encoded, for the same owner and scope', () => {
    fc.assert(
      fc.property(owners, fc.string(), keys, (owner, scope, key) => {
        // Act
        const decoded = codec.decode(owner, scope, codec.encode(owner, scope, key));

        // Assess
        expect(decoded).toEqual(key);
      }),
    );
  });

  it('refuses a cursor with any one character changed', () => {
    fc.assert(
      fc.property(
        keys,
        fc.nat(),
        fc.constantFrom('A', 'b', '-', '_', '.', '0'),
        (key, at, replacement) => {
          // Prepare
          const cursor = codec.encode('alice', '*', key);
          const index = at % cursor.length;
          fc.pre(cursor[index] !== replacement);
          const changed = `${cursor.slice(0, index)}${replacement}${cursor.slice(index + 1)}`;

          // Act
          const decoded = codec.decode('alice', '*', changed);

          // Assess: a changed base64url tail bit may decode to the same bytes, never to other ones.
          if (decoded !== undefined) expect(decoded).toEqual(key);
        },
      ),
    );
  });

  it('refuses a cursor for another owner or another scope', () => {
    // Prepare
    const cursor = codec.encode('alice', 'running', {
      id: 'g',
      ownerStatus: 'alice#running',
      createdAt: 't',
    });

    // Act
    const otherOwner = codec.decode('bob', 'running', cursor);
    const otherScope = codec.decode('alice', '*', cursor);

    // Assess
    expect(otherOwner).toBeUndefined();
    expect(otherScope).toBeUndefined();
  });

  it('refuses a cursor signed with another secret', () => {
    // Prepare
    const cursor = new CursorCodec('another-secret-that-is-long-enough-too').encode('alice', '*', {
      id: 'g',
    });

    // Act
    const decoded = codec.decode('alice', '*', cursor);

    // Assess
    expect(decoded).toBeUndefined();
  });

  it('never throws on arbitrary input', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 3000 }), (cursor) => {
        // Act
        const decoded = codec.decode('alice', '*', cursor);

        // Assess
        expect(decoded).toBeUndefined();
      }),
    );
  });

  it.each(['', 'short', 'x'.repeat(31)])(
    'refuses a secret shorter than 32 characters (%j)',
    (secret) => {
      // Act, Assess
      expect(() => new CursorCodec(secret)).toThrow(RangeError);
    },
  );
});
