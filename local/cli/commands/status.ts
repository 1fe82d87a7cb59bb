import { parseArgs } from 'node:util';
import { integerOption, UsageError } from '../args.ts';
import type { Generation } from '../client/api-client.ts';
import { resolveTarget, TARGET_OPTIONS, TARGET_USAGE } from '../client/target.ts';
import type { Command } from '../main.ts';

function summary(record: Generation): string {
  const parts = [record.id, record.status];
  if (record.costUsd !== undefined) parts.push(`$${record.costUsd}`);
  if (record.error) parts.push(`${record.error.code} ${record.error.message}`);
  if (record.images.length > 0) parts.push(`${record.images.length} image(s)`);
  if (typeof record.createdAt === 'string') parts.push(record.createdAt);
  return parts.join('  ');
}

export const statusCommand: Command = {
  name: 'status',
  summary: 'show one generation',
  usage: `Usage: spark-t2i status ID [--json]\n\nOptions:\n  --json                 the whole record as JSON\n${TARGET_USAGE}\n  -h, --help             show this help`,
  async run(argv) {
    const { values, positionals } = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: true,
      options: { json: { type: 'boolean', default: false }, ...TARGET_OPTIONS },
    });
    if (positionals.length !== 1) throw new UsageError('give one generation id');
    const target = await resolveTarget({
      api: values.api,
      key: values.key,
      dataDir: values['data-dir'],
    });
    const record = await target.client.get(positionals[0] as string);
    console.log(values.json ? JSON.stringify(record, null, 2) : summary(record));
    return 0;
  },
};

export const listCommand: Command = {
  name: 'list',
  summary: 'list generations, newest first',
  usage: `Usage: spark-t2i list [--status S] [--limit N] [--all] [--json]\n\nOptions:\n  --status S             queued, running, completed, failed or cancelled\n  --limit N              per page, 1-100 (default 20)\n  --all                  follow every page\n  --json                 JSON lines\n${TARGET_USAGE}\n  -h, --help             show this help`,
  async run(argv) {
    const { values } = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: false,
      options: {
        status: { type: 'string' },
        limit: { type: 'string' },
        all: { type: 'boolean', default: false },
        json: { type: 'boolean', default: false },
        ...TARGET_OPTIONS,
      },
    });
    const limit = integerOption('limit', values.limit, 20, { min: 1, max: 100 });
    const target = await resolveTarget({
      api: values.api,
      key: values.key,
      dataDir: values['data-dir'],
    });
    let cursor: string | undefined;
    do {
      const page = await target.client.list({ status: values.status, limit, cursor });
      for (const record of page.items)
        console.log(values.json ? JSON.stringify(record) : summary(record));
      cursor = values.all ? page.nextCursor : undefined;
    } while (cursor);
    return 0;
  },
};
