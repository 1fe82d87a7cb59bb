/**
 * EventBridge PutEvents with the client and the command loaded on the first event, for functions
 * that publish on some invocations only (a cancel, a prompt file that ends as it is read). A
 * module of its own: a bundle carries every package a module imports dynamically (unless the
 * function lists it in `sdkOnFirstUse`), so this one imports EventBridge and nothing else.
 */
import type {
  EventBridgeClient,
  PutEventsCommandInput,
  PutEventsCommandOutput,
} from '@aws-sdk/client-eventbridge';
import { once } from './once.ts';

const client: () => Promise<EventBridgeClient> = /* @__PURE__ */ once(async () => {
  const { EventBridgeClient } = await import('@aws-sdk/client-eventbridge');
  return new EventBridgeClient({});
});

export async function putEventsOnFirstUse(
  input: PutEventsCommandInput,
): Promise<PutEventsCommandOutput> {
  const [eventBridge, { PutEventsCommand }] = await Promise.all([
    client(),
    import('@aws-sdk/client-eventbridge'),
  ]);
  return eventBridge.send(new PutEventsCommand(input));
}
