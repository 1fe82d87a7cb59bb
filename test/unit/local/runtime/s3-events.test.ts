/**
 * The local S3 event carries the key as S3 sends it: URL-encoded as a form is (a space as `+`,
 * slashes as they are), so the function's one decoding gives the key back.
 */
import { describe, expect, it } from 'vitest';
import { decodeEventKey } from '#shared/prompt-files/keys.ts';
import { asS3SendsIt } from '../../../../local/runtime/s3-events.ts';

const recordOf = (key: string) => ({
  eventName: 'ObjectCreated:Put',
  s3: { bucket: { name: 'input' }, object: { key, size: 1 } },
});
function sentKey(key: string): string {
  const [record] = asS3SendsIt({ Records: [recordOf(key)] }).Records;
  return (record?.s3 as { object: { key: string } } | undefined)?.object.key ?? '';
}

describe('the local S3 event', () => {
  it.each([
    // S3's own documented examples.
    ['red flower.jpg', 'red+flower.jpg'],
    ['test_file(3).png', 'test_file%283%29.png'],
    ['prompts/alice/a+b.txt', 'prompts/alice/a%2Bb.txt'],
    ['prompts/..%2fx.txt', 'prompts/..%252fx.txt'],
    ['prompts/100%.txt', 'prompts/100%25.txt'],
    ['prompts/灯 😀.txt', 'prompts/%E7%81%AF+%F0%9F%98%80.txt'],
    ["a*b-c_d.e~f!g'h", 'a*b-c_d.e%7Ef%21g%27h'],
  ])('sends %j as %j, which decodes once to the key', (key, sent) => {
    expect(sentKey(key)).toBe(sent);
    expect(decodeEventKey(sent)).toBe(key);
  });

  it('keeps the rest of the record as it was', () => {
    const record = recordOf('a b');
    const [sent] = asS3SendsIt({ Records: [record] }).Records;
    expect(sent).toEqual({ ...record, s3: { ...record.s3, object: { key: 'a+b', size: 1 } } });
  });
});
