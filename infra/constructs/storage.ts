import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import { AttributeType, Billing, ProjectionType, TableV2 } from 'aws-cdk-lib/aws-dynamodb';
import {
  BlockPublicAccess,
  Bucket,
  BucketEncryption,
  HttpMethods,
  ObjectOwnership,
  StorageClass,
} from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { API_KEYS_BY_OWNER_INDEX } from '#shared/api/key-table.ts';
import { BatchesTableSchema } from '#shared/batches/model.ts';
import { GenerationsTableSchema } from '#shared/generation/model.ts';
import { DEFAULT_RECORD_RETENTION_DAYS } from '#shared/generation/retention.ts';
import { SlotsTableSchema } from '#shared/generation/slot-store.ts';

export interface StorageProps {
  /** Images move to Infrequent Access after this many days; 0 = never. @default 30 */
  readonly imagesInfrequentAccessDays?: number;
  /** Reports and prompt files expire after this many days; 0 = never. @default 90 */
  readonly inputRetentionDays?: number;
  /**
   * Generation records are deleted by DynamoDB's TTL this many days after their creation (the
   * `expiresAt` every writer sets). @default 90
   */
  readonly recordRetentionDays?: number;
  /** Removal policy of buckets and tables. @default RemovalPolicy.RETAIN */
  readonly removalPolicy?: RemovalPolicy;
}

/**
 * Where the pipeline keeps things: the images bucket (the users' results), the input bucket
 * (prompt files and their reports), a bucket for both buckets' access logs, and the DynamoDB
 * tables of generations, API keys and idempotency records.
 */
export class Storage extends Construct {
  public readonly imagesBucket: Bucket;
  public readonly inputBucket: Bucket;
  public readonly accessLogsBucket: Bucket;
  /** One item per generation; GSIs list an owner's generations newest first, with or without a status. */
  public readonly generationsTable: TableV2;
  /** Batches: a head item and counter shards per batch (shared/batches/model.ts). */
  public readonly batchesTable: TableV2;
  /** One item per API key, keyed by the key's SHA-256; the key itself is never stored. */
  public readonly apiKeysTable: TableV2;
  /** Powertools idempotency records of `Idempotency-Key` requests (24 h TTL). */
  public readonly idempotencyTable: TableV2;
  /**
   * The provider-wide concurrency cap: the semaphore item (who holds a slot) and the queue of
   * waiting executions' task tokens.
   */
  public readonly slotsTable: TableV2;
  /**
   * Days a generation record is kept; the functions that write records get it as
   * {@link recordRetentionEnvironment}.
   */
  public readonly recordRetentionDays: number;

