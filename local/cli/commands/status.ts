import { commandArgs, UsageError } from '#local/cli/args.ts';
import { describeRecord } from '#local/cli/client/records.ts';
import { resolveTarget, TARGET_OPTIONS, TARGET_USAGE } from '#local/cli/client/target.ts';
import type { Command } from '#local/cli/main.ts';

const usage = `Usage: spark-t2i status ID [options]

Shows one generation: its status, request, images (with fresh pre-signed URLs in --json), cost
and, if it failed, its error code. Uses --api, else the local runtime serving the data dir.

Options:
  --json                 the whole record as JSON (as GET /generations/{id} answers it)
${TARGET_USAGE}
  -h, --help             show this help

Exit code: 0 found (whatever its status), 1 unknown id (404) or any other error.`;

export const statusCommand: Command = {
  name: 'status',
  summary: 'show one generation',
  usage,
  async run(argv) {
    const args = commandArgs(argv, usage, {
      json: { type: 'boolean', default: false },
      ...TARGET_OPTIONS,
    });
    if (args === undefined) return 0;
    const { values, positionals } = args;
    const [id] = positionals;
    if (id === undefined || positionals.length !== 1)
      throw new UsageError('give one generation id');
    const target = await resolveTarget({
      api: values.api,
      key: values.key,
      dataDir: values['data-dir'],
    });
    try {
      const record = await target.client.get(id);
      console.log(values.json ? JSON.stringify(record, null, 2) : describeRecord(record));
      return 0;
    } finally {
      await target.close();
    }
  },
};
