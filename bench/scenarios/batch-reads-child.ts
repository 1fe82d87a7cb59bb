/**
 * One run of the batch-reads scenario in a fresh process: the local runtime in-process at time
 * scale 1, two prompt files put straight in S3 (a small one and a large one), both followed to
 * their end through `GET /batches/{id}`, then that route timed on each batch, alternately, so
 * the machine's noise falls on both alike.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { startLocalRuntime } from '#local/runtime/runtime.ts';
import { batchIdOfFile } from '#shared/batches/model.ts';
import { childMain, PROJECT_ROOT, progress } from '../lib/child.ts';
import { mergeDeep } from '../lib/merge.ts';

export interface BatchReadsInput {
  readonly sizes: readonly number[];
  /** Timed GETs per batch. */
  readonly reads: number;
  readonly config: Record<string, unknown>;
  readonly sim: { readonly latencyMs: number; readonly maxConcurrent: number };
  readonly cacheDir: string;
}

export interface BatchReadsOutput {
  readonly batches: ReadonlyArray<{
    readonly lines: number;
    readonly id: string;
    readonly status: string;
    readonly counts: Record<string, number>;
    /** Upload to the batch's end, as GET /batches/{id} saw it. */
    readonly endedAfterMs: number;
    /** Latencies of the timed GET /batches/{id}, in ms. */
    readonly readMs: readonly number[];
  }>;
}

interface BatchView {
  readonly id: string;
  readonly status: string;
  readonly counts: Record<string, number>;
}

await childMain<BatchReadsInput, BatchReadsOutput>(async (input) => {
  const dataDir = await mkdtemp(join(tmpdir(), 'spark-t2i-bench-batch-reads-'));
  const projectConfig = JSON.parse(
    await readFile(join(PROJECT_ROOT, 'spark-t2i.config.json'), 'utf8'),
  ) as Record<string, unknown>;
  const configFile = join(dataDir, 'bench-config.json');
  await writeFile(configFile, JSON.stringify(mergeDeep(projectConfig, input.config)));
  progress('batch-reads: starting the local runtime');
  const runtime = await startLocalRuntime({
    dataDir,
    port: 0,
    timeScale: 1,
    simLatencyMs: input.sim.latencyMs,
    simJitterMs: 0,
    simMaxConcurrent: input.sim.maxConcurrent,
    simFaultSeed: 1,
    configFile,
    cacheDir: input.cacheDir,
    functionLogLevel: 'ERROR',
    maxEnvironments: 32,
  });
  const s3 = new S3Client({
    endpoint: runtime.endpoints.s3.endpoint,
    region: runtime.endpoints.s3.region,
    credentials: {
      accessKeyId: runtime.endpoints.s3.accessKeyId,
      secretAccessKey: runtime.endpoints.s3.secretAccessKey,
    },
    forcePathStyle: true,
  });
  const get = async (id: string): Promise<{ view: BatchView; ms: number }> => {
    const started = performance.now();
    const response = await fetch(`${runtime.endpoints.api}/batches/${id}`, {
      headers: { authorization: `Bearer ${runtime.apiKey}` },
    });
    const view = (await response.json()) as BatchView;
    const ms = performance.now() - started;
    if (response.status !== 200) {
      throw new Error(`GET /batches/${id} answered ${response.status}: ${JSON.stringify(view)}`);
    }
    return { view, ms };
  };
  try {
    const uploaded = await Promise.all(
      input.sizes.map(async (lines) => {
        const key = `prompts/bench-batch-${lines}.txt`;
        const body = `${Array.from({ length: lines }, (_, i) => `bench batch prompt ${i + 1}`).join('\n')}\n`;
        const at = Date.now();
        const put = await s3.send(
          new PutObjectCommand({
            Bucket: runtime.endpoints.s3.inputBucket,
            Key: key,
            Body: body,
            ContentType: 'text/plain; charset=utf-8',
          }),
        );
        const id = batchIdOfFile({
          bucket: runtime.endpoints.s3.inputBucket,
          key,
          etag: put.ETag ?? '',
          ...(put.VersionId !== undefined && { versionId: put.VersionId }),
        });
        return { lines, id, at };
      }),
    );
    progress(`batch-reads: ${input.sizes.join(' + ')} lines uploaded; following them`);
    const ended = new Map<string, { view: BatchView; afterMs: number }>();
    const deadline = Date.now() + 60 * 60_000;
    while (ended.size < uploaded.length) {
      if (Date.now() > deadline) throw new Error('the batches did not end within an hour');
      for (const batch of uploaded) {
        if (ended.has(batch.id)) continue;
        const { view } = await get(batch.id).catch(() => ({ view: undefined }));
        if (view && ['completed', 'failed', 'cancelled'].includes(view.status)) {
          ended.set(batch.id, { view, afterMs: Date.now() - batch.at });
          progress(`batch-reads: the ${batch.lines}-line batch ended ${view.status}`);
        }
      }
      await new Promise((resolve) => setTimeout(resolve, 1000));
    }
    // Warm every function the route uses, then time the route on each batch in turn.
    for (const batch of uploaded) for (let i = 0; i < 5; i++) await get(batch.id);
    const reads = new Map<string, number[]>(uploaded.map((batch) => [batch.id, []]));
    for (let round = 0; round < input.reads; round++) {
      for (const batch of uploaded) reads.get(batch.id)?.push((await get(batch.id)).ms);
    }
    return {
      batches: uploaded.map((batch) => {
        const end = ended.get(batch.id);
        return {
          lines: batch.lines,
          id: batch.id,
          status: end?.view.status ?? 'unknown',
          counts: end?.view.counts ?? {},
          endedAfterMs: end?.afterMs ?? 0,
          readMs: reads.get(batch.id) ?? [],
        };
      }),
    };
  } finally {
    s3.destroy();
    await runtime.close();
    await rm(dataDir, { recursive: true, force: true });
  }
});
