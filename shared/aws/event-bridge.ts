/** The EventBridge client of this process (see clients.ts). */
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { once } from './once.ts';

export const eventBridge = once(() => new EventBridgeClient({}));
