/**
 * Writes the concrete ASL of the synthesized state machine next to the template
 * (`cdk.out/SparkT2i.generation.asl.json`): the definition as deployed, for review and for tools
 * (ASL validators, the Step Functions visual editor). The local runtime does not read this file:
 * it synthesizes the same stack in memory, derives the same definition from the template, and
 * caches it in its data dir. Run after `cdk synth` (`npm run synth` does both).
 */
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { extractStateMachineDefinition } from './asl.ts';

const outdir = process.argv[2] ?? 'cdk.out';
const template = JSON.parse(await readFile(join(outdir, 'SparkT2i.template.json'), 'utf8'));
const definition = extractStateMachineDefinition(template);
const target = join(outdir, 'SparkT2i.generation.asl.json');
await writeFile(target, `${JSON.stringify(definition, null, 2)}\n`);
console.log(`wrote ${target}`);
