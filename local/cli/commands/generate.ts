import { createHash, randomUUID } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import { defineCommand, integerOption, UsageError } from '#local/cli/args.ts';
import {
  type ApiClient,
  type Generation,
  isTerminalStatus,
  isTransient,
} from '#local/cli/client/api-client.ts';
import { interruptExitCode, trapInterrupt } from '#local/cli/client/interrupt.ts';
import {
  formatElapsed,
  joinNegativeNumbers,
  numberish,
  StatusLine,
} from '#local/cli/client/output.ts';
import { PollTimeoutError, pollUntil, retrying } from '#local/cli/client/poll.ts';
import {
  resolveTargetTelling,
  TARGET_OPTIONS,
  TARGET_USAGE,
  type Target,
} from '#local/cli/client/target.ts';
import { validateGenerationRequest } from '#shared/request/schema.ts';

const usage = `Usage: spark-t2i generate "<prompt>" [options]

Runs one generation to its end, saves its images and prints its record. The request is checked
first, with the provider's rules. It goes to --api when given, else to the local runtime serving
the data dir, else to a local runtime started in this process for the run.

Options:
  --width N --height N   image size, given together (default 1328 x 1328)
  --seed N               -1 for random (default), or 1-2147483647 for a reproducible image
  --no-pre-llm           do not let the provider rewrite the prompt (use_pre_llm false)
  --out DIR              where images are saved, as <id>-<n>.png (default .)
  --timeout-s N          stop waiting after N seconds (default 600; the generation goes on)
${TARGET_USAGE}
  -h, --help             show this help

Prints the saved paths, then the record as JSON, on stdout; progress goes to stderr.
Exit code: 0 completed, 1 failed or cancelled (its code is printed), 2 bad input, 130 Ctrl-C.`;

const POLL_INTERVAL_MS = 500;

export const generateCommand = defineCommand({
  name: 'generate',
  summary: 'run one generation and save its images',
  usage,
  options: {
    width: { type: 'string' },
    height: { type: 'string' },
    seed: { type: 'string' },
    'no-pre-llm': { type: 'boolean', default: false },
    out: { type: 'string', default: '.' },
    'timeout-s': { type: 'string' },
    ...TARGET_OPTIONS,
  },
  prepare: (argv) => joinNegativeNumbers(argv, ['seed', 'width', 'height']),
  async run({ values, positionals }) {
    if (positionals.length === 0) throw new UsageError('give the prompt, in quotes');
    if (positionals.length > 1) {
      throw new UsageError(
        `give the prompt as one argument, in quotes (got ${positionals.length} words)`,
      );
    }
    const request: Record<string, unknown> = {
      prompt: positionals[0],
      ...(values.width !== undefined && { width: numberish(values.width) }),
      ...(values.height !== undefined && { height: numberish(values.height) }),
      ...(values.seed !== undefined && { seed: numberish(values.seed) }),
      ...(values['no-pre-llm'] && { use_pre_llm: false }),
    };
    const checked = validateGenerationRequest(request);
    if (!checked.ok) {
      console.error(`spark-t2i generate: ${checked.error.code} ${checked.error.message}`);
      return 2;
    }
    const timeoutMs = integerOption('timeout-s', values['timeout-s'], 600, { min: 1 }) * 1000;
    const outDir = resolve(values.out);

    const interrupt = trapInterrupt();
    const progress = new StatusLine();
    let target: Target | undefined;
    let id: string | undefined;
    try {
      target = await resolveTargetTelling(values, true);
      interrupt.check();
      // The same Idempotency-Key on every attempt: a retried submission never makes a second
      // generation (docs/openapi.json).
      const idempotencyKey = randomUUID();
      const client = target.client;
      const accepted = await retrying(
        () => client.submit(request, { signal: interrupt.signal, idempotencyKey }),
        {
          attempts: 4,
          delayMs: 500,
          retryable: isTransient,
          signal: interrupt.signal,
          onRetry: (error) =>
            process.stderr.write(`retrying the submission: ${(error as Error).message}\n`),
        },
      );
      id = accepted.id;
      for (const warning of accepted.warnings ?? checked.warnings) {
        process.stderr.write(`warning ${warning.code}: ${warning.message}\n`);
      }
      const record = await follow(target.client, accepted.id, {
        timeoutMs,
        signal: interrupt.signal,
        progress,
      });
      let saved: string[];
      try {
        saved = await saveImages(record, outDir, interrupt.signal);
      } catch (error) {
        if (interruptExitCode(error, interrupt.signal) !== undefined) throw error;
        console.log(JSON.stringify(record, null, 2));
        console.error(`spark-t2i generate: ${(error as Error).message}`);
        return 1;
      }
      // stdout is the record alone (for scripts: `| jq`); where the images went is progress.
      for (const path of saved) process.stderr.write(`saved ${path}\n`);
      console.log(JSON.stringify(record, null, 2));
      if (record.status === 'completed') return 0;
      console.error(
        `spark-t2i generate: generation ${record.id} ${record.status}: ${record.error?.code ?? '-'} ${record.error?.message ?? '(no error recorded)'}`,
      );
      return 1;
    } catch (error) {
      const exitCode = interruptExitCode(error, interrupt.signal);
      if (exitCode !== undefined) {
        progress.done();
        console.error(
          id === undefined
            ? 'spark-t2i generate: interrupted'
            : `spark-t2i generate: interrupted; generation ${id} goes on${target?.kind === 'in-process' ? ' when the local runtime runs again' : ''} (spark-t2i status ${id})`,
        );
        return exitCode;
      }
      if (error instanceof PollTimeoutError && id !== undefined) {
        progress.done();
        console.error(
          `spark-t2i generate: generation ${id} not finished after ${timeoutMs / 1000} s; it goes on (spark-t2i status ${id})`,
        );
        return 1;
      }
      throw error;
    } finally {
      if (interrupt.signal.aborted && target?.kind === 'in-process') {
        process.stderr.write('stopping the local runtime…\n');
      }
      await target?.close();
      interrupt.dispose();
    }
  },
});

