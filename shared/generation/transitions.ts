/**
 * Every write that moves a generation record, as data: the update expression, its condition, the
 * attribute names and the values the transition fixes (statuses, index partitions). The
 * repository (repository.ts) sends them from the functions, and the workflow's DynamoDB tasks
 * (infra/constructs/workflow/record-tasks.ts) are built from the same definitions, so the state
 * machine and the Lambda code cannot drift apart.
 *
 * Records move forward only: every status write is conditional on a status the record can leave,
 * so a late or duplicated step never overwrites a terminal record.
 *
 * No SDK import: the infrastructure code imports this module.
 */
import { OUTBOX, UNFINISHED } from './model.ts';

/** One conditional update of a record, less its key and the values each write gives. */
export interface TransitionDefinition {
  readonly updateExpression: string;
  readonly conditionExpression: string;
  readonly attributeNames: Readonly<Record<string, string>>;
  /** Values the definition fixes; the writer supplies every other placeholder. */
  readonly fixedValues: Readonly<Record<string, string>>;
}

const STATUS_NAMES = { '#status': 'status' } as const;
const ACTIVE = { ':queued': 'queued', ':running': 'running' } as const;
const WHILE_ACTIVE = '#status IN (:queued, :running)';

/**
 * What a final-status write does with the record's place in the sparse `unfinished` index:
 * `leave` takes it out; `outbox` moves it to the outbox partition with the event it owes
 * (`:event`) and its expiry (`:expiresAt`, kept when the record has one already).
 */
type IndexExit = 'leave' | 'outbox';

/**
 * The one shape of every final-status write: status and its owner/status key, the outcome's own
 * attributes, the times, and the record out of the unfinished index.
 */
function finalStatusWrite(
  status: 'completed' | 'failed' | 'cancelled',
  outcome: { readonly sets: readonly string[]; readonly names: Record<string, string> },
  condition: { readonly expression: string; readonly names?: Record<string, string> },
  exit: IndexExit,
): TransitionDefinition {
  const sets = [
    `#status = :${status}`,
    'ownerStatus = :ownerStatus',
    ...outcome.sets,
    'updatedAt = :now',
    'completedAt = :now',
  ];
  const tail =
    exit === 'leave'
      ? ' REMOVE unfinished'
      : ', expiresAt = if_not_exists(expiresAt, :expiresAt), pendingEvent = :event, unfinished = :outbox';
  return {
    updateExpression: `SET ${sets.join(', ')}${tail}`,
    conditionExpression: condition.expression,
    attributeNames: { ...STATUS_NAMES, ...outcome.names, ...condition.names },
    fixedValues: {
      [`:${status}`]: status,
      ...(condition.expression.includes(':running') ? ACTIVE : { ':queued': 'queued' }),
      ...(exit === 'outbox' && { ':outbox': OUTBOX }),
    },
  };
}

const WITH_ERROR = { sets: ['#error = :error'], names: { '#error': 'error' } };

