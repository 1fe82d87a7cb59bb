import { readFile, stat } from 'node:fs/promises';
import { basename } from 'node:path';
import { GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { SingleBar } from 'cli-progress';
import { defineCommand, integerOption, onePositional, UsageError } from '#local/cli/args.ts';
import {
  type ApiClient,
  ApiError,
  type Generation,
  isTerminalStatus,
} from '#local/cli/client/api-client.ts';
import { interruptExitCode, trapInterrupt } from '#local/cli/client/interrupt.ts';
import { formatElapsed } from '#local/cli/client/output.ts';
import { mapWithConcurrency, sleep } from '#local/cli/client/poll.ts';
import {
  ENV_API_URL,
  type LocalEndpoints,
  resolveTargetTelling,
  TARGET_OPTIONS,
  TARGET_USAGE,
  type Target,
} from '#local/cli/client/target.ts';
import { ownerSchema } from '#shared/generation/model.ts';
import { formatOf, reportKeyOf } from '#shared/prompt-files/keys.ts';
import type { PromptFileReport } from '#shared/prompt-files/report.ts';

const usage = `Usage: spark-t2i batch FILE [options]

Uploads a prompt file (.txt, .jsonl or .json) to the input bucket under prompts/, waits for its
report (reports/<key>.json), follows every accepted line's generation to its end with a progress
bar, then prints the report (its JSON, on stdout) and, on stderr, its path, the summary, each
rejected line's code and message and each generation that did not complete.

Locally it uses the runtime serving the data dir (or starts one in this process); deployed, give
--api, --key and --bucket (the stack's InputBucketName; AWS credentials from the default chain).

Options:
  --owner NAME           upload under prompts/NAME/ so the generations are NAME's (default:
                         directly under prompts/, the default owner's: "local" locally); follow
                         them with a key of that owner (--key)
  --bucket NAME          the deployed input bucket (with --api)
  --region R             its region (default: the AWS default chain's)
  --concurrency N        status requests in flight at once (default 16)
  --report-timeout-s N   stop waiting for the report after N seconds (default 300)
  --timeout-s N          stop following after N seconds (default: no limit; they go on)
${TARGET_USAGE}
  -h, --help             show this help

Exit code: 0 when every line completed; 1 otherwise (rejected, failed or cancelled lines, or a
file-level error); 130 on Ctrl-C (the generations go on).`;

const FOLLOW_INTERVAL_MS = 1000;
const REPORT_INTERVAL_MS = 500;
/** An id the report lists may not be recorded yet (its workflow writes it); past this, it is lost. */
const UNKNOWN_ID_GRACE_MS = 60_000;

const CONTENT_TYPES: Record<string, string> = {
  txt: 'text/plain; charset=utf-8',
  jsonl: 'application/x-ndjson',
  json: 'application/json',
};

export const batchCommand = defineCommand({
  name: 'batch',
  summary: 'upload a prompt file and follow it to the end',
  usage,
  options: {
    owner: { type: 'string' },
    bucket: { type: 'string' },
    region: { type: 'string' },
    concurrency: { type: 'string' },
    'report-timeout-s': { type: 'string' },
    'timeout-s': { type: 'string' },
    ...TARGET_OPTIONS,
  },
  async run({ values, positionals }) {
    const file = onePositional(positionals, 'prompt file');
    const name = basename(file);
    const format = formatOf(name);
    if (format === undefined)
      throw new UsageError(`${name}: a prompt file ends in .txt, .jsonl or .json`);
    if (values.owner !== undefined && !ownerSchema.safeParse(values.owner).success) {
      throw new UsageError(
        `--owner must be 1-63 characters of a-z, 0-9, _ and -, starting with a letter or digit, got "${values.owner}"`,
      );
    }
    const concurrency = integerOption('concurrency', values.concurrency, 16, { min: 1, max: 256 });
    const reportTimeoutMs =
      integerOption('report-timeout-s', values['report-timeout-s'], 300, { min: 1 }) * 1000;
    const timeoutMs = integerOption('timeout-s', values['timeout-s'], 0, { min: 0 }) * 1000;
    let body: Buffer;
    try {
      if (!(await stat(file)).isFile()) throw new Error('not a file');
      body = await readFile(file);
    } catch (error) {
      throw new Error(
        `cannot read ${file}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`,
      );
    }
    const deployed =
      values.api !== undefined ||
      (values['data-dir'] === undefined && Boolean(process.env[ENV_API_URL]));
    if (values.bucket !== undefined && !deployed) {
      throw new UsageError('--bucket is for a deployed stack: give --api URL --key KEY with it');
    }
    if (deployed && values.bucket === undefined) {
      throw new UsageError("a deployed API needs --bucket (the stack's InputBucketName)");
    }

    const interrupt = trapInterrupt();
    let target: Target | undefined;
    let reportPath: string | undefined;
    try {
      target = await resolveTargetTelling(values, values.bucket === undefined);
      interrupt.check();
      const { s3, bucket } = storageOf(target.local?.endpoints, values.bucket, values.region);
      const key = `prompts/${values.owner === undefined ? '' : `${values.owner}/`}${name}`;
      const uploadedAt = Date.now();
      const put = await s3.send(
        new PutObjectCommand({
          Bucket: bucket,
          Key: key,
          Body: body,
          ContentType: CONTENT_TYPES[format],
        }),
        { abortSignal: interrupt.signal },
      );
      process.stderr.write(`uploaded s3://${bucket}/${key} (${body.length} bytes)\n`);

      const reportKey = reportKeyOf(key);
      reportPath = `s3://${bucket}/${reportKey}`;
      process.stderr.write(`waiting for its report ${reportPath}…\n`);
      const report = await waitForReport(s3, bucket, reportKey, {
        etag: put.ETag,
        versionId: put.VersionId,
        uploadedAt,
        timeoutMs: reportTimeoutMs,
        signal: interrupt.signal,
      });
      const ids = report.lines.flatMap((line) => ('id' in line ? [line.id] : []));
      const outcome = await followAll(target.client, ids, {
        concurrency,
        timeoutMs,
        signal: interrupt.signal,
        owner: report.owner,
      });

      // stdout is the report alone, as stored (for scripts: `| jq`); the summary and every line
      // that did not end well go to stderr, beside the progress bar.
      const say = (line: string) => process.stderr.write(`${line}\n`);
      say(`report ${reportPath}`);
      say(
        `lines ${report.summary.lines}: accepted ${report.summary.accepted}, rejected ${report.summary.rejected}, skipped ${report.summary.skipped}`,
      );
      say(
        `completed ${outcome.counts.completed}, failed ${outcome.counts.failed}, cancelled ${outcome.counts.cancelled}${outcome.counts.unfinished > 0 ? `, unfinished ${outcome.counts.unfinished}` : ''}`,
      );
      if (report.error) say(`file error: ${report.error.code} ${report.error.message}`);
      for (const line of report.lines) {
        if ('error' in line) say(`line ${line.line}: ${line.error.code} ${line.error.message}`);
      }
      for (const record of outcome.records.values()) {
        if (record.status === 'failed' || record.status === 'cancelled') {
          say(
            `${record.status} ${record.id}: ${record.error?.code ?? '-'} ${record.error?.message ?? ''}`.trimEnd(),
          );
        }
      }
      console.log(JSON.stringify(report, null, 2));
      const allCompleted =
        report.error === undefined &&
        report.summary.rejected === 0 &&
        outcome.counts.completed === ids.length;
      return allCompleted ? 0 : 1;
    } catch (error) {
      const exitCode = interruptExitCode(error, interrupt.signal);
      if (exitCode !== undefined) {
        process.stderr.write(
          `\nspark-t2i batch: interrupted; the generations go on${target?.kind === 'in-process' ? ' when the local runtime runs again' : ''}${reportPath ? ` (report ${reportPath})` : ''}\n`,
        );
        return exitCode;
      }
      throw error;
    } finally {
      await target?.close();
      interrupt.dispose();
    }
  },
});

function storageOf(
  endpoints: LocalEndpoints | undefined,
  deployedBucket: string | undefined,
  region: string | undefined,
): { s3: S3Client; bucket: string } {
  if (deployedBucket !== undefined) {
    return { s3: new S3Client(region ? { region } : {}), bucket: deployedBucket };
  }
  if (endpoints === undefined) throw new Error('no input bucket: pass --bucket with --api');
  const s3 = new S3Client({
    endpoint: endpoints.s3.endpoint,
    region: endpoints.s3.region,
    credentials: {
      accessKeyId: endpoints.s3.accessKeyId,
      secretAccessKey: endpoints.s3.secretAccessKey,
    },
    forcePathStyle: true,
  });
  return { s3, bucket: endpoints.s3.inputBucket };
}

const unquote = (etag: string | undefined) => etag?.replace(/^(W\/)?"|"$/g, '');

/**
 * Polls the report until it exists and is the one of this upload (same ETag or version; a report
 * of an earlier upload of the same key may still be there).
 */
async function waitForReport(
  s3: S3Client,
  bucket: string,
  key: string,
  options: {
    etag: string | undefined;
    versionId: string | undefined;
    uploadedAt: number;
    timeoutMs: number;
    signal: AbortSignal;
  },
): Promise<PromptFileReport> {
  const etag = unquote(options.etag);
  const deadline = Date.now() + options.timeoutMs;
  let denied = false;
  let stale = false;
  while (Date.now() < deadline) {
    try {
      const object = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }), {
        abortSignal: options.signal,
      });
      const text = (await object.Body?.transformToString('utf8')) ?? '';
      const report = JSON.parse(text) as PromptFileReport;
      const ours =
        (options.versionId !== undefined && report.versionId === options.versionId) ||
        (etag !== undefined && report.etag === etag) ||
        (report.etag === undefined && Date.parse(report.createdAt) >= options.uploadedAt - 5000);
      if (ours) return report;
      stale = true;
    } catch (error) {
      if (options.signal.aborted) throw options.signal.reason;
      const name = (error as Error).name;
      const status = (error as { $metadata?: { httpStatusCode?: number } }).$metadata
        ?.httpStatusCode;
      if (name === 'AccessDenied' || status === 403) denied = true;
      else if (!(name === 'NoSuchKey' || name === 'NotFound' || status === 404)) {
        if (error instanceof SyntaxError)
          throw new Error(`the report s3://${bucket}/${key} is not JSON`);
        throw error;
      }
    }
    await sleep(REPORT_INTERVAL_MS, options.signal);
  }
  const why = denied
    ? ' (S3 answered AccessDenied: reading reports/ needs s3:GetObject, and s3:ListBucket to see a missing key)'
    : stale
      ? ' (only the report of an earlier upload is there)'
      : " (is the bucket the stack's input bucket, with its prompts/ notification?)";
  throw new Error(
    `no report at s3://${bucket}/${key} after ${Math.round(options.timeoutMs / 1000)} s${why}`,
  );
}