/** Polls a generation until it is terminal, showing its status and elapsed time on stderr. */
export async function follow(
  client: ApiClient,
  id: string,
  options: { timeoutMs: number; signal?: AbortSignal; progress?: StatusLine; intervalMs?: number },
): Promise<Generation> {
  const line = (record: Generation, elapsedMs: number) =>
    `generation ${id} ${record.status} ${formatElapsed(elapsedMs)}`;
  let last: { record: Generation; elapsed: number } | undefined;
  // A blip (a 5xx, a dropped connection) does not end the wait; several in a row do.
  const read = () =>
    retrying(() => client.get(id, options.signal), {
      attempts: 6,
      delayMs: 500,
      retryable: isTransient,
      ...(options.signal && { signal: options.signal }),
    });
  const record = await pollUntil(read, (value) => isTerminalStatus(value.status), {
    intervalMs: options.intervalMs ?? POLL_INTERVAL_MS,
    timeoutMs: options.timeoutMs,
    ...(options.signal && { signal: options.signal }),
    onValue: (value, elapsed) => {
      last = { record: value, elapsed };
      options.progress?.update(line(value, elapsed), value.status);
    },
  });
  options.progress?.done(last && line(last.record, last.elapsed));
  return record;
}

const EXTENSIONS: Record<string, string> = {
  'image/png': 'png',
  'image/jpeg': 'jpg',
  'image/jpg': 'jpg',
  'image/webp': 'webp',
  'image/gif': 'gif',
};

/** `png` for image/png and so on; by content type, never by what the URL says. */
export function extensionOf(contentType: string | null | undefined): string {
  const type = (contentType ?? '').split(';')[0]?.trim().toLowerCase() ?? '';
  return EXTENSIONS[type] ?? 'bin';
}

/**
 * Downloads every image's pre-signed URL into `outDir` as `<id>-<n>.<ext>`, streaming, and
 * checks the bytes against the record's size and sha256.
 */
export async function saveImages(
  record: Generation,
  outDir: string,
  signal?: AbortSignal,
): Promise<string[]> {
  if (record.images.length === 0) return [];
  await mkdir(outDir, { recursive: true });
  const paths: string[] = [];
  for (const [index, image] of record.images.entries()) {
    let response: Response;
    try {
      response = await fetch(image.url, signal ? { signal } : {});
    } catch (error) {
      if (signal?.aborted) throw signal.reason;
      throw new Error(`downloading image ${index} failed: ${(error as Error).message}`);
    }
    if (!response.ok || response.body === null) {
      await response.body?.cancel();
      throw new Error(
        `downloading image ${index} answered HTTP ${response.status}${response.status === 403 ? ' (its URL may have expired: run "spark-t2i status" for fresh ones)' : ''}`,
      );
    }
    const extension = extensionOf(image.contentType || response.headers.get('content-type'));
    const path = join(outDir, `${record.id}-${index}.${extension}`);
    const hash = createHash('sha256');
    let size = 0;
    const measure = new Transform({
      transform(chunk: Buffer, _encoding, callback) {
        hash.update(chunk);
        size += chunk.length;
        callback(null, chunk);
      },
    });
    try {
      await pipeline(
        Readable.fromWeb(response.body as WebReadableStream<Uint8Array>),
        measure,
        createWriteStream(path),
        ...(signal ? [{ signal }] : []),
      );
    } catch (error) {
      await rm(path, { force: true });
      if (signal?.aborted) throw signal.reason;
      throw new Error(`downloading image ${index} failed: ${(error as Error).message}`);
    }
    const sha256 = hash.digest('hex');
    if ((image.size && size !== image.size) || (image.sha256 && sha256 !== image.sha256)) {
      await rm(path, { force: true });
      throw new Error(
        `image ${index} came back altered (${size} bytes, sha256 ${sha256}; the record says ${image.size} bytes, ${image.sha256})`,
      );
    }
    paths.push(path);
  }
  return paths;
}
