/**
 * The spark-t2i CLI as a user runs it, against a local runtime it finds through the data dir.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { PNG } from 'pngjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ServedRuntime, serve } from '../helpers/serve.ts';

const CLI = join(import.meta.dirname, '..', '..', 'local', 'cli', 'bin.js');
let runtime: ServedRuntime;

async function cli(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await promisify(execFile)(process.execPath, [CLI, ...args], {
      timeout: 60_000,
    });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code: number; stdout: string; stderr: string };
    return { code: failed.code, stdout: failed.stdout, stderr: failed.stderr };
  }
}

beforeAll(async () => {
  runtime = await serve({ simLatencyMs: 200, timeScale: 0.02 });
}, 90_000);
afterAll(() => runtime?.stop());

describe('spark-t2i CLI against the local runtime', () => {
  it('generate writes a PNG of the requested size and prints the record', async () => {
    const out = mkdtempSync(join(tmpdir(), 'spark-t2i-out-'));

    const { code, stdout, stderr } = await cli(
      'generate',
      'a lighthouse at dawn',
      '--width',
      '768',
      '--height',
      '512',
      '--out',
      out,
      '--data-dir',
      runtime.dataDir,
    );

    expect(code).toBe(0);
    const [file] = readdirSync(out);
    const png = PNG.sync.read(readFileSync(join(out, file as string)));
    expect([png.width, png.height]).toEqual([768, 512]);
    // stdout is the record and nothing else; the saved file is named on stderr.
    const record = JSON.parse(stdout) as { status: string; images: unknown[] };
    expect(record).toMatchObject({ status: 'completed', images: [expect.any(Object)] });
    expect(stderr).toContain(`saved ${join(out, file as string)}`);
  });

  it('generate refuses bad input with the provider code and exit 2, before any request', async () => {
    const { code, stderr } = await cli(
      'generate',
      'x',
      '--width',
      '100',
      '--height',
      '100',
      '--data-dir',
      runtime.dataDir,
    );
    expect(code).toBe(2);
    expect(stderr).toContain('003001009');
  });

  it('batch sends a file through the API, follows it to the end and prints the report', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'spark-t2i-batch-')), 'three.txt');
    writeFileSync(file, 'a red apple\r\n# a comment\r\na green pear\r\n\r\na blue plum\r\n');

    const { code, stdout, stderr } = await cli('batch', file, '--data-dir', runtime.dataDir);

    expect(code).toBe(0);
    // stdout is the report as stored; the summary is on stderr.
    const report = JSON.parse(stdout) as { summary: unknown; lines: unknown[] };
    expect(report.summary).toMatchObject({ lines: 5, accepted: 3, rejected: 0 });
    expect(report.lines).toHaveLength(3);
    expect(stderr).toMatch(/^batch b_[0-9a-f]{40}: sent 55 bytes/m);
    expect(stderr).toMatch(/^batch b_[0-9a-f]{40} completed$/m);
    expect(stderr).toContain('accepted 3, rejected 0, skipped 2');
    expect(stderr).toContain('completed 3, failed 0');
  });

  it('status, list, keys and schedules work, with clear one-line errors', async () => {
    const triggered = await cli(
      'schedules',
      'trigger',
      'daily-sample',
      '--data-dir',
      runtime.dataDir,
    );
    expect(triggered.code).toBe(0);
    const id = triggered.stdout.trim();
    await new Promise((resolve) => setTimeout(resolve, 2000));
    expect((await cli('status', id, '--json', '--data-dir', runtime.dataDir)).stdout).toContain(
      '"source": "schedule"',
    );
    expect((await cli('list', '--all', '--data-dir', runtime.dataDir)).stdout).toContain(id);
    const created = await cli('keys', 'create', '--owner', 'carol', '--data-dir', runtime.dataDir);
    expect(created.stdout.trim()).toMatch(/^sk_[A-Za-z0-9_-]{40,}$/);
    const asCarol = await runtime.api('/generations', { key: created.stdout.trim() });
    expect(asCarol.status).toBe(200);
    const missing = await cli('status', 'no-such-id', '--data-dir', runtime.dataDir);
    expect(missing.code).toBe(1);
    expect(missing.stderr.trim().split('\n')).toEqual([
      'spark-t2i status: 090004002 No such generation (HTTP 404)',
    ]);
    expect((await cli('schedules', 'trigger', 'nope', '--data-dir', runtime.dataDir)).code).toBe(1);
  });

  it.each(['serve', 'generate', 'batch', 'status', 'list', 'keys', 'schedules', 'simulator'])(
    'answers %s --help',
    async (command) => {
      const { code, stdout } = await cli(command, '--help');
      expect(code).toBe(0);
      expect(stdout).toMatch(/^Usage: spark-t2i /);
    },
  );

  it('refuses an unknown option with exit 2', async () => {
    const { code, stderr } = await cli('list', '--bogus');
    expect(code).toBe(2);
    expect(stderr).toContain('--bogus');
  });
});
