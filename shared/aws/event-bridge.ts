/** The EventBridge client of this process, traced (see clients.ts). */
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { tracer } from '../observability/powertools.ts';
import { once } from './once.ts';

export const eventBridge = once(() => tracer.captureAWSv3Client(new EventBridgeClient({})));
