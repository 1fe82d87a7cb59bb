/** The Step Functions client of this process, traced (see clients.ts). */
import { SFNClient } from '@aws-sdk/client-sfn';
import { traced } from '../observability/powertools.ts';
import { once } from './once.ts';

export const stepFunctions = once(() => traced(new SFNClient({})));
