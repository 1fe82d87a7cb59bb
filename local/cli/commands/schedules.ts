import { signedFetch } from '#local/aws/signed-fetch.ts';
import { defineCommand, UsageError } from '#local/cli/args.ts';
import { reasonOf } from '#local/cli/client/api-client.ts';
import { formatTable } from '#local/cli/client/output.ts';
import { type LocalFiles, requireRunningRuntime } from '#local/cli/client/target.ts';

const usage = `Usage: spark-t2i schedules list [--json] [--data-dir DIR]
       spark-t2i schedules trigger NAME [--data-dir DIR]

The schedules of the stack config, as the local runtime serving the data dir runs them: list
them with their next run, or fire one now (it starts a generation exactly as its cron would and
prints the generation's id). Deployed schedules are EventBridge Scheduler schedules.

Options:
  --json                 schedules list as JSON
  --data-dir DIR         the local runtime's data dir (default .spark-t2i)
  -h, --help             show this help`;

interface ScheduleView {
  readonly name: string;
  readonly expression: string;
  readonly timeZone?: string;
  readonly enabled?: boolean;
  readonly next?: string | null;
}

export const schedulesCommand = defineCommand({
  name: 'schedules',
  summary: 'list the configured schedules, or fire one now (local runtime)',
  usage,
  options: {
    json: { type: 'boolean', default: false },
    'data-dir': { type: 'string' },
  },
  async run({ values, positionals }) {
    const [action, name, ...extra] = positionals;
    if (action === 'list') {
      if (name !== undefined) throw new UsageError(`unexpected argument "${name}"`);
      const local = await requireRunningRuntime(values['data-dir']);
      const schedules = await listSchedules(local);
      if (values.json) {
        console.log(JSON.stringify(schedules, null, 2));
      } else if (schedules.length === 0) {
        console.log('no schedules in the stack config');
      } else {
        const rows = formatTable([
          ['NAME', 'EXPRESSION', 'TIME ZONE', 'NEXT'],
          ...schedules.map((schedule) => [
            schedule.name,
            schedule.expression,
            schedule.timeZone ?? 'UTC',
            schedule.enabled === false ? 'disabled' : (schedule.next ?? '-'),
          ]),
        ]);
        for (const row of rows) console.log(row);
      }
      return 0;
    }
    if (action !== 'trigger') {
      throw new UsageError('say "schedules list" or "schedules trigger NAME"');
    }
    if (name === undefined || name === '') throw new UsageError('schedules trigger needs a NAME');
    if (extra.length > 0) throw new UsageError(`unexpected argument "${extra[0]}"`);
    const local = await requireRunningRuntime(values['data-dir']);
    const { status, body } = await control(
      local,
      'POST',
      `/__local/schedules/${encodeURIComponent(name)}/trigger`,
    );
    const answer = body as
      | { id?: unknown; error?: { code?: string; message?: string } }
      | undefined;
    if (status === 404) {
      const known = await listSchedules(local).then(
        (schedules) => schedules.map((schedule) => schedule.name),
        () => [] as string[],
      );
      throw new Error(
        `no schedule "${name}"${known.length > 0 ? ` (known: ${known.join(', ')})` : ' (the stack config has none)'}`,
      );
    }
    if (status !== 200 || typeof answer?.id !== 'string') {
      throw new Error(
        `triggering "${name}" failed: ${answer?.error?.code ?? `HTTP ${status}`} ${answer?.error?.message ?? ''}`.trimEnd(),
      );
    }
    console.log(answer.id);
    console.error(
      `schedule ${name} fired: generation ${answer.id} (spark-t2i status ${answer.id})`,
    );
    return 0;
  },
});

async function listSchedules(local: LocalFiles): Promise<ScheduleView[]> {
  const { status, body } = await control(local, 'GET', '/__local/schedules');
  if (status !== 200 || !Array.isArray(body)) {
    throw new Error(`the local runtime's schedules answered HTTP ${status}`);
  }
  return body as ScheduleView[];
}

async function control(
  local: LocalFiles,
  method: string,
  path: string,
): Promise<{ status: number; body: unknown }> {
  const base = local.runtime.control.replace(/\/+$/, '');
  let response: Response;
  try {
    // The admin routes take the administrator's signature (the credentials of endpoints.json).
    response = await signedFetch(`${base}${path}`, {
      method,
      credentials: {
        accessKeyId: local.endpoints.s3.accessKeyId,
        secretAccessKey: local.endpoints.s3.secretAccessKey,
      },
      signal: AbortSignal.timeout(30_000),
    });
  } catch (error) {
    throw new Error(`cannot reach the local runtime's control server ${base}: ${reasonOf(error)}`);
  }
  const text = await response.text();
  try {
    return { status: response.status, body: text ? JSON.parse(text) : undefined };
  } catch {
    return { status: response.status, body: undefined };
  }
}
