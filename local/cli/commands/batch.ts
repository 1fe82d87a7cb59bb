import { readFile } from 'node:fs/promises';
import { basename } from 'node:path';
import { parseArgs } from 'node:util';
import { GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { SingleBar } from 'cli-progress';
import { UsageError } from '../args.ts';
import { type ApiClient, TERMINAL } from '../client/api-client.ts';
import { resolveTarget, TARGET_OPTIONS, TARGET_USAGE } from '../client/target.ts';
import type { Command } from '../main.ts';

const usage = `Usage: spark-t2i batch FILE [options]

Uploads a prompt file (.txt, .jsonl or .json) to the input bucket under prompts/, waits for its
report, then follows every accepted line to its end with a progress bar, and prints the summary
and each rejected line's code.

Options:
  --owner NAME           upload under prompts/NAME/ (default: directly under prompts/, the
                         default owner's)
  --bucket NAME          the deployed input bucket (with --api; AWS default credentials)
  --timeout-s N          give up after N seconds (default 3600)
${TARGET_USAGE}
  -h, --help             show this help

Exit code: 0 when every line completed, 1 otherwise.`;

interface Report {
  readonly summary: { lines: number; accepted: number; rejected: number; skipped: number };
  readonly lines: ReadonlyArray<{
    line: number;
    id?: string;
    error?: { code: string; message: string };
  }>;
  readonly error?: { code: string; message: string };
}

export const batchCommand: Command = {
  name: 'batch',
  summary: 'upload a prompt file and follow it to the end',
  usage,
  async run(argv) {
    const { values, positionals } = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: true,
      options: {
        owner: { type: 'string' },
        bucket: { type: 'string' },
        'timeout-s': { type: 'string' },
        ...TARGET_OPTIONS,
      },
    });
    const [file] = positionals;
    if (!file || positionals.length !== 1) throw new UsageError('give one prompt file');
    if (values.api && !values.bucket)
      throw new UsageError("--api needs --bucket (the stack's InputBucketName)");
    const deadline = Date.now() + Number(values['timeout-s'] ?? 3600) * 1000;
    const target = await resolveTarget({
      api: values.api,
      key: values.key,
      dataDir: values['data-dir'],
    });
    const { s3, bucket } = storageOf(target.local?.endpoints, values.bucket);
    const key = `prompts/${values.owner ? `${values.owner}/` : ''}${basename(file)}`;
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: await readFile(file) }));
    process.stderr.write(`uploaded s3://${bucket}/${key}\n`);
    const reportKey = `reports/${key}.json`;
    const report = await waitForReport(s3, bucket, reportKey, deadline);
    if (report.error)
      process.stderr.write(`file error ${report.error.code}: ${report.error.message}\n`);
    const ids = report.lines.flatMap((line) => (line.id ? [line.id] : []));
    const outcome = await followAll(target.client, ids, deadline);
    console.log(`report s3://${bucket}/${reportKey}`);
    console.log(
      `lines ${report.summary.lines}: accepted ${report.summary.accepted}, rejected ${report.summary.rejected}, skipped ${report.summary.skipped}`,
    );
    console.log(
      `completed ${outcome.completed}, failed ${outcome.failed}, cancelled ${outcome.cancelled}`,
    );
    for (const line of report.lines) {
      if (line.error) console.log(`line ${line.line}: ${line.error.code} ${line.error.message}`);
    }
    await target.close();
    return report.error === undefined &&
      report.summary.rejected === 0 &&
      outcome.completed === ids.length
      ? 0
      : 1;
  },
};

function storageOf(
  endpoints: { s3: Record<string, string> } | undefined,
  deployedBucket: string | undefined,
) {
  if (deployedBucket) return { s3: new S3Client({}), bucket: deployedBucket };
  if (!endpoints) throw new Error('no input bucket: pass --bucket with --api');
  const s3 = new S3Client({
    endpoint: endpoints.s3.endpoint,
    region: endpoints.s3.region,
    credentials: {
      accessKeyId: endpoints.s3.accessKeyId as string,
      secretAccessKey: endpoints.s3.secretAccessKey as string,
    },
    forcePathStyle: true,
    // The local S3 server stores aws-chunked framing verbatim unless checksums are off.
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });
  return { s3, bucket: endpoints.s3.inputBucket as string };
}

async function waitForReport(
  s3: S3Client,
  bucket: string,
  key: string,
  deadline: number,
): Promise<Report> {
  while (Date.now() < deadline) {
    try {
      const object = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
      return JSON.parse(
        await (object.Body as { transformToString(): Promise<string> }).transformToString(),
      ) as Report;
    } catch (error) {
      if ((error as Error).name !== 'NoSuchKey') throw error;
    }
    await new Promise((done) => setTimeout(done, 500));
  }
  throw new Error(`no report at ${key} yet`);
}

/** Follows every id to a terminal status, 16 requests at a time, with a progress bar. */
async function followAll(client: ApiClient, ids: readonly string[], deadline: number) {
  const status = new Map<string, string>(ids.map((id) => [id, 'queued']));
  const bar = new SingleBar({
    format:
      ' {bar} {value}/{total} | completed {completed} failed {failed} running {running} queued {queued} | ETA {eta_formatted}',
    stream: process.stderr,
    hideCursor: true,
  });
  const counts = () => {
    const tally = { completed: 0, failed: 0, cancelled: 0, running: 0, queued: 0 };
    for (const value of status.values()) tally[value as keyof typeof tally]++;
    return tally;
  };
  bar.start(ids.length, 0, counts());
  while (Date.now() < deadline) {
    const open = ids.filter((id) => !TERMINAL.has(status.get(id) as string));
    if (open.length === 0) break;
    for (let start = 0; start < open.length; start += 16) {
      await Promise.all(
        open.slice(start, start + 16).map(async (id) => {
          status.set(id, (await client.get(id)).status);
        }),
      );
    }
    const tally = counts();
    bar.update(tally.completed + tally.failed + tally.cancelled, tally);
    await new Promise((done) => setTimeout(done, 1000));
  }
  bar.stop();
  return counts();
}
