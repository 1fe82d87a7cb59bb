/**
 * The CDK app: one stack, checked by cdk-nag (AWS Solutions and Serverless packs) at synth time.
 * Every acknowledged finding carries its reason in `nag.ts`. The stack is `SparkT2i` unless the
 * `stackName` context key names another (a second stack in the same account and region).
 */
import { App } from 'aws-cdk-lib';
import { loadStackConfig, loadStackName } from './config.ts';
import { applyNagChecks } from './nag.ts';
import { SparkT2iStack } from './stack.ts';

const app = new App();
const config = loadStackConfig((key) => app.node.tryGetContext(key));
const stack = new SparkT2iStack(
  app,
  loadStackName((key) => app.node.tryGetContext(key)),
  {
    config,
    description: 'spark-t2i: serverless text-to-image pipeline (Spark Text to Image 3.0)',
  },
);
applyNagChecks(app, stack);
app.synth();
