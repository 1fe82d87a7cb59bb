/** The S3 client of this process (see clients.ts). */
import { S3Client } from '@aws-sdk/client-s3';
import { once } from './once.ts';
import { s3ClientConfig } from './s3-config.ts';

export const s3 = once(() => new S3Client(s3ClientConfig()));
