/**
 * The CLI's user-facing commands driven through `main(argv)` (and each command's `run`) against a
 * fake API and control server on 127.0.0.1 and a fake data dir pointing at them; DynamoDB and S3
 * are mocked. The real local runtime is never started here.
 */
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { S3Client } from '@aws-sdk/client-s3';
import { DynamoDBDocumentClient, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { batchCommand } from '../../../../local/cli/commands/batch.ts';
import { generateCommand } from '../../../../local/cli/commands/generate.ts';
import { keysCommand } from '../../../../local/cli/commands/keys.ts';
import { listCommand } from '../../../../local/cli/commands/list.ts';
import { schedulesCommand } from '../../../../local/cli/commands/schedules.ts';
import { statusCommand } from '../../../../local/cli/commands/status.ts';
import { main } from '../../../../local/cli/main.ts';
import { BATCH_BODY_MAX_BYTES } from '../../../../shared/api/batch-schemas.ts';
import { hashApiKey } from '../../../../shared/api/keys.ts';
import { API_KEY, type FakeApi, PNG_BYTES, startFakeApi } from './fake-api.ts';

let api: FakeApi;
const documents = mockClient(DynamoDBDocumentClient);
const s3 = mockClient(S3Client);

beforeAll(async () => {
  api = await startFakeApi();
});
afterAll(async () => {
  await api.close();
  documents.restore();
  s3.restore();
});
beforeEach(() => {
  documents.reset();
  s3.reset();
  api.requests.length = 0;
  api.controlRequests.length = 0;
  api.scriptFor = () => ({ outcome: 'completed' });
  api.failPosts = 0;
  api.batches.clear();
  vi.stubEnv('SPARK_T2I_API_URL', '');
  vi.stubEnv('SPARK_T2I_API_KEY', '');
});
afterEach(() => {
  vi.restoreAllMocks();
  vi.unstubAllEnvs();
});

interface Run {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs `spark-t2i ...args` in this process, capturing what it prints. */
async function cli(...args: string[]): Promise<Run> {
  let stdout = '';
  let stderr = '';
  const text = (values: unknown[]) => `${values.map(String).join(' ')}\n`;
  vi.spyOn(console, 'log').mockImplementation((...values: unknown[]) => {
    stdout += text(values);
  });
  vi.spyOn(console, 'error').mockImplementation((...values: unknown[]) => {
    stderr += text(values);
  });
  vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    stdout += String(chunk);
    return true;
  });
  vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
    stderr += String(chunk);
    return true;
  });
  try {
    const code = await main(args);
    return { code, stdout, stderr };
  } finally {
    vi.restoreAllMocks();
  }
}

const local = () => ['--data-dir', api.dataDir];
const apiPosts = () => api.requests.filter((request) => request.method === 'POST');

