/** The Step Functions client of this process, traced (see clients.ts). */
import { SFNClient } from '@aws-sdk/client-sfn';
import { tracer } from '../observability/powertools.ts';
import { once } from './once.ts';

export const stepFunctions = once(() => tracer.captureAWSv3Client(new SFNClient({})));
