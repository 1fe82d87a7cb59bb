/** The caller's `metadata` of a submission (a generation, a batch), checked one way. */
import { ErrorCodes } from '#shared/errors/codes.ts';
import { isPlainObject } from '#shared/json.ts';
import { BadRequestError } from './errors.ts';
import { MAX_METADATA_DEPTH, valueNestsDeeperThan } from './json-limits.ts';

/**
 * The caller's `metadata` checked (a JSON object, not too deep, at most `maxBytes` of JSON) and
 * serialised: the text the record stores. 400 `090004010` otherwise.
 */
export function validateMetadata(metadata: unknown, maxBytes: number): string {
  const invalid = (message: string) =>
    new BadRequestError(ErrorCodes.API_INVALID_METADATA, message, {
      details: [{ code: ErrorCodes.API_INVALID_METADATA, message, field: 'metadata' }],
    });
  if (!isPlainObject(metadata)) throw invalid('metadata must be a JSON object');
  // Before it is serialised: JSON.stringify recurses, and throws RangeError thousands deep.
  if (valueNestsDeeperThan(metadata, MAX_METADATA_DEPTH)) {
    throw invalid(`metadata nests objects and arrays deeper than ${MAX_METADATA_DEPTH} levels`);
  }
  // Stored as this text, not as a DynamoDB map: any JSON object round-trips unchanged, whatever
  // its numbers (a map refuses integers past 2^53 and magnitudes outside 1e-130..1e126), its
  // depth (a map nests 32 levels at most) or its keys.
  const metadataJson = JSON.stringify(metadata);
  const bytes = Buffer.byteLength(metadataJson, 'utf8');
  if (bytes > maxBytes) {
    throw invalid(`metadata is ${bytes} bytes of JSON; at most ${maxBytes} are accepted`);
  }
  return metadataJson;
}
