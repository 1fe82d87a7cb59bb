/**
 * What the state machine routes on can reach it. Every name in a Retry or Catch of the synthesized
 * definition must be Step Functions' own (`States.*`), one the services raise for the state's
 * integration (the table in `infra/constructs/service-errors.ts`), or one the state's function
 * throws: then the function's bundle, built with the functions' own esbuild options, carries the
 * name as a string literal. A name no bundle carries is a Retry or Catch that never fires on AWS
 * (a minified class's name, a misspelling). docs/decisions.md D20.
 */
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App, Stack } from 'aws-cdk-lib';
import type { CfnFunction } from 'aws-cdk-lib/aws-lambda';
import { build } from 'esbuild';
import { beforeAll, describe, expect, it } from 'vitest';
import { type CfnTemplate, extractStateMachineDefinition } from '../../infra/asl.ts';
import { parseStackConfig } from '../../infra/config.ts';
import { functionBuildOptions } from '../../infra/constructs/bundling.ts';
import { PipelineFunction, PROJECT_ROOT } from '../../infra/constructs/pipeline-function.ts';
import { SERVICE_ERRORS, type ServiceErrorSource } from '../../infra/constructs/service-errors.ts';
import { StateNames } from '../../infra/constructs/workflow.ts';
import { SparkT2iStack } from '../../infra/stack.ts';
import type { AslDefinition, AslState } from '../helpers/stack.ts';

/** `arn:aws:lambda:<region>:<account>:function:<name>[:<qualifier>]`, or a bare name. */
const LAMBDA_FUNCTION = /^(?:arn:aws:lambda:[^:]+:[^:]+:function:)?([\w-]+)(?::[\w$-]+)?$/;

let asl: AslDefinition;
/** The stack's functions by logical id (what a Task's function name resolves to). */
const functions = new Map<string, PipelineFunction>();
/** The minified `index.mjs` of each function a Retry or Catch routes on our errors for. */
const bundles = new Map<string, string>();

/** Which integration a Task state calls: whose errors it can meet besides its function's. */
function integrationOf(state: AslState): ServiceErrorSource {
  const resource = state.Resource ?? '';
  if (resource.startsWith('arn:aws:lambda:') || resource.startsWith('arn:aws:states:::lambda:')) {
    return 'lambda';
  }
  if (resource.startsWith('arn:aws:states:::dynamodb:')) return 'dynamodb';
  if (resource.startsWith('arn:aws:states:::events:')) return 'eventbridge';
  throw new Error(`No service error table for the resource ${resource}`);
}

/** The logical id of a Lambda task's function: its `Parameters.FunctionName`, or its resource. */
function functionOf(state: AslState): string {
  const parameters = state.Parameters as { FunctionName?: unknown } | undefined;
  const name = String(parameters?.FunctionName ?? state.Resource);
  const logicalId = LAMBDA_FUNCTION.exec(name)?.[1];
  if (logicalId === undefined || !functions.has(logicalId)) {
    throw new Error(`${name} is not a function of the stack`);
  }
  return logicalId;
}

const routedNames = (state: AslState): string[] => [
  ...new Set(
    [...(state.Retry ?? []), ...(state.Catch ?? [])].flatMap((entry) => entry.ErrorEquals),
  ),
];

/** The names of a state that neither Step Functions nor a service raises: ours, to be carried. */
function ownNames(state: AslState): string[] {
  if (state.Type !== 'Task') return [];
  const raisedByServices = SERVICE_ERRORS[integrationOf(state)];
  return routedNames(state).filter(
    (name) => !name.startsWith('States.') && !raisedByServices.includes(name),
  );
}

/** Whether minified code carries a name as a string literal, in any of the three quotes. */
const carries = (code: string, name: string): boolean =>
  [`"${name}"`, `'${name}'`, `\`${name}\``].some((literal) => code.includes(literal));

async function bundle(fn: PipelineFunction): Promise<string> {
  const result = await build({
    ...functionBuildOptions({
      entry: join(PROJECT_ROOT, 'functions', fn.entryPoint, 'handler.ts'),
      outfile: join(tmpdir(), `spark-t2i-error-routing-${fn.entryPoint}`, 'index.mjs'),
      external: fn.sdkOnFirstUse,
    }),
    // Only read here: nothing is written to the outfile's folder.
    write: false,
  });
  const output = result.outputFiles.find((file) => file.path.endsWith('index.mjs'));
  if (output === undefined) throw new Error(`esbuild wrote no index.mjs for ${fn.entryPoint}`);
  return output.text;
}

beforeAll(async () => {
  // Synthesized without esbuild (the bundling-stacks context): the bundles are built below, once
  // for each function that needs one, in parallel.
  const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
  const stack = new SparkT2iStack(app, 'SparkT2i', { config: parseStackConfig({}) });
  const template = app.synth().getStackArtifact(stack.artifactId).template as CfnTemplate;
  asl = extractStateMachineDefinition(template) as unknown as AslDefinition;
  for (const node of stack.node.findAll()) {
    if (node instanceof PipelineFunction) {
      functions.set(Stack.of(node).getLogicalId(node.node.defaultChild as CfnFunction), node);
    }
  }
  const needed = new Set(
    Object.values(asl.States)
      .filter((state) => ownNames(state).length > 0)
      .map(functionOf),
  );
  await Promise.all(
    [...needed].map(async (logicalId) => {
      bundles.set(logicalId, await bundle(functions.get(logicalId) as PipelineFunction));
    }),
  );
});

describe('the error names the state machine routes on', () => {
  it('are checked for every state of the definition', () => {
    expect(Object.keys(asl.States).sort()).toEqual(Object.values(StateNames).sort());
  });

  it("include our own errors, carried by their functions' bundles", () => {
    expect(ownNames(asl.States[StateNames.copyImages] as AslState)).toEqual(
      expect.arrayContaining(['ImageDownloadError', 'ImageTruncatedError']),
    );
    expect(bundles.size).toBeGreaterThan(0);
  });

  it.each(Object.values(StateNames))(
    'reach %s: States.*, a service error of its integration, or a name its bundle carries',
    (name) => {
      const state = asl.States[name] as AslState;
      const own = ownNames(state);
      if (own.length === 0) return;
      const code = bundles.get(functionOf(state)) as string;

      expect(own.filter((errorName) => !carries(code, errorName))).toEqual([]);
    },
  );
});
