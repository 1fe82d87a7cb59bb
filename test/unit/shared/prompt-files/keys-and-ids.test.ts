import { describe, expect, it } from 'vitest';
import { generationIdSchema } from '#shared/generation/model.ts';
import { promptLineId } from '#shared/prompt-files/ids.ts';
import {
  decodeEventKey,
  formatOf,
  ignoreReason,
  ownerOf,
  reportKeyOf,
} from '#shared/prompt-files/keys.ts';

describe('formatOf', () => {
  it.each([
    ['prompts/a.txt', 'txt'],
    ['prompts/alice/batch.JSONL', 'jsonl'],
    ['prompts/alice/batch.Json', 'json'],
    ['prompts/archive.v2.txt', 'txt'],
    ['prompts/a.csv', undefined],
    ['prompts/README', undefined],
    ['prompts/a.json.gz', undefined],
    ['prompts/dir.txt/file', undefined],
  ])('reads the format of %s as %s', (key, format) => {
    expect(formatOf(key)).toBe(format);
  });
});

describe('ownerOf', () => {
  it('gives a file directly under prompts/ to the default owner', () => {
    expect(ownerOf('prompts/x.txt', 'default')).toEqual({ ok: true, owner: 'default' });
  });

  it('gives a file under prompts/<owner>/ to that owner, however deep', () => {
    expect(ownerOf('prompts/alice/2025/x.txt', 'default')).toEqual({ ok: true, owner: 'alice' });
  });

  it.each(['Alice', 'al ice', '', '-alice', 'a'.repeat(64), 'alice.smith'])(
    'refuses the folder "%s" as an owner',
    (folder) => {
      expect(ownerOf(`prompts/${folder}/x.txt`, 'default')).toEqual({ ok: false, folder });
    },
  );
});

describe('ignoreReason', () => {
  it.each([
    ['reports/prompts/alice/x.txt.json', 'report'],
    ['reports/x.txt', 'report'],
    ['other/x.txt', 'outside-prompts'],
    ['prompts/alice/', 'folder'],
    ['prompts/alice/x.txt', undefined],
  ])('answers %s with %s', (key, reason) => {
    expect(ignoreReason(key)).toBe(reason);
  });
});

describe('reportKeyOf', () => {
  it('puts the report at reports/<key>.json', () => {
    expect(reportKeyOf('prompts/alice/x.jsonl')).toBe('reports/prompts/alice/x.jsonl.json');
  });

  it('hashes a key too long for S3 once prefixed', () => {
    const key = `prompts/${'k'.repeat(1010)}.txt`;

    expect(reportKeyOf(key)).toMatch(/^reports\/long-keys\/[0-9a-f]{64}\.json$/);
  });
});

describe('decodeEventKey', () => {
  it('decodes the URL encoding S3 notifications use', () => {
    expect(decodeEventKey('prompts/alice/my+file%282%29+%E7%81%AF.txt')).toBe(
      'prompts/alice/my file(2) 灯.txt',
    );
  });

  it('keeps a key it cannot decode as it is', () => {
    expect(decodeEventKey('prompts/100%.txt')).toBe('prompts/100%.txt');
  });
});

describe('promptLineId', () => {
  const file = { bucket: 'b', key: 'prompts/x.txt', versionId: 'v1', etag: '"e1"' };

  it('is the same for the same file version and line', () => {
    expect(promptLineId(file, 3)).toBe(promptLineId({ ...file }, 3));
  });

  it('is a valid execution name: f_ and 40 hex digits', () => {
    const id = promptLineId(file, 1);

    expect(id).toMatch(/^f_[0-9a-f]{40}$/);
    expect(generationIdSchema.safeParse(id).success).toBe(true);
  });

  it.each([
    ['bucket', { ...file, bucket: 'c' }, 1],
    ['key', { ...file, key: 'prompts/y.txt' }, 1],
    ['version', { ...file, versionId: 'v2' }, 1],
    ['line', file, 2],
  ])('changes with the %s', (_part, other, line) => {
    expect(promptLineId(other, line)).not.toBe(promptLineId(file, 1));
  });

  it('uses the ETag, quotes ignored, when the bucket is not versioned', () => {
    const unversioned = { bucket: 'b', key: 'k', etag: '"abc"' };

    expect(promptLineId(unversioned, 1)).toBe(promptLineId({ ...unversioned, etag: 'abc' }, 1));
    expect(promptLineId(unversioned, 1)).toBe(
      promptLineId({ ...unversioned, versionId: 'null' }, 1),
    );
    expect(promptLineId(unversioned, 1)).not.toBe(
      promptLineId({ ...unversioned, etag: '"abd"' }, 1),
    );
  });

  it('does not depend on the ETag when there is a version id', () => {
    expect(promptLineId(file, 1)).toBe(promptLineId({ ...file, etag: '"other"' }, 1));
  });
});
