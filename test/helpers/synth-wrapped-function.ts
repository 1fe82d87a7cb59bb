/**
 * `node synth-wrapped-function.ts OUTDIR`: synthesizes one `PipelineFunction` with node arguments
 * (its asset bundled by the local esbuild, as `cdk synth` bundles it) into the assembly folder
 * OUTDIR and prints its environment variables as JSON. A script of its own so that a test can
 * start it under a umask of its choosing, which a process cannot change for one call.
 */
import { App, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { PipelineFunction } from '../../infra/constructs/pipeline-function.ts';

const [outdir] = process.argv.slice(2);
if (!outdir) throw new Error('usage: synth-wrapped-function.ts OUTDIR');
const app = new App({ outdir });
const stack = new Stack(app, 'Wrapped');
new PipelineFunction(stack, 'Wrapped', {
  entryPoint: 'copy-images',
  description: 'bundled with the wrapper',
  nodeArguments: ['--initial-old-space-size=64'],
});
app.synth();
const [fn] = Object.values(Template.fromStack(stack).findResources('AWS::Lambda::Function'));
process.stdout.write(JSON.stringify(fn?.Properties.Environment.Variables ?? {}));
