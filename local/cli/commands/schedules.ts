import { parseArgs } from 'node:util';
import { UsageError } from '../args.ts';
import { readRunningLocal } from '../client/target.ts';
import type { Command } from '../main.ts';

export const schedulesCommand: Command = {
  name: 'schedules',
  summary: "list the stack config's schedules, or fire one now (local runtime)",
  usage: `Usage: spark-t2i schedules list [--data-dir DIR]
       spark-t2i schedules trigger NAME [--data-dir DIR]

Options:
  --data-dir DIR         the local runtime's data dir (default .spark-t2i)
  -h, --help             show this help`,
  async run(argv) {
    const { values, positionals } = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: true,
      options: { 'data-dir': { type: 'string', default: '.spark-t2i' } },
    });
    const [action, name] = positionals;
    const local = await readRunningLocal(values['data-dir']);
    if (!local)
      throw new Error(`no local runtime serves ${values['data-dir']}: start one with "npm start"`);
    if (action === 'list') {
      const response = await fetch(`${local.runtime.control}/__local/schedules`);
      for (const schedule of (await response.json()) as Array<Record<string, unknown>>) {
        console.log(
          `${schedule.name}  ${schedule.expression} ${schedule.timeZone}  ${schedule.enabled ? `next ${schedule.next}` : 'disabled'}`,
        );
      }
      return 0;
    }
    if (action !== 'trigger' || !name)
      throw new UsageError('say "schedules list" or "schedules trigger NAME"');
    const response = await fetch(
      `${local.runtime.control}/__local/schedules/${encodeURIComponent(name)}/trigger`,
      { method: 'POST' },
    );
    const body = (await response.json()) as { id?: string; error?: { message: string } };
    if (!response.ok) throw new Error(body.error?.message ?? `HTTP ${response.status}`);
    console.log(body.id);
    return 0;
  },
};
