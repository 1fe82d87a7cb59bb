/** Lambda's asynchronous invocation, as S3 notifications and EventBridge rules use it. */
import type { Invoker } from '#local/runtime/invoke-access.ts';

/** Lambda's asynchronous invocation: two retries, about one and two minutes apart (scaled). */
export async function invokeAsync(
  lambda: Invoker,
  functionArn: string,
  event: unknown,
  timeScale: number,
  log: (line: string) => void,
): Promise<void> {
  const delays = [60_000, 120_000];
  for (let attempt = 0; ; attempt++) {
    try {
      await lambda.invoke(functionArn, event);
      return;
    } catch (error) {
      const delay = delays[attempt];
      if (delay === undefined) {
        log(`asynchronous invocation failed for good: ${(error as Error).name}`);
        return;
      }
      await new Promise((resolve) => setTimeout(resolve, delay * timeScale));
    }
  }
}