export const Transitions = {
  /**
   * The workflow's RecordQueued: prompt files and schedules create the record here; an HTTP
   * record (written by the API before its 202) is left as it is. Running is allowed too: a
   * generation carried on after a restart (or redriven) starts here again.
   */
  queued: {
    updateExpression: [
      'SET #status = if_not_exists(#status, :queued)',
      '#owner = if_not_exists(#owner, :owner)',
      'ownerStatus = if_not_exists(ownerStatus, :ownerStatus)',
      '#request = if_not_exists(#request, :request)',
      '#source = if_not_exists(#source, :source)',
      'sourceRef = if_not_exists(sourceRef, :sourceRef)',
      'polls = if_not_exists(polls, :zero)',
      'images = if_not_exists(images, :noImages)',
      'createdAt = if_not_exists(createdAt, :now)',
      'unfinished = :unfinished',
      'updatedAt = :now',
    ].join(', '),
    conditionExpression: `attribute_not_exists(id) OR ${WHILE_ACTIVE}`,
    attributeNames: {
      ...STATUS_NAMES,
      '#owner': 'owner',
      '#request': 'request',
      '#source': 'source',
    },
    fixedValues: { ...ACTIVE, ':unfinished': UNFINISHED },
  },

  /** The provider task exists: recorded before anything else can fail (no second paid task). */
  taskCreated: {
    updateExpression:
      'SET sparkTaskId = :task, #status = :running, ownerStatus = :ownerStatus, updatedAt = :now',
    conditionExpression: `attribute_exists(id) AND attribute_not_exists(sparkTaskId) AND ${WHILE_ACTIVE}`,
    attributeNames: STATUS_NAMES,
    fixedValues: ACTIVE,
  },

  /** Progress of a running generation; never moves the count back. */
  pollsCounted: {
    updateExpression: 'SET polls = :polls, updatedAt = :now',
    conditionExpression: '#status = :running AND (attribute_not_exists(polls) OR polls < :polls)',
    attributeNames: STATUS_NAMES,
    fixedValues: { ':running': 'running' },
  },

  /**
   * The workflow's RecordSuccess: images, usage and cost from the steps' results, and the expiry
   * PollTask computed (a state machine cannot), unless the record has one from its creation.
   */
  succeeded: finalStatusWrite(
    'completed',
    {
      sets: [
        'images = :images',
        '#usage = :usage',
        'costUsd = :costUsd',
        'polls = :polls',
        'expiresAt = if_not_exists(expiresAt, :expiresAt)',
      ],
      names: { '#usage': 'usage' },
    },
    { expression: WHILE_ACTIVE },
    'leave',
  ),

  /** The workflow's RecordFailure; its PublishFailed state tells the world. */
  failed: finalStatusWrite('failed', WITH_ERROR, { expression: WHILE_ACTIVE }, 'leave'),

  /** The reconciler's failure of an execution that died: the event goes through the outbox. */
  failedWithEvent: finalStatusWrite('failed', WITH_ERROR, { expression: WHILE_ACTIVE }, 'outbox'),

  /** The owner's cancel (`:owner` guards the owner): the event goes through the outbox. */
  cancelled: finalStatusWrite(
    'cancelled',
    WITH_ERROR,
    { expression: `#owner = :owner AND ${WHILE_ACTIVE}`, names: { '#owner': 'owner' } },
    'outbox',
  ),

  /** The API could not start the workflow of a record it wrote: never left queued. */
  notStarted: finalStatusWrite('failed', WITH_ERROR, { expression: '#status = :queued' }, 'leave'),

  /**
   * The workflow's publish failed after its retries: the terminal record keeps the event it owes
   * (`:event`), so the reconciler's sweep publishes it later rather than it being lost.
   */
  eventOwed: (status: 'completed' | 'failed'): TransitionDefinition => ({
    updateExpression: 'SET pendingEvent = :event, unfinished = :outbox',
    conditionExpression: `#status = :${status}`,
    attributeNames: STATUS_NAMES,
    fixedValues: { [`:${status}`]: status, ':outbox': OUTBOX },
  }),

  /**
   * The owed event was published: off the record and out of the index, and the record's expiry
   * set if it has none (one written by the workflow). Conditional on that very event (its type
   * and time), so a late second clear does nothing and a newer event is kept.
   */
  eventPublished: {
    updateExpression:
      'SET expiresAt = if_not_exists(expiresAt, :expiresAt) REMOVE pendingEvent, unfinished',
    conditionExpression: 'pendingEvent.detailType = :detailType AND pendingEvent.#at = :at',
    attributeNames: { '#at': 'at' },
    fixedValues: {},
  },

  /** A terminal record's expiry, for one the workflow wrote (it cannot compute epoch seconds). */
  expiryStamped: {
    updateExpression: 'SET expiresAt = :expiresAt',
    conditionExpression:
      'attribute_not_exists(expiresAt) AND #status IN (:completed, :failed, :cancelled)',
    attributeNames: STATUS_NAMES,
    fixedValues: { ':completed': 'completed', ':failed': 'failed', ':cancelled': 'cancelled' },
  },
} as const satisfies Record<
  string,
  TransitionDefinition | ((status: 'completed' | 'failed') => TransitionDefinition)
>;

/**
 * A transition as the input of an UpdateItem of record `id` (or the Update of a transaction): its
 * definition with the values this write gives.
 */
export function updateOf(
  tableName: string,
  id: string,
  definition: TransitionDefinition,
  values: Readonly<Record<string, unknown>>,
) {
  return {
    TableName: tableName,
    Key: { id },
    UpdateExpression: definition.updateExpression,
    ConditionExpression: definition.conditionExpression,
    ExpressionAttributeNames: { ...definition.attributeNames },
    ExpressionAttributeValues: { ...definition.fixedValues, ...values },
  };
}

/** The event a record owes, written by the transition that makes it due. */
export interface PendingEvent {
  /** A detail-type of the catalogue (events.ts); the detail is rebuilt from the record. */
  readonly detailType: string;
  /** When it became due (ISO 8601): its identity, and its age for the sweep's grace. */
  readonly at: string;
}