describe('generate', () => {
  it('submits, follows to completed, saves the image and prints the paths and the record', async () => {
    const out = mkdtempSync(join(tmpdir(), 'spark-t2i-out-'));

    const run = await cli(
      'generate',
      'a lighthouse at dawn',
      '--width',
      '768',
      '--height',
      '512',
      '--seed',
      '42',
      '--no-pre-llm',
      '--out',
      out,
      ...local(),
    );

    expect(run.code).toBe(0);
    const [post] = apiPosts();
    expect(post?.authorization).toBe(`Bearer ${API_KEY}`);
    expect(JSON.parse(post?.body ?? '{}')).toEqual({
      prompt: 'a lighthouse at dawn',
      width: 768,
      height: 512,
      seed: 42,
      use_pre_llm: false,
    });
    const files = readdirSync(out);
    expect(files).toHaveLength(1);
    const [file] = files as [string];
    expect(file).toMatch(/^gen-\d+-0\.png$/);
    expect(readFileSync(join(out, file))).toEqual(PNG_BYTES);
    // stdout is the record alone; the saved path is on stderr.
    const record = JSON.parse(run.stdout);
    expect(record).toMatchObject({ status: 'completed', request: { width: 768, height: 512 } });
    expect(run.stderr).toContain(`saved ${join(out, file)}`);
    expect(run.stderr).toMatch(/generation gen-\d+ completed \d+\.\d s/);
  });

  it('accepts a negative seed written as a separate argument', async () => {
    const out = mkdtempSync(join(tmpdir(), 'spark-t2i-out-'));
    const run = await cli('generate', 'a cat', '--seed', '-1', '--out', out, ...local());
    expect(run.code).toBe(0);
    expect(JSON.parse(apiPosts()[0]?.body ?? '{}')).toMatchObject({ seed: -1 });
  });

  it('retries a submission that met a 503 with the same Idempotency-Key', async () => {
    api.failPosts = 1;
    const out = mkdtempSync(join(tmpdir(), 'spark-t2i-out-'));

    const run = await cli('generate', 'a cat', '--out', out, ...local());

    expect(run.code).toBe(0);
    const [first, second] = apiPosts();
    expect(apiPosts()).toHaveLength(2);
    expect(first?.idempotencyKey).toMatch(/^[0-9a-f-]{36}$/);
    expect(second?.idempotencyKey).toBe(first?.idempotencyKey);
    expect(run.stderr).toContain('retrying the submission: HTTP 503 Service Unavailable');
  });

  it('exits 1 with the code and message when the generation fails, printing the record', async () => {
    api.scriptFor = () => ({
      outcome: 'failed',
      error: { code: '090003001', message: 'The generation timed out' },
    });
    const out = mkdtempSync(join(tmpdir(), 'spark-t2i-out-'));

    const run = await cli('generate', 'doomed', '--out', out, ...local());

    expect(run.code).toBe(1);
    expect(run.stderr).toContain('090003001 The generation timed out');
    expect(JSON.parse(run.stdout)).toMatchObject({ status: 'failed' });
    expect(readdirSync(out)).toEqual([]);
  });

  it.each([
    [['x', '--width', '100', '--height', '100'], '003001009'],
    [['x', '--width', '1024'], '003001007'],
    [['x', '--seed', '0'], '003001004'],
    [['x', '--width', 'wide', '--height', '512'], '003001008'],
    [['   '], '003001002'],
  ])('refuses %j with the provider code and exit 2 before any request', async (args, code) => {
    const run = await cli('generate', ...args, ...local());

    expect(run.code).toBe(2);
    expect(run.stderr.trim().split('\n')).toHaveLength(1);
    expect(run.stderr).toContain(`spark-t2i generate: ${code} `);
    expect(api.requests).toEqual([]);
  });

  it('turns a 401 of a deployed API into one clear line', async () => {
    const run = await cli(
      'generate',
      'a cat',
      '--api',
      api.url,
      '--key',
      'sk_wrong_key_0000000000',
    );

    expect(run.code).toBe(1);
    const lines = run.stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^spark-t2i generate: 090004001 Unauthorized \(HTTP 401\)/);
    expect(run.stderr).not.toMatch(/\n\s+at /);
  });

  it('takes the key of a deployed API from SPARK_T2I_API_KEY', async () => {
    vi.stubEnv('SPARK_T2I_API_KEY', API_KEY);
    const out = mkdtempSync(join(tmpdir(), 'spark-t2i-out-'));
    const run = await cli('generate', 'a cat', '--api', api.url, '--out', out);
    expect(run.code).toBe(0);
    expect(readdirSync(out)).toHaveLength(1);
  });

  it('refuses --api without any key, with exit 2', async () => {
    const run = await cli('generate', 'a cat', '--api', api.url);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('SPARK_T2I_API_KEY');
    expect(api.requests).toEqual([]);
  });

  it('stops on Ctrl-C with exit 130 and says the generation goes on', async () => {
    api.scriptFor = () => ({ outcome: 'never' });
    const out = mkdtempSync(join(tmpdir(), 'spark-t2i-out-'));
    const before = process.listeners('SIGINT');
    const running = cli('generate', 'slow one', '--out', out, ...local());
    await vi.waitFor(
      () => {
        expect(api.requests.some((request) => request.path.startsWith('/generations/'))).toBe(true);
      },
      { timeout: 5000 },
    );
    // Only the command's own handler: others (the test runner's) must not see a fake Ctrl-C.
    const added = process.listeners('SIGINT').filter((listener) => !before.includes(listener));
    expect(added).toHaveLength(1);
    (added[0] as (signal: NodeJS.Signals) => void)('SIGINT');

    const run = await running;

    expect(run.code).toBe(130);
    expect(run.stderr).toMatch(/interrupted; generation gen-\d+ goes on/);
    expect(process.listeners('SIGINT')).toEqual(before);
  });
});

