/** The EventBridge client of this process, traced (see clients.ts). */
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { traced } from '../observability/powertools.ts';
import { once } from './once.ts';

export const eventBridge = once(() => traced(new EventBridgeClient({})));
