import { parseArgs } from 'node:util';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { ApiKeyStore, hashApiKey } from '../../../shared/api/keys.ts';
import { UsageError } from '../args.ts';
import { readRunningLocal } from '../client/target.ts';
import type { Command } from '../main.ts';

const usage = `Usage: spark-t2i keys create --owner NAME [--table TABLE --region R | --data-dir DIR]
       spark-t2i keys revoke (--key KEY | --hash SHA256) [--table TABLE --region R | --data-dir DIR]

Creates an API key for an owner (shown once: only its SHA-256 is stored), or revokes one.
Without --table it acts on the local runtime serving the data dir; with --table (the stack's
ApiKeysTableName output) on AWS, with the default AWS credentials.

Options:
  --owner NAME           owner of the new key (a-z, 0-9, _ and -)
  --key KEY | --hash H   the key to revoke, or its SHA-256
  --table TABLE          the deployed API keys table
  --region R             its region (default: AWS_REGION)
  --data-dir DIR         the local runtime's data dir (default .spark-t2i)
  -h, --help             show this help`;

export const keysCommand: Command = {
  name: 'keys',
  summary: 'create or revoke API keys (local or deployed)',
  usage,
  async run(argv) {
    const { values, positionals } = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: true,
      options: {
        owner: { type: 'string' },
        key: { type: 'string' },
        hash: { type: 'string' },
        table: { type: 'string' },
        region: { type: 'string' },
        'data-dir': { type: 'string', default: '.spark-t2i' },
      },
    });
    const [action] = positionals;
    if (action !== 'create' && action !== 'revoke')
      throw new UsageError('say "keys create" or "keys revoke"');
    const store = await storeFor(values.table, values.region, values['data-dir']);
    if (action === 'create') {
      if (!values.owner) throw new UsageError('keys create needs --owner NAME');
      const created = await store.create(values.owner);
      console.log(created.key);
      process.stderr.write(
        `API key for ${created.owner}; shown only now, store it safely (hash ${created.keyHash})\n`,
      );
      return 0;
    }
    const hash = values.hash ?? (values.key ? hashApiKey(values.key) : undefined);
    if (!hash) throw new UsageError('keys revoke needs --key KEY or --hash SHA256');
    if (!(await store.revoke(hash))) throw new Error(`no key with hash ${hash}`);
    process.stderr.write(
      `revoked ${hash} (API Gateway may keep accepting it for its authorizer cache time)\n`,
    );
    return 0;
  },
};

async function storeFor(
  table: string | undefined,
  region: string | undefined,
  dataDir: string,
): Promise<ApiKeyStore> {
  if (table) {
    const client = new DynamoDBClient(region ? { region } : {});
    return new ApiKeyStore(DynamoDBDocumentClient.from(client), table);
  }
  const local = await readRunningLocal(dataDir);
  if (!local)
    throw new Error(
      `no local runtime serves ${dataDir}: start one with "npm start", or pass --table for AWS`,
    );
  const client = new DynamoDBClient({
    endpoint: local.endpoints.dynamodb.endpoint,
    region: local.endpoints.dynamodb.region,
    credentials: {
      accessKeyId: local.endpoints.s3.accessKeyId,
      secretAccessKey: local.endpoints.s3.secretAccessKey,
    },
  });
  return new ApiKeyStore(DynamoDBDocumentClient.from(client), local.runtime.tables.apiKeys);
}