describe('status and list', () => {
  it('prints a readable summary, or the JSON record with --json', async () => {
    api.add('st-1', { outcome: 'completed', after: 1 }, { prompt: 'a red apple' });

    const readable = await cli('status', 'st-1', ...local());
    expect(readable.code).toBe(0);
    expect(readable.stdout).toMatch(/^id:\s+st-1$/m);
    expect(readable.stdout).toMatch(/^status:\s+completed$/m);
    expect(readable.stdout).toContain('a red apple');
    expect(readable.stdout).toContain('s3://images/images/st-1/0.png');

    const json = await cli('status', 'st-1', '--json', ...local());
    expect(JSON.parse(json.stdout)).toMatchObject({ id: 'st-1', status: 'completed' });
  });

  it('exits 1 with one line for an unknown id', async () => {
    const run = await cli('status', 'no-such-id', ...local());
    expect(run.code).toBe(1);
    expect(run.stderr.trim().split('\n')).toEqual([
      'spark-t2i status: 090004002 No such generation (HTTP 404)',
    ]);
  });

  it('lists one page newest first, hints at more, and follows every page with --all', async () => {
    for (let index = 1; index <= 5; index++) api.add(`ls-${index}`, { outcome: 'never' });

    const page = await cli('list', '--limit', '2', ...local());
    expect(page.code).toBe(0);
    const rows = page.stdout.trim().split('\n');
    expect(rows[0]).toMatch(/^ID\s+STATUS/);
    expect(rows.slice(1).map((row) => row.split(/\s+/)[0])).toEqual(['ls-5', 'ls-4']);
    expect(page.stderr).toContain('--all');

    api.requests.length = 0;
    const all = await cli('list', '--all', '--limit', '2', '--json', ...local());
    expect(all.code).toBe(0);
    const ids = (JSON.parse(all.stdout) as Array<{ id: string }>).map((record) => record.id);
    expect(ids.slice(0, 5)).toEqual(['ls-5', 'ls-4', 'ls-3', 'ls-2', 'ls-1']);
    const pages = api.requests.filter((request) => request.path.startsWith('/generations?'));
    expect(pages.length).toBeGreaterThanOrEqual(3);
    expect(pages[1]?.path).toContain('cursor=2');
  });

  it('filters by status and refuses an unknown one', async () => {
    api.add('done-1', { outcome: 'completed', after: 0 });
    const run = await cli('list', '--status', 'completed', '--json', ...local());
    expect(run.code).toBe(0);
    const records = JSON.parse(run.stdout) as Array<{ id: string; status: string }>;
    expect(records.map((record) => record.id)).toContain('done-1');
    expect(records.every((record) => record.status === 'completed')).toBe(true);
    expect(api.requests.some((request) => request.path.includes('status=completed'))).toBe(true);

    const bad = await cli('list', '--status', 'nope', ...local());
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--status must be one of');
  });

  it('says clearly when no runtime serves the data dir', async () => {
    const empty = mkdtempSync(join(tmpdir(), 'spark-t2i-empty-'));
    const run = await cli('status', 'x', '--data-dir', empty);
    expect(run.code).toBe(1);
    expect(run.stderr.trim().split('\n')).toHaveLength(1);
    expect(run.stderr).toContain(`no local runtime serves ${empty}`);
  });
});

