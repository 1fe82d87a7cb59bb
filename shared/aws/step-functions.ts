/** The Step Functions client of this process (see clients.ts). */
import { SFNClient } from '@aws-sdk/client-sfn';
import { once } from './once.ts';

export const stepFunctions = once(() => new SFNClient({}));
