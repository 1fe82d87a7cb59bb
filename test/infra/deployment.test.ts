/**
 * What the first deploy of the stack needs from an account, and what two stacks in one account
 * share: the template under the configurations that change it. Synthesized without bundling (the
 * bundling-stacks context) and without cdk-nag, which stack.test.ts runs over the default one.
 */
import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { parseStackConfig, type StackConfigInput } from '../../infra/config.ts';
import { SparkT2iStack } from '../../infra/stack.ts';

function templateOf(config: StackConfigInput = {}, stackName = 'SparkT2i'): Template {
  const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
  const stack = new SparkT2iStack(app, stackName, { config: parseStackConfig(config) });
  return Template.fromStack(stack);
}

/** Reserved concurrency of each function that has any, by the start of its logical id. */
function reservations(template: Template): Record<string, number> {
  return Object.fromEntries(
    Object.entries(template.findResources('AWS::Lambda::Function'))
      .filter(([, fn]) => fn.Properties.ReservedConcurrentExecutions !== undefined)
      .map(([id, fn]) => [
        id.replace(/[0-9A-F]{8}$/, ''),
        fn.Properties.ReservedConcurrentExecutions as number,
      ]),
  );
}

describe('reserved concurrency', () => {
  it('reserves 5 for the prompt-file function and 2 for the reconciler by default, nothing else', () => {
    expect(reservations(templateOf())).toEqual({
      TriggersPromptFile: 5,
      ReconcilerFunction: 2,
    });
  });

  it('reserves nothing when the config says 0, for accounts with a small concurrency quota', () => {
    expect(
      reservations(templateOf({ reservedConcurrency: { promptFile: 0, reconciler: 0 } })),
    ).toEqual({});
    expect(reservations(templateOf({ reservedConcurrency: { reconciler: 0 } }))).toEqual({
      TriggersPromptFile: 5,
    });
  });

  it('takes another reservation as configured', () => {
    expect(reservations(templateOf({ reservedConcurrency: { promptFile: 20 } }))).toEqual({
      TriggersPromptFile: 20,
      ReconcilerFunction: 2,
    });
  });
});