  constructor(scope: Construct, id: string, props: StorageProps = {}) {
    super(scope, id);
    const retentionDays = props.recordRetentionDays ?? DEFAULT_RECORD_RETENTION_DAYS;
    if (!Number.isInteger(retentionDays) || retentionDays < 1) {
      throw new Error(
        `recordRetentionDays must be a whole number of days, at least 1 (got ${retentionDays})`,
      );
    }
    this.recordRetentionDays = retentionDays;
    const removalPolicy = props.removalPolicy ?? RemovalPolicy.RETAIN;
    const autoDeleteObjects = removalPolicy === RemovalPolicy.DESTROY;

    this.accessLogsBucket = new Bucket(this, 'AccessLogs', {
      blockPublicAccess: BlockPublicAccess.BLOCK_ALL,
      encryption: BucketEncryption.S3_MANAGED,
      enforceSSL: true,
      objectOwnership: ObjectOwnership.BUCKET_OWNER_PREFERRED,
      lifecycleRules: [{ expiration: Duration.days(90) }],
      removalPolicy,
      autoDeleteObjects,
    });

    const imagesIa = props.imagesInfrequentAccessDays ?? 30;
    this.imagesBucket = new Bucket(this, 'Images', {
      blockPublicAccess: BlockPublicAccess.BLOCK_ALL,
      encryption: BucketEncryption.S3_MANAGED,
      enforceSSL: true,
      versioned: false,
      serverAccessLogsBucket: this.accessLogsBucket,
      serverAccessLogsPrefix: 'images/',
      // Pre-signed GETs are made for browsers too.
      cors: [{ allowedMethods: [HttpMethods.GET], allowedOrigins: ['*'], maxAge: 3600 }],
      lifecycleRules: [
        { abortIncompleteMultipartUploadAfter: Duration.days(1) },
        ...(imagesIa > 0
          ? [
              {
                transitions: [
                  {
                    storageClass: StorageClass.INFREQUENT_ACCESS,
                    transitionAfter: Duration.days(Math.max(30, imagesIa)),
                  },
                ],
              },
            ]
          : []),
      ],
      removalPolicy,
      autoDeleteObjects,
    });

    const inputDays = props.inputRetentionDays ?? 90;
    this.inputBucket = new Bucket(this, 'Input', {
      blockPublicAccess: BlockPublicAccess.BLOCK_ALL,
      encryption: BucketEncryption.S3_MANAGED,
      enforceSSL: true,
      // Versions give each upload of a prompt file its own identity (the generation ids use it).
      versioned: true,
      serverAccessLogsBucket: this.accessLogsBucket,
      serverAccessLogsPrefix: 'input/',
      lifecycleRules: [
        { abortIncompleteMultipartUploadAfter: Duration.days(1) },
        { noncurrentVersionExpiration: Duration.days(30) },
        ...(inputDays > 0 ? [{ expiration: Duration.days(inputDays) }] : []),
      ],
      removalPolicy,
      autoDeleteObjects,
    });

    const schema = GenerationsTableSchema;
    this.generationsTable = new TableV2(this, 'Generations', {
      partitionKey: { name: schema.partitionKey, type: AttributeType.STRING },
      billing: Billing.onDemand(),
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      timeToLiveAttribute: schema.timeToLiveAttribute,
      deletionProtection: removalPolicy === RemovalPolicy.RETAIN,
      removalPolicy,
      globalSecondaryIndexes: [
        schema.byOwnerIndex,
        schema.byOwnerStatusIndex,
        schema.unfinishedIndex,
      ].map((index) => ({
        indexName: index.name,
        partitionKey: { name: index.partitionKey, type: AttributeType.STRING },
        sortKey: { name: index.sortKey, type: AttributeType.STRING },
      })),
    });
    // A batch's lines in line order: the sort key is the line number.
    this.generationsTable.addGlobalSecondaryIndex({
      indexName: schema.byBatchIndex.name,
      partitionKey: { name: schema.byBatchIndex.partitionKey, type: AttributeType.STRING },
      sortKey: { name: schema.byBatchIndex.sortKey, type: AttributeType.NUMBER },
    });

    const batches = BatchesTableSchema;
    this.batchesTable = new TableV2(this, 'Batches', {
      partitionKey: { name: batches.partitionKey, type: AttributeType.STRING },
      billing: Billing.onDemand(),
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      timeToLiveAttribute: batches.timeToLiveAttribute,
      deletionProtection: removalPolicy === RemovalPolicy.RETAIN,
      removalPolicy,
      globalSecondaryIndexes: [
        batches.byOwnerIndex,
        batches.byOwnerStatusIndex,
        batches.outboxIndex,
      ].map((index) => ({
        indexName: index.name,
        partitionKey: { name: index.partitionKey, type: AttributeType.STRING },
        sortKey: { name: index.sortKey, type: AttributeType.STRING },
      })),
    });

    this.apiKeysTable = new TableV2(this, 'ApiKeys', {
      partitionKey: { name: 'keyHash', type: AttributeType.STRING },
      // Which owners have a key: a prompt file under prompts/<owner>/ needs one.
      globalSecondaryIndexes: [
        {
          indexName: API_KEYS_BY_OWNER_INDEX.name,
          partitionKey: { name: API_KEYS_BY_OWNER_INDEX.partitionKey, type: AttributeType.STRING },
          projectionType: ProjectionType.INCLUDE,
          nonKeyAttributes: [...API_KEYS_BY_OWNER_INDEX.projected],
        },
      ],
      billing: Billing.onDemand(),
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      deletionProtection: removalPolicy === RemovalPolicy.RETAIN,
      removalPolicy,
    });

    this.idempotencyTable = new TableV2(this, 'Idempotency', {
      partitionKey: { name: 'id', type: AttributeType.STRING },
      billing: Billing.onDemand(),
      // Short-lived records: recovery adds nothing, TTL cleans them up.
      timeToLiveAttribute: 'expiration',
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      removalPolicy: RemovalPolicy.DESTROY,
    });

    this.slotsTable = new TableV2(this, 'Slots', {
      partitionKey: { name: SlotsTableSchema.partitionKey, type: AttributeType.STRING },
      sortKey: { name: SlotsTableSchema.sortKey, type: AttributeType.STRING },
      billing: Billing.onDemand(),
      // Live coordination state only: after a restore the reconciler rebuilds what matters.
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      removalPolicy: RemovalPolicy.DESTROY,
    });
  }
}
