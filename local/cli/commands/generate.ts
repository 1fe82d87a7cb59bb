import { mkdir, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { validateGenerationRequest } from '../../../shared/request/schema.ts';
import { integerOption, UsageError } from '../args.ts';
import { type Generation, TERMINAL } from '../client/api-client.ts';
import { resolveTarget, TARGET_OPTIONS, TARGET_USAGE } from '../client/target.ts';
import type { Command } from '../main.ts';

const usage = `Usage: spark-t2i generate "<prompt>" [options]

Runs one generation to its end, saves its images and prints its record. Uses the local runtime
serving the data dir, starts one in this process when none does, or calls a deployed API.

Options:
  --width N --height N   image size (default 1328 x 1328)
  --seed N               -1 for random (default), or 1-2147483647 for a reproducible image
  --no-pre-llm           do not let the provider expand the prompt
  --out DIR              where images are saved (default .)
  --timeout-s N          give up waiting after N seconds (default 600)
${TARGET_USAGE}
  -h, --help             show this help

Exit code: 0 completed, 1 failed or cancelled, 2 bad input.`;

export const generateCommand: Command = {
  name: 'generate',
  summary: 'run one generation and save its images',
  usage,
  async run(argv) {
    const { values, positionals } = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: true,
      options: {
        width: { type: 'string' },
        height: { type: 'string' },
        seed: { type: 'string' },
        'no-pre-llm': { type: 'boolean', default: false },
        out: { type: 'string', default: '.' },
        'timeout-s': { type: 'string' },
        ...TARGET_OPTIONS,
      },
    });
    if (positionals.length !== 1) throw new UsageError('give exactly one prompt, in quotes');
    const request = {
      prompt: positionals[0],
      ...(values.width !== undefined && { width: Number(values.width) }),
      ...(values.height !== undefined && { height: Number(values.height) }),
      ...(values.seed !== undefined && { seed: Number(values.seed) }),
      ...(values['no-pre-llm'] && { use_pre_llm: false }),
    };
    const checked = validateGenerationRequest(request);
    if (!checked.ok) throw new UsageError(`${checked.error.code} ${checked.error.message}`);
    const timeoutMs = integerOption('timeout-s', values['timeout-s'], 600, { min: 1 }) * 1000;
    const target = await resolveTarget({
      api: values.api,
      key: values.key,
      dataDir: values['data-dir'],
      startIfNeeded: true,
      log: (line) => process.stderr.write(`${line}\n`),
    });
    try {
      const accepted = await target.client.submit(
        checked.request as unknown as Record<string, unknown>,
      );
      for (const warning of accepted.warnings ?? [])
        process.stderr.write(`warning ${warning.code}: ${warning.message}\n`);
      const record = await follow(target.client.get.bind(target.client), accepted.id, timeoutMs);
      const saved = await saveImages(record, resolve(values.out));
      for (const path of saved) console.log(path);
      console.log(JSON.stringify(record, null, 2));
      if (record.status === 'completed') return 0;
      process.stderr.write(
        `generation ${record.status}: ${record.error?.code} ${record.error?.message}\n`,
      );
      return 1;
    } finally {
      await target.close();
    }
  },
};

/** Polls until terminal, showing the status and elapsed time on one stderr line. */
export async function follow(
  get: (id: string) => Promise<Generation>,
  id: string,
  timeoutMs: number,
): Promise<Generation> {
  const started = Date.now();
  const tty = process.stderr.isTTY;
  for (;;) {
    const record = await get(id);
    const line = `${id} ${record.status} ${((Date.now() - started) / 1000).toFixed(1)} s`;
    if (tty) process.stderr.write(`\r${line}   `);
    if (TERMINAL.has(record.status)) {
      process.stderr.write(tty ? '\n' : `${line}\n`);
      return record;
    }
    if (Date.now() - started > timeoutMs)
      throw new Error(`${id} still ${record.status} after ${timeoutMs / 1000} s`);
    await new Promise((done) => setTimeout(done, 500));
  }
}

async function saveImages(record: Generation, outDir: string): Promise<string[]> {
  if (record.images.length === 0) return [];
  await mkdir(outDir, { recursive: true });
  const paths: string[] = [];
  for (const [index, image] of record.images.entries()) {
    const response = await fetch(image.url);
    if (!response.ok)
      throw new Error(`downloading image ${index} answered HTTP ${response.status}`);
    const extension =
      image.contentType === 'image/jpeg' ? 'jpg' : (image.contentType.split('/')[1] ?? 'png');
    const path = join(outDir, `${record.id}-${index}.${extension}`);
    await writeFile(path, Buffer.from(await response.arrayBuffer()));
    paths.push(path);
  }
  return paths;
}
