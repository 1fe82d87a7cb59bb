/**
 * The images of completed tasks: URLs signed with the simulator's secret that expire, and PNGs of
 * exactly the requested size (cached), with the `image404`, `imageTruncated` and `slow` faults.
 */
import { createHmac, randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { join } from 'node:path';
import {
  SimulatorWireCodes,
  safeDecode,
  sameText,
  sendError,
  wireCode,
} from '#local/simulator/answers.ts';
import { type Context, faultsApplied, hold } from '#local/simulator/context.ts';
import type { JournalEntry } from '#local/simulator/journal.ts';
import { renderPng } from '#local/simulator/png.ts';
import type { SimTask } from '#local/simulator/task-store.ts';
import { ErrorCodes } from '#shared/errors/codes.ts';

export const SECRET_FILE = 'simulator-url-secret';
export const IMAGE_PATH = /^\/images\/([^/]+)\/(\d+)\.png$/;
/** URLs stand for the provider's pre-signed ones: HMAC over (task, index, expiry). */
export function signedImageUrl(ctx: Context, task: SimTask, index: number): string {
  // In epoch milliseconds: the URL stops working exactly --url-ttl-s after the task completed.
  const expires = Math.round(task.completeAt + ctx.options.urlTtlS * 1000);
  const sig = signature(ctx.secret, task.id, index, expires);
  return `${ctx.baseUrl}/images/${encodeURIComponent(task.id)}/${index}.png?expires=${expires}&sig=${sig}`;
}

export function signature(secret: Buffer, taskId: string, index: number, expires: number): string {
  return createHmac('sha256', secret).update(`${taskId}\n${index}\n${expires}`).digest('base64url');
}

export async function handleImage(
  ctx: Context,
  req: IncomingMessage,
  res: ServerResponse,
  rawId: string,
  index: number,
): Promise<void> {
  const query = new URL(req.url ?? '/', 'http://simulator').searchParams;
  const taskId = safeDecode(rawId);
  const expires = Number(query.get('expires') ?? Number.NaN);
  const rejected = SimulatorWireCodes.IMAGE_URL_REJECTED;
  const journal = (entry: Omit<JournalEntry, 'at' | 'request' | 'taskId'>) =>
    ctx.journal.record({
      at: Date.now(),
      request: 'image',
      ...(taskId !== undefined && { taskId }),
      ...entry,
    });
  if (
    taskId === undefined ||
    !Number.isSafeInteger(expires) ||
    !sameText(query.get('sig') ?? '', signature(ctx.secret, taskId, index, expires))
  ) {
    await journal({ status: 403, faults: [] });
    return sendError(res, 403, rejected, 'The image URL signature does not match');
  }
  if (Date.now() >= expires) {
    await journal({ status: 403, faults: [] });
    return sendError(res, 403, rejected, 'The image URL expired');
  }
  const task = ctx.store.get(taskId);
  if (!task || index !== 0 || task.outcome.status !== 'completed' || Date.now() < task.completeAt) {
    await journal({ status: 404, faults: [] });
    return sendError(res, 404, wireCode(ErrorCodes.SIM_NOT_FOUND), 'No such image');
  }
  const applied = faultsApplied(ctx, ctx.faults.roll(['image404', 'imageTruncated', 'slow']));
  if (applied.use('image404')) {
    await journal({ status: 404, faults: applied.kinds });
    return sendError(res, 404, wireCode(ErrorCodes.SIM_NOT_FOUND), 'No such image');
  }
  const png = await ctx.images.get(task);
  const slow = applied.use('slow');
  const truncated = req.method !== 'HEAD' && applied.use('imageTruncated');
  await journal({ status: 200, faults: applied.kinds });
  if (slow) await hold(ctx, res, ctx.options.slowMs);
  res.writeHead(200, { 'content-type': 'image/png', 'content-length': png.length });
  if (req.method === 'HEAD') {
    res.end();
  } else if (truncated) {
    // Promise the whole file, deliver half, then cut the connection as a broken transfer does.
    res.write(png.subarray(0, Math.floor(png.length / 2)), () => res.destroy());
  } else {
    res.end(png);
  }
}

/**
 * Rendered images by task, bounded by total bytes (least recently used goes first), plus every
 * task's size (a number each, so polls of old tasks never render again just to say how big).
 */
export class ImageCache {
  static readonly MAX_BYTES = 64 * 1024 * 1024;
  readonly #padToBytes: number;
  readonly #entries = new Map<string, Buffer>();
  readonly #sizes = new Map<string, number>();
  readonly #rendering = new Map<string, Promise<Buffer>>();
  #bytes = 0;

  constructor(padToBytes: number) {
    this.#padToBytes = padToBytes;
  }

  async size(task: SimTask): Promise<number> {
    return this.#sizes.get(task.id) ?? (await this.get(task)).length;
  }

  /**
   * Renders a new task's image while it "generates", as the provider would, so the burst of
   * polls when many tasks complete together finds every size ready. Padded (benchmark-sized)
   * images are left to render on demand: holding hundreds of them would only waste memory.
   */
  prepare(task: SimTask): void {
    if (this.#padToBytes > 0 || task.outcome.status !== 'completed') return;
    setImmediate(() => {
      // A failure here resurfaces, and is answered, when the image is actually asked for.
      this.get(task).catch(() => undefined);
    });
  }

  async get(task: SimTask): Promise<Buffer> {
    const cached = this.#entries.get(task.id);
    if (cached) {
      // Map keeps insertion order: re-inserting makes this the most recently used.
      this.#entries.delete(task.id);
      this.#entries.set(task.id, cached);
      return cached;
    }
    let rendering = this.#rendering.get(task.id);
    if (!rendering) {
      rendering = this.#render(task).finally(() => this.#rendering.delete(task.id));
      this.#rendering.set(task.id, rendering);
    }
    return rendering;
  }

  async #render(task: SimTask): Promise<Buffer> {
    const { prompt, seed, width, height } = task.request;
    const png = await renderPng({
      prompt,
      seed,
      width,
      height,
      nonce: task.nonce,
      padToBytes: this.#padToBytes,
    });
    this.#sizes.set(task.id, png.length);
    this.#remember(task.id, png);
    return png;
  }

  #remember(id: string, png: Buffer): void {
    if (png.length > ImageCache.MAX_BYTES) return;
    this.#entries.set(id, png);
    this.#bytes += png.length;
    for (const [oldId, old] of this.#entries) {
      if (this.#bytes <= ImageCache.MAX_BYTES) break;
      this.#entries.delete(oldId);
      this.#bytes -= old.length;
    }
  }
}

/**
 * The URL signing secret: random per process, or kept in the data dir so URLs handed out before
 * a restart still verify after it.
 */
export async function loadSecret(dataDir: string | undefined): Promise<Buffer> {
  if (dataDir === undefined) return randomBytes(32);
  // The secret signs image URLs: its directory is the user's alone when made here.
  await mkdir(dataDir, { recursive: true, mode: 0o700 });
  const path = join(dataDir, SECRET_FILE);
  try {
    return Buffer.from((await readFile(path, 'utf8')).trim(), 'hex');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  const secret = randomBytes(32);
  try {
    // 'wx': if another process won the race, use its secret rather than overwrite it.
    await writeFile(path, secret.toString('hex'), { flag: 'wx', mode: 0o600 });
    return secret;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    return Buffer.from((await readFile(path, 'utf8')).trim(), 'hex');
  }
}
