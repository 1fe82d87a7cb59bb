/**
 * S3 event notifications as S3 sends them. S3 gives `s3.object.key` URL encoded (its
 * `s3UrlEncode`: `red flower.jpg` arrives as `red+flower.jpg`), and a consumer decodes it exactly
 * once (`decodeEventKey` in shared/prompt-files/keys.ts). s3rver puts the key in its event as it
 * is, which a function decoding it as it must on AWS then decodes a second time: `a+b.txt` was
 * read as `a b.txt` (an object that does not exist), and `..%2F` as `../` (another file's report).
 */
import { s3UrlEncode } from './s3-requests.ts';
import type { S3NotificationEvent } from './storage.ts';

export function asS3SendsIt(event: S3NotificationEvent): S3NotificationEvent {
  return {
    ...event,
    Records: event.Records.map((record) => {
      const s3 = record.s3 as { readonly object: { readonly key: string } };
      return {
        ...record,
        s3: { ...s3, object: { ...s3.object, key: s3UrlEncode(s3.object.key) } },
      };
    }),
  };
}
