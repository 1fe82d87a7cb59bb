/**
 * Bundles one pipeline function with esbuild (`functionBuildOptions`): what PipelineFunction's
 * asset runs at synth, in a process of its own because CDK asks for the bundle synchronously and
 * esbuild runs plugins only in its asynchronous API.
 *
 *   node infra/bundle-function.ts <entry> <outfile> [external package …]
 */
import { build } from 'esbuild';
import { functionBuildOptions } from './constructs/bundling.ts';

const [entry, outfile, ...external] = process.argv.slice(2);
if (entry === undefined || outfile === undefined) {
  process.stderr.write('usage: node infra/bundle-function.ts <entry> <outfile> [external …]\n');
  process.exit(2);
}
try {
  await build(functionBuildOptions({ entry, outfile, external }));
} catch {
  // esbuild has printed its errors.
  process.exit(1);
}