interface FollowOutcome {
  readonly counts: {
    completed: number;
    failed: number;
    cancelled: number;
    running: number;
    queued: number;
    unfinished: number;
  };
  readonly records: Map<string, Generation>;
}

/**
 * Follows every id to a terminal status: each round reads the ids not yet terminal, at most
 * `concurrency` at a time, about once a second, with a progress bar on stderr.
 */
async function followAll(
  client: ApiClient,
  ids: readonly string[],
  options: { concurrency: number; timeoutMs: number; signal: AbortSignal; owner: string },
): Promise<FollowOutcome> {
  const records = new Map<string, Generation>();
  const status = new Map<string, string>(ids.map((id) => [id, 'queued']));
  const unknownSince = new Map<string, number>();
  const counts = () => {
    const tally = { completed: 0, failed: 0, cancelled: 0, running: 0, queued: 0, unfinished: 0 };
    for (const value of status.values()) {
      if (value in tally) tally[value as keyof typeof tally]++;
      else tally.running++;
    }
    tally.unfinished = tally.running + tally.queued;
    return tally;
  };
  if (ids.length === 0) return { counts: counts(), records };

  const tty = process.stderr.isTTY === true;
  const bar = new SingleBar({
    format:
      ' {bar} {value}/{total} done | completed {completed} failed {failed} running {running} queued {queued} | {elapsed} | ETA {remaining}',
    stream: process.stderr,
    hideCursor: tty,
    noTTYOutput: !tty,
    notTTYSchedule: 5000,
  });
  const started = Date.now();
  const payload = () => {
    const tally = counts();
    const finished = tally.completed + tally.failed + tally.cancelled;
    const elapsed = Date.now() - started;
    const eta =
      finished === 0 || finished === ids.length
        ? '-'
        : formatElapsed((elapsed / finished) * (ids.length - finished));
    return { ...tally, remaining: eta, elapsed: formatElapsed(elapsed) };
  };
  const done = () => {
    const tally = counts();
    return tally.completed + tally.failed + tally.cancelled;
  };
  bar.start(ids.length, 0, payload());
  let failingRounds = 0;
  try {
    for (;;) {
      const open = ids.filter((id) => !isTerminalStatus(status.get(id) as string));
      if (open.length === 0) break;
      if (options.timeoutMs > 0 && Date.now() - started > options.timeoutMs) break;
      const roundStarted = Date.now();
      let failures = 0;
      let lastError: unknown;
      await mapWithConcurrency(open, options.concurrency, async (id) => {
        try {
          const record = await client.get(id, options.signal);
          records.set(id, record);
          status.set(id, record.status);
          unknownSince.delete(id);
        } catch (error) {
          if (options.signal.aborted) throw options.signal.reason;
          if (error instanceof ApiError && (error.status === 401 || error.status === 403))
            throw error;
          if (error instanceof ApiError && error.status === 404) {
            const since = unknownSince.get(id) ?? Date.now();
            unknownSince.set(id, since);
            if (Date.now() - since > UNKNOWN_ID_GRACE_MS) {
              throw new Error(
                `generation ${id} is unknown to the API (404) for over ${UNKNOWN_ID_GRACE_MS / 1000} s: the file belongs to owner "${options.owner}"; follow it with a key of that owner (--key)`,
              );
            }
            return;
          }
          failures++;
          lastError = error;
        }
      });
      failingRounds = failures > 0 && failures === open.length ? failingRounds + 1 : 0;
      if (failingRounds >= 5) throw lastError;
      bar.update(done(), payload());
      await sleep(Math.max(0, FOLLOW_INTERVAL_MS - (Date.now() - roundStarted)), options.signal);
    }
    bar.update(done(), payload());
  } finally {
    bar.stop();
  }
  return { counts: counts(), records };
}
