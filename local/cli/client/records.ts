/** How a generation reads for a person: a block for `status`, a row for `list`. */
import type { Generation } from './api-client.ts';
import { formatTable, truncate } from './output.ts';

/** A few labelled lines: what was asked, where it is, what it cost, how it ended. */
export function describeRecord(record: Generation): string {
  const request = record.request;
  const rows: string[][] = [
    ['id', record.id],
    ['status', record.status],
    ['source', record.sourceRef ? `${record.source} (${record.sourceRef})` : record.source],
  ];
  if (request) {
    rows.push(['prompt', truncate(request.prompt, 200)]);
    rows.push([
      'request',
      `${request.width}x${request.height}, seed ${request.seed}, pre-LLM ${request.use_pre_llm ? 'on' : 'off'}`,
    ]);
  }
  if (record.sparkTaskId) rows.push(['spark task', record.sparkTaskId]);
  rows.push(['polls', String(record.polls ?? 0)]);
  if (record.costUsd !== undefined && record.costUsd !== null)
    rows.push(['cost', `$${record.costUsd}`]);
  if (record.error) rows.push(['error', `${record.error.code} ${record.error.message}`]);
  for (const [index, image] of (record.images ?? []).entries()) {
    rows.push([
      `image ${index}`,
      `s3://${image.bucket}/${image.key}  ${image.width}x${image.height} ${image.contentType} ${image.size} bytes`,
    ]);
  }
  rows.push(['created', record.createdAt]);
  rows.push(['updated', record.updatedAt]);
  if (record.completedAt) rows.push(['completed', record.completedAt]);
  return formatTable(rows.map(([label, value]) => [`${label}:`, value ?? ''])).join('\n');
}

/** One row per generation under a header, columns aligned. */
export function recordTable(records: readonly Generation[]): string[] {
  return formatTable([
    ['ID', 'STATUS', 'SOURCE', 'CREATED', 'SIZE', 'COST', 'PROMPT / ERROR'],
    ...records.map((record) => [
      record.id,
      record.status,
      record.source,
      record.createdAt,
      record.request ? `${record.request.width}x${record.request.height}` : '-',
      record.costUsd !== undefined && record.costUsd !== null ? `$${record.costUsd}` : '-',
      record.error
        ? `${record.error.code} ${truncate(record.error.message, 50)}`
        : truncate(record.request?.prompt ?? '', 50),
    ]),
  ]);
}