describe('keys', () => {
  it('creates a key in the local runtime table and prints it once, alone on stdout', async () => {
    documents.on(PutCommand).resolves({});

    const run = await cli('keys', 'create', '--owner', 'carol', ...local());

    expect(run.code).toBe(0);
    const key = run.stdout.trim();
    expect(key).toMatch(/^sk_[A-Za-z0-9_-]{40,}$/);
    expect(run.stderr).toContain('shown only now');
    const [call] = documents.commandCalls(PutCommand);
    expect(call?.args[0].input).toMatchObject({
      TableName: 'ApiKeysTable',
      Item: { owner: 'carol', keyHash: hashApiKey(key) },
    });
  });

  it('creates a key in a deployed table', async () => {
    documents.on(PutCommand).resolves({});
    const run = await cli(
      'keys',
      'create',
      '--owner',
      'dave',
      '--table',
      'Stack-ApiKeys',
      '--region',
      'eu-west-1',
    );
    expect(run.code).toBe(0);
    expect(documents.commandCalls(PutCommand)[0]?.args[0].input.TableName).toBe('Stack-ApiKeys');
  });

  it('refuses a bad owner with exit 2 before touching the table', async () => {
    const run = await cli('keys', 'create', '--owner', 'Not Valid', ...local());
    expect(run.code).toBe(2);
    expect(documents.calls()).toHaveLength(0);
  });

  it('revokes by key (hashed here) or by hash; an unknown one exits 1', async () => {
    documents.on(UpdateCommand).resolves({});
    const byKey = await cli('keys', 'revoke', '--key', 'sk_some_key', ...local());
    expect(byKey.code).toBe(0);
    expect(documents.commandCalls(UpdateCommand)[0]?.args[0].input).toMatchObject({
      TableName: 'ApiKeysTable',
      Key: { keyHash: hashApiKey('sk_some_key') },
    });

    documents.reset();
    documents
      .on(UpdateCommand)
      .rejects(new ConditionalCheckFailedException({ message: 'no', $metadata: {} }));
    const hash = 'a'.repeat(64);
    const missing = await cli(
      'keys',
      'revoke',
      '--hash',
      hash,
      '--table',
      'T',
      '--region',
      'us-east-1',
    );
    expect(missing.code).toBe(1);
    expect(missing.stderr.trim()).toBe(`spark-t2i keys: no API key with SHA-256 ${hash} (table T)`);
  });

  it('needs an action, and one of --hash/--key to revoke', async () => {
    expect((await cli('keys', ...local())).code).toBe(2);
    expect((await cli('keys', 'revoke', ...local())).code).toBe(2);
    expect((await cli('keys', 'revoke', '--hash', 'xyz', ...local())).code).toBe(2);
  });
});

describe('schedules', () => {
  it('triggers a schedule through the control server and prints the generation id', async () => {
    const run = await cli('schedules', 'trigger', 'daily-sample', ...local());

    expect(run.code).toBe(0);
    expect(run.stdout.trim()).toMatch(/^sched-\d+$/);
    expect(api.controlRequests.map((request) => `${request.method} ${request.path}`)).toEqual([
      'POST /__local/schedules/daily-sample/trigger',
    ]);
  });

  it('exits 1 for an unknown schedule, naming the known ones', async () => {
    const run = await cli('schedules', 'trigger', 'nope', ...local());
    expect(run.code).toBe(1);
    expect(run.stderr.trim()).toBe('spark-t2i schedules: no schedule "nope" (known: daily-sample)');
  });

  it('lists the schedules', async () => {
    const run = await cli('schedules', 'list', ...local());
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/daily-sample\s+cron\(0 9 \* \* \? \*\)\s+Europe\/Paris/);
  });
});

