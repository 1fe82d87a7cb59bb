/**
 * Writes the concrete ASL of the synthesized state machine next to the template
 * (`cdk.out/SparkT2i.generation.asl.json`), for the local runtime and for reading.
 * Run after `cdk synth` (`npm run synth` does both).
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
