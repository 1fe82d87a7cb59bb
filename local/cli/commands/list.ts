import { defineCommand, integerOption, UsageError } from '#local/cli/args.ts';
import type { Generation } from '#local/cli/client/api-client.ts';
import { recordTable } from '#local/cli/client/records.ts';
import { resolveTarget, TARGET_OPTIONS, TARGET_USAGE, targetOf } from '#local/cli/client/target.ts';
import { LIST_LIMIT_DEFAULT, LIST_LIMIT_MAX } from '#shared/api/limits.ts';
import { GENERATION_STATUSES } from '#shared/generation/model.ts';

const usage = `Usage: spark-t2i list [options]

Lists your generations, newest first (GET /generations). Uses --api, else the local runtime
serving the data dir.

Options:
  --status S             only ${GENERATION_STATUSES.join(', ')}
  --limit N              generations per page, 1-${LIST_LIMIT_MAX} (default ${LIST_LIMIT_DEFAULT})
  --all                  follow nextCursor to the last page
  --cursor C             start at this page (a nextCursor printed before)
  --json                 a JSON array of the records (as the API answers them)
${TARGET_USAGE}
  -h, --help             show this help`;

export const listCommand = defineCommand({
  name: 'list',
  summary: 'list generations, newest first',
  usage,
  options: {
    status: { type: 'string' },
    limit: { type: 'string' },
    all: { type: 'boolean', default: false },
    cursor: { type: 'string' },
    json: { type: 'boolean', default: false },
    ...TARGET_OPTIONS,
  },
  async run({ values, positionals }) {
    if (positionals.length > 0) throw new UsageError(`unexpected argument "${positionals[0]}"`);
    const { status } = values;
    if (status !== undefined && !(GENERATION_STATUSES as readonly string[]).includes(status)) {
      throw new UsageError(
        `--status must be one of ${GENERATION_STATUSES.join(', ')}, got "${status}"`,
      );
    }
    const limit = integerOption('limit', values.limit, LIST_LIMIT_DEFAULT, {
      min: 1,
      max: LIST_LIMIT_MAX,
    });
    const target = await resolveTarget(targetOf(values));
    try {
      const records: Generation[] = [];
      let cursor = values.cursor;
      let more: string | undefined;
      const seen = new Set<string>();
      for (;;) {
        const page = await target.client.list({
          ...(status !== undefined && { status }),
          limit,
          ...(cursor !== undefined && { cursor }),
        });
        records.push(...page.items);
        more = page.nextCursor;
        if (!values.all || more === undefined || more === '') break;
        // A cursor met twice would loop for ever; the API never gives one, but be sure.
        if (seen.has(more)) throw new Error('the API answered the same nextCursor twice');
        seen.add(more);
        cursor = more;
      }
      if (values.json) {
        console.log(JSON.stringify(records, null, 2));
      } else if (records.length === 0) {
        console.log(status === undefined ? 'no generations' : `no ${status} generations`);
      } else {
        for (const line of recordTable(records)) console.log(line);
      }
      if (!values.all && more) {
        console.error(`more: spark-t2i list --all, or --cursor ${more}`);
      }
      return 0;
    } finally {
      await target.close();
    }
  },
});
