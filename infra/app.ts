/**
 * The CDK app: one stack, checked by cdk-nag (AWS Solutions and Serverless packs) at synth time.
 * Every acknowledged finding carries its reason in `nag.ts`.
 */
import { App } from 'aws-cdk-lib';
import { loadStackConfig } from './config.ts';
import { applyNagChecks } from './nag.ts';
import { SparkT2iStack } from './stack.ts';

const app = new App();
const config = loadStackConfig((key) => app.node.tryGetContext(key));
const stack = new SparkT2iStack(app, 'SparkT2i', {
  config,
  description: 'spark-t2i: serverless text-to-image pipeline (Spark Text to Image 3.0)',
});
applyNagChecks(app, stack);
app.synth();
