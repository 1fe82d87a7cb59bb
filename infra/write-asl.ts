/**
 * Writes the concrete ASL of the synthesized state machine next to the template
 * (`cdk.out/<stack>.generation.asl.json`, e.g. `SparkT2i.generation.asl.json`): the definition as deployed, for review and for tools
 * (ASL validators, the Step Functions visual editor). The local runtime does not read this file:
 * it synthesizes the same stack in memory, derives the same definition from the template, and
 * caches it in its data dir. Run after `cdk synth` (`npm run synth` does both).
 */
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { extractStateMachineDefinition } from './asl.ts';

const outdir = process.argv[2] ?? 'cdk.out';
// The app's one stack, whatever its name (`-c stackName=…`).
const templates = (await readdir(outdir)).filter((file) => file.endsWith('.template.json'));
for (const file of templates) {
  const template = JSON.parse(await readFile(join(outdir, file), 'utf8'));
  const definition = extractStateMachineDefinition(template);
  const target = join(outdir, file.replace(/\.template\.json$/, '.generation.asl.json'));
  await writeFile(target, `${JSON.stringify(definition, null, 2)}\n`);
  console.log(`wrote ${target}`);
}
