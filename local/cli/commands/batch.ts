import { readFile, stat } from 'node:fs/promises';
import { basename } from 'node:path';
import { defineCommand, integerOption, onePositional, UsageError } from '#local/cli/args.ts';
import { ApiClient } from '#local/cli/client/api-client.ts';
import { followBatch, generationsOf, reportOf, sendBatch } from '#local/cli/client/batches.ts';
import { interruptExitCode, trapInterrupt } from '#local/cli/client/interrupt.ts';
import {
  ENV_API_KEY,
  ENV_API_URL,
  type LocalFiles,
  localApiKeyStore,
  resolveTargetTelling,
  TARGET_OPTIONS,
  TARGET_USAGE,
  type Target,
} from '#local/cli/client/target.ts';
import { BATCH_BODY_MAX_BYTES } from '#shared/api/batch-schemas.ts';
import { ownerSchema } from '#shared/generation/model.ts';
import { formatOf } from '#shared/prompt-files/keys.ts';

const usage = `Usage: spark-t2i batch FILE [options]

Sends a prompt file (.txt, .jsonl or .json) to the HTTP API as a batch (POST /batches):
gzip-compressed in the request body up to ${BATCH_BODY_MAX_BYTES / 1024 / 1024} MiB when the compressed body fits Lambda's 6 MB
event, else through the pre-signed upload the API answers. Then
follows the batch (GET /batches/{id}) with a progress bar fed by its counts, and at its end
prints its report (GET /batches/{id}/report: its JSON, on stdout) and, on stderr, the summary,
each rejected line's code and message and each generation that did not complete.

The API is all it needs: deployed, give --api and --key (no AWS credentials); locally it uses the
runtime serving the data dir (or starts one in this process).

Options:
  --owner NAME           locally, send the batch as owner NAME (a key of NAME is made for the run
                         and revoked after); the default is the key's owner ("local" locally).
                         With --api or --key the batch is the key's owner's: use a key of NAME
  --timeout-s N          stop following after N seconds (default: no limit; the batch goes on)
${TARGET_USAGE}
  -h, --help             show this help

Exit code: 0 when every line completed; 1 otherwise (rejected, failed or cancelled lines, or a
file-level error); 130 on Ctrl-C (the batch goes on; DELETE /batches/{id} cancels it).`;

export const batchCommand = defineCommand({
  name: 'batch',
  summary: 'send a prompt file as a batch and follow it to the end',
  usage,
  options: {
    owner: { type: 'string' },
    'timeout-s': { type: 'string' },
    ...TARGET_OPTIONS,
  },
  async run({ values, positionals }) {
    const file = onePositional(positionals, 'prompt file');
    const format = formatOf(basename(file));
    if (format === undefined) {
      throw new UsageError(`${basename(file)}: a prompt file ends in .txt, .jsonl or .json`);
    }
    const owner = values.owner;
    if (owner !== undefined) {
      if (!ownerSchema.safeParse(owner).success) {
        throw new UsageError(
          `--owner must be 1-63 characters of a-z, 0-9, _ and -, starting with a letter or digit, got "${owner}"`,
        );
      }
      const remote =
        values.api !== undefined ||
        (values['data-dir'] === undefined && Boolean(process.env[ENV_API_URL]));
      if (remote || values.key !== undefined || process.env[ENV_API_KEY]) {
        throw new UsageError(
          '--owner is for the local runtime without --key: through an API key, the batch is the key\'s owner\'s (make one with "keys create --owner NAME")',
        );
      }
    }
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

    const interrupt = trapInterrupt();
    let target: Target | undefined;
    let ownerKey: OwnerKey | undefined;
    let batchId: string | undefined;
    const say = (line: string) => process.stderr.write(`${line}\n`);
    try {
      target = await resolveTargetTelling(values, true);
      interrupt.check();
      let client = target.client;
      if (owner !== undefined && target.local !== undefined) {
        ownerKey = await keyOfOwner(target.local, owner);
        client = new ApiClient(client.baseUrl, ownerKey.key);
      }
      const sent = await sendBatch(client, { body, format }, interrupt.signal);
      batchId = sent.id;
      say(
        `batch ${sent.id}: sent ${body.length} bytes (s3://${sent.source.bucket}/${sent.source.key})`,
      );

      const batch = await followBatch(client, sent.id, { timeoutMs, signal: interrupt.signal });
      const report = await reportOf(client, sent.id, interrupt.signal);
      const { counts } = batch;
      say(`batch ${batch.id} ${batch.status}`);
      say(
        `lines ${counts.lines}: accepted ${counts.accepted}, rejected ${counts.rejected}${report ? `, skipped ${report.summary.skipped}` : ''}`,
      );
      const unfinished = counts.queued + counts.running;
      say(
        `completed ${counts.completed}, failed ${counts.failed}, cancelled ${counts.cancelled}${unfinished > 0 ? `, unfinished ${unfinished}` : ''}`,
      );
      const fileError = report?.error ?? batch.error;
      if (fileError) say(`file error: ${fileError.code} ${fileError.message}`);
      for (const line of report?.lines ?? []) {
        if ('error' in line) say(`line ${line.line}: ${line.error.code} ${line.error.message}`);
      }
      for (const status of ['failed', 'cancelled'] as const) {
        if (counts[status] === 0) continue;
        for (const record of await generationsOf(client, batch.id, status, interrupt.signal)) {
          say(
            `${status} ${record.id}: ${record.error?.code ?? '-'} ${record.error?.message ?? ''}`.trimEnd(),
          );
        }
      }
      // stdout is the report alone, as stored (for scripts: `| jq`).
      if (report) console.log(JSON.stringify(report, null, 2));
      else say(`no report: the batch ended ${batch.status} before its file was read`);
      const allCompleted =
        batch.status === 'completed' &&
        fileError === undefined &&
        counts.rejected === 0 &&
        counts.completed === counts.accepted;
      return allCompleted ? 0 : 1;
    } catch (error) {
      const exitCode = interruptExitCode(error, interrupt.signal);
      if (exitCode !== undefined) {
        say(
          `\nspark-t2i batch: interrupted; the batch goes on${target?.kind === 'in-process' ? ' when the local runtime runs again' : ''}${batchId ? ` (DELETE /batches/${batchId} cancels it)` : ''}`,
        );
        return exitCode;
      }
      throw error;
    } finally {
      await ownerKey?.revoke().catch(() => undefined);
      await target?.close();
      interrupt.dispose();
    }
  },
});

interface OwnerKey {
  readonly key: string;
  revoke(): Promise<unknown>;
}

/** A key of `owner` in the local runtime's key table, for this run only. */
async function keyOfOwner(local: LocalFiles, owner: string): Promise<OwnerKey> {
  const store = localApiKeyStore(local);
  const created = await store.create(owner);
  return { key: created.key, revoke: () => store.revoke(created.keyHash) };
}
