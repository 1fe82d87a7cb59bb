/**
 * What an S3 REST request does, in IAM's words (the actions of the Service Authorization
 * Reference for Amazon S3): path-style requests, as the local endpoint is addressed.
 */
import type { RequestedAccess } from './access.ts';

/**
 * The accesses of one request. A request the table does not know maps to `s3:Unknown…`, which
 * no policy grants, so a role cannot use an operation nobody checked (the administrator can).
 */
export function s3Accesses(
  method: string,
  path: string,
  query: Readonly<Record<string, string | string[]>>,
  headers: Readonly<Record<string, string | string[] | undefined>>,
): RequestedAccess[] {
  const [bucketSegment = '', ...keySegments] = path.replace(/^\//, '').split('/');
  const bucket = decode(bucketSegment);
  if (bucket === '') return [{ action: 's3:ListAllMyBuckets', resource: '*' }];
  const bucketArn = `arn:aws:s3:::${bucket}`;
  const key = keySegments.length > 0 ? decode(keySegments.join('/')) : '';
  const has = (name: string) => name in query;

  if (key === '') {
    const bucketAction = (() => {
      if (method === 'GET' || method === 'HEAD') {
        if (has('uploads')) return 's3:ListBucketMultipartUploads';
        if (has('versions')) return 's3:ListBucketVersions';
        if (has('location')) return 's3:GetBucketLocation';
        if (Object.keys(query).every((name) => LIST_PARAMETERS.has(name))) return 's3:ListBucket';
        return undefined;
      }
      if (method === 'POST' && has('delete')) return 's3:DeleteObject';
      if (method === 'PUT' && Object.keys(query).length === 0) return 's3:CreateBucket';
      if (method === 'DELETE' && Object.keys(query).length === 0) return 's3:DeleteBucket';
      return undefined;
    })();
    // Deleting several objects needs s3:DeleteObject on them; the keys are in the body, so the
    // check is on every object of the bucket (a role with a narrower grant is refused).
    const resource = bucketAction === 's3:DeleteObject' ? `${bucketArn}/*` : bucketArn;
    return [{ action: bucketAction ?? `s3:Unknown${method}Bucket`, resource }];
  }

  const objectArn = `${bucketArn}/${key}`;
  const action = (() => {
    if (has('tagging')) {
      return { GET: 's3:GetObjectTagging', PUT: 's3:PutObjectTagging' }[method];
    }
    if (has('acl')) return { GET: 's3:GetObjectAcl', PUT: 's3:PutObjectAcl' }[method];
    if (has('uploadId')) {
      return {
        GET: 's3:ListMultipartUploadParts',
        PUT: 's3:PutObject',
        POST: 's3:PutObject',
        DELETE: 's3:AbortMultipartUpload',
      }[method];
    }
    if (has('uploads')) return method === 'POST' ? 's3:PutObject' : undefined;
    return {
      GET: 's3:GetObject',
      HEAD: 's3:GetObject',
      PUT: 's3:PutObject',
      DELETE: 's3:DeleteObject',
    }[method];
  })();
  const accesses: RequestedAccess[] = [
    { action: action ?? `s3:Unknown${method}Object`, resource: objectArn },
  ];
  const copySource = headers['x-amz-copy-source'];
  if (method === 'PUT' && typeof copySource === 'string') {
    // A copy also reads its source: s3:GetObject on it.
    const source = decode(copySource.replace(/^\//, '').split('?')[0] as string);
    accesses.push({ action: 's3:GetObject', resource: `arn:aws:s3:::${source}` });
  }
  return accesses;
}

const LIST_PARAMETERS = new Set([
  'list-type',
  'prefix',
  'delimiter',
  'max-keys',
  'continuation-token',
  'start-after',
  'fetch-owner',
  'encoding-type',
  'marker',
  'x-id',
]);

function decode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}