describe('batch', () => {
  it('sends the file as the body, follows the batch by its counts and prints its report', async () => {
    api.batchScript = { accepted: 2, rejected: 1, failed: 1 };
    const file = join(mkdtempSync(join(tmpdir(), 'spark-t2i-batch-')), 'three.txt');
    writeFileSync(file, 'a red apple\n\na green pear\nx\n');

    const run = await cli('batch', file, ...local());

    expect(run.code).toBe(1);
    const [batch] = [...api.batches.values()];
    expect(batch?.file?.toString()).toBe('a red apple\n\na green pear\nx\n');
    expect(batch?.contentType).toBe('text/plain');
    expect(api.requests.filter((r) => r.method === 'POST').map((r) => r.path)).toEqual([
      '/batches',
    ]);
    expect(api.requests.map((r) => r.path)).toContain(`/batches/${batch?.id}/report`);
    expect(api.requests.map((r) => r.path)).toContain(
      `/batches/${batch?.id}/generations?status=failed&limit=100`,
    );
    // No S3 call: the API is all it needs.
    expect(s3.calls()).toHaveLength(0);
    // stdout is the report; the summary is on stderr.
    expect(JSON.parse(run.stdout)).toMatchObject({ summary: { accepted: 2, rejected: 1 } });
    expect(run.stderr).toContain(`batch ${batch?.id}: sent 28 bytes`);
    expect(run.stderr).toContain('lines 3: accepted 2, rejected 1, skipped 1');
    expect(run.stderr).toContain('completed 1, failed 1, cancelled 0');
    expect(run.stderr).toContain('line 3: 003001002 prompt must be 1-800 characters');
    expect(run.stderr).toContain(`failed ${batch?.id}-1: 090003002 Image download failed`);
    expect(run.stderr).toMatch(
      /2\/2 done \| completed 1 failed 1 running 0 queued 0 \| .* \| ETA -/,
    );
  });

  it('exits 0 when every line completed, against a deployed API with --api and --key only', async () => {
    api.batchScript = { accepted: 1 };
    const file = join(mkdtempSync(join(tmpdir(), 'spark-t2i-batch-')), 'one.jsonl');
    writeFileSync(file, '{"prompt":"a plum"}\n');

    const run = await cli('batch', file, '--api', api.url, '--key', API_KEY);

    expect(run.code).toBe(0);
    expect([...api.batches.values()][0]?.contentType).toBe('application/jsonl');
    expect(run.stderr).toContain('completed 1, failed 0, cancelled 0');
  });

  it('sends a file over the body limit by an upload request and a PUT to the pre-signed URL', async () => {
    api.batchScript = { accepted: 1 };
    const file = join(mkdtempSync(join(tmpdir(), 'spark-t2i-batch-')), 'big.txt');
    const body = Buffer.alloc(BATCH_BODY_MAX_BYTES + 1, 0x23);
    writeFileSync(file, body);

    const run = await cli('batch', file, ...local());

    expect(run.code).toBe(0);
    const post = api.requests.find((r) => r.method === 'POST');
    expect(JSON.parse(post?.body ?? '{}')).toEqual({
      upload: { format: 'txt', bytes: body.length },
    });
    const [batch] = [...api.batches.values()];
    expect(batch?.file?.equals(body)).toBe(true);
    expect(batch?.contentType).toBe('text/plain');
  });

  it('refuses a file that is not a prompt file, and --owner with a key', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'spark-t2i-batch-'));
    writeFileSync(join(dir, 'x.csv'), 'a\n');
    writeFileSync(join(dir, 'x.txt'), 'a\n');
    expect((await cli('batch', join(dir, 'x.csv'), ...local())).code).toBe(2);
    const withKey = await cli(
      'batch',
      join(dir, 'x.txt'),
      '--owner',
      'alice',
      '--api',
      api.url,
      '--key',
      API_KEY,
    );
    expect(withKey.code).toBe(2);
    expect(withKey.stderr).toContain("the key's owner");
    expect(api.requests.filter((r) => r.path.startsWith('/batches'))).toHaveLength(0);
  });
});

describe('usage', () => {
  const commands = {
    generate: generateCommand,
    batch: batchCommand,
    status: statusCommand,
    list: listCommand,
    keys: keysCommand,
    schedules: schedulesCommand,
  };

  it.each(Object.keys(commands))('%s --help prints its usage and exits 0', async (name) => {
    const viaMain = await cli(name, '--help');
    expect(viaMain.code).toBe(0);
    expect(viaMain.stdout).toMatch(new RegExp(`^Usage: spark-t2i ${name}`));

    let printed = '';
    vi.spyOn(console, 'log').mockImplementation((value: unknown) => {
      printed += String(value);
    });
    expect(await commands[name as keyof typeof commands].run(['--help'])).toBe(0);
    expect(printed).toMatch(new RegExp(`^Usage: spark-t2i ${name}`));
  });

  it.each([
    ['generate', 'x', '--bogus'],
    ['batch', 'f.txt', '--bogus'],
    ['status', 'id', '--bogus'],
    ['list', '--bogus'],
    ['keys', 'create', '--bogus'],
    ['schedules', 'list', '--bogus'],
  ])('%s refuses an unknown flag with exit 2', async (...args) => {
    const run = await cli(...args);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('--bogus');
    expect(api.requests).toEqual([]);
  });
});
