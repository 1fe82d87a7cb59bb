/** GET / and GET /console/{file} (no auth): the console page, served by the API itself. */
import { consoleAssets } from '#console/assets.ts';
import { httpHandler } from '#shared/api/http-handler.ts';
import { consolePolicyFromEnv } from '#shared/console/config.ts';
import { answerConsole } from '#shared/console/page.ts';

const policy = consolePolicyFromEnv();

export const handler = httpHandler(async (event) =>
  answerConsole(event, await consoleAssets(), policy),
);
