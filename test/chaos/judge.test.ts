/**
 * The chaos suite's judge (test/chaos/suite.ts) must be able to fail: a completed generation's
 * image is held to the bytes the provider served, a failed generation's code to the fault in the
 * last answer the provider gave it, and runs of failed answers are counted per state entry.
 */
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { FaultKind } from '#local/simulator/faults.ts';
import type { JournalEntry } from '#local/simulator/journal.ts';
import { ErrorCodes } from '#shared/errors/codes.ts';
import {
  causeOfFailure,
  EXPECTED_CODES,
  failedAnswer,
  longestFailureRun,
  storedImageProblem,
} from './suite.ts';

const entry = (
  request: JournalEntry['request'],
  status: number,
  faults: FaultKind[] = [],
  extra: Partial<JournalEntry> = {},
): JournalEntry => ({ at: 0, request, status, faults, taskId: 't1', ...extra });
const plainTask = { privateUrl: () => false, pollsExhausted: false };

describe('storedImageProblem', () => {
  const bytes = Buffer.from('an image, as the simulator served it');
  const sha256 = createHash('sha256').update(bytes).digest('hex');
  const recorded = { bucket: 'images', key: 'images/local/g1/0.png', sha256 };

  it('accepts an object with the recorded and served SHA-256', () => {
    expect(storedImageProblem(recorded, { sha256 }, bytes)).toBeUndefined();
  });

  it.each([
    ['missing', undefined],
    ['left empty by a killed server', new Uint8Array(0)],
    ['cut short by a killed server', bytes.subarray(0, 10)],
    ['different bytes', Buffer.from('another image')],
  ])('fails an acknowledged object that is %s, whatever the record says', (_name, stored) => {
    expect(storedImageProblem(recorded, { sha256 }, stored)).toMatch(recorded.key);
  });

  it('fails an object whose record matches it but not what was served', () => {
    expect(storedImageProblem(recorded, { sha256: 'f'.repeat(64) }, bytes)).toMatch(/served f+/);
  });
});

describe('causeOfFailure', () => {
  it.each([
    ['a 503 create', [entry('create', 503, ['create5xx'])], ErrorCodes.HTTP_ERROR_RESPONSE],
    ['a held create', [entry('create', 200, ['slow'])], ErrorCodes.PROVIDER_TIMEOUT],
    [
      'a 429 for the concurrency limit',
      [entry('create', 429, [], { refusal: 'busy' })],
      ErrorCodes.PROVIDER_THROTTLED,
    ],
    [
      'a held poll that was also malformed',
      [entry('poll', 200, ['pollMalformed', 'slow'])],
      ErrorCodes.PROVIDER_TIMEOUT,
    ],
    ['a malformed poll', [entry('poll', 200, ['pollMalformed'])], ErrorCodes.RESULT_PARSING_ERROR],
    [
      'a poll that saw the task fail',
      [entry('poll', 200, [], { taskStatus: 'failed' })],
      ErrorCodes.INTERNAL_GENERATION_ERROR,
    ],
    [
      'a truncated image, held first',
      [entry('image', 200, ['slow', 'imageTruncated'])],
      ErrorCodes.IMAGE_TRUNCATED,
    ],
    [
      'a 404 image after a truncated one',
      [entry('image', 200, ['imageTruncated']), entry('image', 404, ['image404'])],
      ErrorCodes.IMAGE_DOWNLOAD_FAILED,
    ],
  ])('holds a generation ended by %s to %s', (_name, entries, code) => {
    expect(causeOfFailure(entries, plainTask).expected).toContain(code);
  });

  it('expects the refused-URL code for a completed task that points inside the network', () => {
    const last = entry('poll', 200, [], { taskStatus: 'completed' });
    expect(causeOfFailure([last], { ...plainTask, privateUrl: () => true }).expected).toEqual([
      ErrorCodes.IMAGE_URL_REFUSED,
    ]);
    expect(causeOfFailure([last], plainTask).expected).toEqual([]);
  });

  it('allows no code at all when the last answer was a plain one, or there was none', () => {
    expect(causeOfFailure([entry('image', 200)], plainTask).expected).toEqual([]);
    expect(causeOfFailure([], plainTask).expected).toEqual([]);
  });

  it('maps every fault kind to documented codes only', () => {
    const documented = new Set<string>(Object.values(ErrorCodes));
    for (const codes of Object.values(EXPECTED_CODES)) {
      for (const code of codes) expect(documented).toContain(code);
    }
  });
});

describe('longestFailureRun', () => {
  it('counts failed answers in a row, a plain answer and a kill each ending a run', () => {
    const at = (ms: number, faults: FaultKind[]) => ({ ...entry('poll', 200, faults), at: ms });
    const sequence = [
      at(1, ['poll5xx']),
      at(2, ['poll429']),
      at(3, []),
      at(4, ['pollMalformed']),
      at(5, ['poll5xx']),
      at(6, ['poll5xx']),
      at(8, ['poll5xx']),
    ];
    expect(longestFailureRun(sequence, [])).toBe(4);
    expect(longestFailureRun(sequence, [7])).toBe(3);
  });

  it('does not count a held image that arrived whole', () => {
    expect(failedAnswer(entry('image', 200, ['slow']))).toBeUndefined();
    expect(failedAnswer(entry('poll', 200, ['slow']))).toBe('slow');
  });
});
