import { defineCommand, onePositional } from '#local/cli/args.ts';
import { describeRecord } from '#local/cli/client/records.ts';
import { resolveTarget, TARGET_OPTIONS, TARGET_USAGE, targetOf } from '#local/cli/client/target.ts';

const usage = `Usage: spark-t2i status ID [options]

Shows one generation: its status, request, images (with fresh pre-signed URLs in --json), cost
and, if it failed, its error code. Uses --api, else the local runtime serving the data dir.

Options:
  --json                 the whole record as JSON (as GET /generations/{id} answers it)
${TARGET_USAGE}
  -h, --help             show this help

Exit code: 0 found (whatever its status), 1 unknown id (404) or any other error.`;

export const statusCommand = defineCommand({
  name: 'status',
  summary: 'show one generation',
  usage,
  options: {
    json: { type: 'boolean', default: false },
    ...TARGET_OPTIONS,
  },
  async run({ values, positionals }) {
    const id = onePositional(positionals, 'generation id');
    const target = await resolveTarget(targetOf(values));
    try {
      const record = await target.client.get(id);
      console.log(values.json ? JSON.stringify(record, null, 2) : describeRecord(record));
      return 0;
    } finally {
      await target.close();
    }
  },
});
