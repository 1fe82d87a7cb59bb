/**
 * The Spark simulator: a real HTTP server (node:http, no framework) that speaks the provider's
 * contract and behaves as docs/simulator.md says, so the pipeline can be run, tested and
 * benchmarked offline.
 *
 * This file is the server and its routes; a task's life (create, poll) is in `tasks.ts`, its
 * images in `images.ts`, the fault draws and counters in `context.ts`, the wire codes and answers
 * in `answers.ts`, the options in `options.ts`.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { closeServer, listen, sendJson } from '#local/http/server.ts';
import {
  answerUnexpected,
  SimulatorWireCodes,
  safeDecode,
  sendError,
  wireCode,
} from '#local/simulator/answers.ts';
import {
  type Context,
  resetStats,
  type SimulatorStats,
  statsOf,
  zeroFaultCounts,
} from '#local/simulator/context.ts';
import { createFaultRoller, seededRandom } from '#local/simulator/faults.ts';
import { handleImage, IMAGE_PATH, ImageCache, loadSecret } from '#local/simulator/images.ts';
import { RequestJournal } from '#local/simulator/journal.ts';
import { resolveOptions, type SimulatorOptions } from '#local/simulator/options.ts';
import { TaskStore } from '#local/simulator/task-store.ts';

export { SimulatorWireCodes, SPARK_MODEL } from '#local/simulator/answers.ts';
export type { SimulatorStats } from '#local/simulator/context.ts';
export { type SimulatorOptions, SimulatorOptionsError } from '#local/simulator/options.ts';

import { answerTask, handleCreate, handlePoll, taskView } from '#local/simulator/tasks.ts';
import { ErrorCodes } from '#shared/errors/codes.ts';

export interface RunningSimulator {
  /** `http://HOST:PORT`, no trailing slash. */
  readonly url: string;
  readonly port: number;
  stats(): SimulatorStats;
  /** Stops listening and drops every connection, including held (`slow`) answers. */
  close(): Promise<void>;
}

/** The simulator's own view of a task (no auth, like the other `/__sim/*` routes). */
const DEBUG_TASK_PATH = /^\/__sim\/tasks\/([^/]+)$/;
/** Starts the simulator and resolves once it is listening. */
export async function startSimulator(options: SimulatorOptions = {}): Promise<RunningSimulator> {
  const resolved = resolveOptions(options);
  const secret = await loadSecret(resolved.dataDir);
  const store = await TaskStore.open({ dataDir: resolved.dataDir });
  const journal = await RequestJournal.open({ dataDir: resolved.dataDir });
  const closing = new AbortController();
  const ctx: Context = {
    options: resolved,
    store,
    journal,
    images: new ImageCache(resolved.imagePadBytes),
    faults: createFaultRoller(resolved.faults, resolved.faultSeed),
    // A stream of its own, so jitter draws never shift which requests get faults.
    jitter: seededRandom(resolved.faultSeed ^ 0x5eed_1e55),
    secret,
    matchTaskPath: taskPathMatcher(resolved.taskPath),
    requests: { create: 0, poll: 0, image: 0 },
    injected: zeroFaultCounts(),
    closing: closing.signal,
    baseUrl: '',
  };
  const server = createServer((req, res) => {
    route(ctx, req, res).catch((error: unknown) => answerUnexpected(res, error));
  });
  // A client that sends garbage or vanishes mid-request must not reach the process.
  server.on('clientError', (_error, socket) => socket.destroy());
  let port: number;
  try {
    port = await listen(server, resolved.port, resolved.host);
  } catch (error) {
    await store.close();
    await journal.close();
    throw error;
  }
  ctx.baseUrl = `http://${urlHost(resolved.host)}:${port}`;
  let closed: Promise<void> | undefined;
  return {
    url: ctx.baseUrl,
    port,
    stats: () => statsOf(ctx),
    close() {
      closed ??= shutDown(server, closing, store, journal);
      return closed;
    },
  };
}

/** `/v1/tasks/{id}` → a function answering the id of a matching path (one path segment). */
function taskPathMatcher(template: string): (path: string) => string | undefined {
  const [prefix, suffix] = template.split('{id}') as [string, string];
  return (path) => {
    if (!path.startsWith(prefix) || !path.endsWith(suffix)) return undefined;
    const raw = path.slice(prefix.length, path.length - suffix.length);
    if (raw === '' || raw.includes('/')) return undefined;
    try {
      return decodeURIComponent(raw);
    } catch {
      return undefined;
    }
  };
}

/** A wildcard bind is reachable on loopback; IPv6 literals need brackets in a URL. */
function urlHost(host: string): string {
  if (host === '0.0.0.0') return '127.0.0.1';
  if (host === '::') return '[::1]';
  return host.includes(':') ? `[${host}]` : host;
}

async function shutDown(
  server: Server,
  closing: AbortController,
  store: TaskStore,
  journal: RequestJournal,
): Promise<void> {
  closing.abort();
  await closeServer(server);
  await store.close();
  await journal.close();
}

// ---------------------------------------------------------------------------------------------
// Routing

async function route(ctx: Context, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const path = new URL(req.url ?? '/', 'http://simulator').pathname;
  if (path === '/__sim/stats') {
    if (!allowMethod(req, res, ['GET'])) return;
    return sendJson(res, 200, statsOf(ctx));
  }
  if (path === '/__sim/reset') {
    if (!allowMethod(req, res, ['POST'])) return;
    resetStats(ctx);
    return sendJson(res, 200, statsOf(ctx));
  }
  if (path === '/__sim/tasks') {
    if (!allowMethod(req, res, ['GET'])) return;
    const tasks = await Promise.all(ctx.store.all().map((task) => taskView(ctx, task)));
    return sendJson(res, 200, { tasks });
  }
  if (path === '/__sim/requests') {
    if (!allowMethod(req, res, ['GET'])) return;
    return sendJson(res, 200, { requests: ctx.journal.entries() });
  }
  const debugTask = DEBUG_TASK_PATH.exec(path);
  if (debugTask) {
    if (!allowMethod(req, res, ['GET'])) return;
    return answerTask(ctx, res, safeDecode(debugTask[1] as string));
  }
  if (path === ctx.options.createPath) {
    ctx.requests.create++;
    if (!allowMethod(req, res, ['POST'])) return;
    return handleCreate(ctx, req, res);
  }
  const taskId = ctx.matchTaskPath(path);
  if (taskId !== undefined) {
    ctx.requests.poll++;
    if (!allowMethod(req, res, ['GET'])) return;
    return handlePoll(ctx, req, res, taskId);
  }
  const image = IMAGE_PATH.exec(path);
  if (image) {
    ctx.requests.image++;
    if (!allowMethod(req, res, ['GET', 'HEAD'])) return;
    return handleImage(ctx, req, res, image[1] as string, Number(image[2]));
  }
  sendError(res, 404, wireCode(ErrorCodes.SIM_NOT_FOUND), `No route for ${req.method} ${path}`);
}

function allowMethod(req: IncomingMessage, res: ServerResponse, methods: string[]): boolean {
  if (methods.includes(req.method ?? '')) return true;
  sendError(
    res,
    405,
    SimulatorWireCodes.METHOD_NOT_ALLOWED,
    `Method ${req.method} is not allowed here; use ${methods.join(' or ')}`,
    { allow: methods.join(', ') },
  );
  return false;
}
