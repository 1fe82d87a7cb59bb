/** What a started runtime leaves in its data dir for the tools that reach it. */
import { join } from 'node:path';
import { LOCAL_KEY_FILE } from '#local/runtime/api-keys.ts';
import { writePrivateFile } from '#local/runtime/private-files.ts';
import type { Endpoints } from '#local/runtime/types.ts';

/**
 * `endpoints.json` (what outside tools read) and `runtime.json` (the CLI's way to the control
 * plane and the tables). Both are the user's alone: the one holds the S3 credentials, the other
 * the URL of the control plane, which starts generations for any owner.
 */
export async function writeRuntimeFiles(
  dataDir: string,
  endpoints: Endpoints,
  runtime: {
    readonly control: string;
    readonly tables: {
      readonly generations: string;
      readonly apiKeys: string;
      readonly idempotency: string | undefined;
      readonly batches: string | undefined;
    };
  },
): Promise<void> {
  await writePrivateFile(
    join(dataDir, 'endpoints.json'),
    `${JSON.stringify(endpoints, null, 2)}\n`,
  );
  await writePrivateFile(
    join(dataDir, 'runtime.json'),
    `${JSON.stringify(
      {
        pid: process.pid,
        control: runtime.control,
        apiKeyFile: join(dataDir, LOCAL_KEY_FILE),
        tables: runtime.tables,
      },
      null,
      2,
    )}\n`,
  );
}
