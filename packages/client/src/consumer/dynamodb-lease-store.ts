import {
  type AttributeValue,
  CreateTableCommand,
  DeleteItemCommand,
  DescribeTableCommand,
  DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
  ScanCommand,
  UpdateItemCommand,
} from '@aws-sdk/client-dynamodb';
import { awsErrorName, ConsumerError, ConsumerErrorCode } from './errors.js';
import type { Lease, LeaseChanges, LeaseCondition, LeaseStore } from './lease.js';

export interface DynamoDbLeaseStoreOptions {
  client: DynamoDBClient;
  /** Default: the consumer's applicationName, as the KCL (checklist 3.2). */
  tableName?: string;
  /** How long initialize() waits for a new table to become ACTIVE, ms. */
  createTableTimeoutMs?: number;
}

type Item = Record<string, AttributeValue>;

/** Lease fields and their DynamoDB attribute names and types: the KCL's schema (checklist 3.2). */
const ATTR = {
  leaseKey: 'leaseKey',
  leaseOwner: 'leaseOwner',
  leaseCounter: 'leaseCounter',
  checkpoint: 'checkpoint',
  checkpointSubSequenceNumber: 'checkpointSubSequenceNumber',
  pendingCheckpoint: 'pendingCheckpoint',
  pendingCheckpointSubSequenceNumber: 'pendingCheckpointSubSequenceNumber',
  pendingCheckpointState: 'pendingCheckpointState',
  ownerSwitchesSinceCheckpoint: 'ownerSwitchesSinceCheckpoint',
  parentShardIds: 'parentShardId',
  childShardIds: 'childShardIds',
  startingHashKey: 'startingHashKey',
  endingHashKey: 'endingHashKey',
  checkpointOwner: 'checkpointOwner',
} as const satisfies Record<keyof Lease, string>;

const NUMBER_FIELDS = new Set<string>(['leaseCounter', 'checkpointSubSequenceNumber', 'pendingCheckpointSubSequenceNumber', 'ownerSwitchesSinceCheckpoint']);
const SET_FIELDS = new Set<string>(['parentShardIds', 'childShardIds']);

function toAttr(field: string, v: unknown): AttributeValue | undefined {
  if (v === undefined || v === null) return undefined;
  if (NUMBER_FIELDS.has(field)) return { N: String(v) };
  if (SET_FIELDS.has(field)) {
    const a = v as readonly string[];
    // A DynamoDB string set cannot be empty: an empty list is an absent attribute.
    return a.length > 0 ? { SS: [...a] } : undefined;
  }
  if (v instanceof Uint8Array) return { B: v };
  return { S: String(v) };
}

export function toItem(l: Lease): Item {
  const item: Item = {};
  for (const [field, attr] of Object.entries(ATTR)) {
    const a = toAttr(field, (l as unknown as Record<string, unknown>)[field]);
    if (a) item[attr] = a;
  }
  return item;
}

export function fromItem(item: Item): Lease {
  const s = (k: string) => item[k]?.S;
  const n = (k: string) => (item[k]?.N !== undefined ? Number(item[k]?.N) : undefined);
  const out: Record<string, unknown> = {
    leaseKey: s(ATTR.leaseKey) ?? '',
    leaseCounter: n(ATTR.leaseCounter) ?? 0,
    checkpoint: s(ATTR.checkpoint) ?? 'TRIM_HORIZON',
    checkpointSubSequenceNumber: n(ATTR.checkpointSubSequenceNumber) ?? 0,
    ownerSwitchesSinceCheckpoint: n(ATTR.ownerSwitchesSinceCheckpoint) ?? 0,
    parentShardIds: [...(item[ATTR.parentShardIds]?.SS ?? [])].sort(),
    childShardIds: [...(item[ATTR.childShardIds]?.SS ?? [])].sort(),
  };
  const opt = (field: string, v: unknown) => {
    if (v !== undefined) out[field] = v;
  };
  opt('leaseOwner', s(ATTR.leaseOwner));
  opt('pendingCheckpoint', s(ATTR.pendingCheckpoint));
  opt('pendingCheckpointSubSequenceNumber', n(ATTR.pendingCheckpointSubSequenceNumber));
  opt('pendingCheckpointState', item[ATTR.pendingCheckpointState]?.B);
  opt('startingHashKey', s(ATTR.startingHashKey));
  opt('endingHashKey', s(ATTR.endingHashKey));
  opt('checkpointOwner', s(ATTR.checkpointOwner));
  return out as unknown as Lease;
}

function storeError(op: string, e: unknown): ConsumerError {
  return new ConsumerError(ConsumerErrorCode.LEASE_STORE, `DynamoDB ${op} failed: ${e instanceof Error ? e.message : String(e)}`, { cause: e, retryable: true });
}

/** Builds a condition over leaseKey existence and the given fields, into names/values. */
function conditionExpression(condition: LeaseCondition, names: Record<string, string>, values: Item): string {
  names['#pk'] = ATTR.leaseKey;
  const parts = ['attribute_exists(#pk)'];
  if (condition.leaseCounter !== undefined) {
    names['#cLc'] = ATTR.leaseCounter;
    values[':cLc'] = { N: String(condition.leaseCounter) };
    parts.push('#cLc = :cLc');
  }
  if (condition.checkpointOwner !== undefined) {
    names['#cCo'] = ATTR.checkpointOwner;
    values[':cCo'] = { S: condition.checkpointOwner };
    parts.push('#cCo = :cCo');
  }
  return parts.join(' AND ');
}

/**
 * Leases in a DynamoDB table with the KCL's schema (checklist 3.2): hash key `leaseKey`, on-demand
 * billing, conditional writes on `leaseCounter`. A table the Java KCL made reads and writes alike.
 */
export function createDynamoDbLeaseStore(options: DynamoDbLeaseStoreOptions): LeaseStore {
  if (typeof options !== 'object' || options === null || !(options.client instanceof DynamoDBClient)) {
    throw new ConsumerError(ConsumerErrorCode.INVALID_OPTION, 'client: must be a DynamoDBClient');
  }
  if (options.tableName !== undefined && !/^[a-zA-Z0-9_.-]{3,255}$/.test(options.tableName)) {
    throw new ConsumerError(ConsumerErrorCode.INVALID_OPTION, `tableName: must be 3-255 characters of [a-zA-Z0-9_.-], got ${JSON.stringify(options.tableName)}`);
  }
  const ddb = options.client;
  const timeoutMs = options.createTableTimeoutMs ?? 300_000;
  let table = options.tableName;
  const name = (): string => {
    if (table === undefined) throw new ConsumerError(ConsumerErrorCode.INVALID_USE, 'lease store used before initialize()');
    return table;
  };

  async function describe(): Promise<string | undefined> {
    try {
      const d = await ddb.send(new DescribeTableCommand({ TableName: name() }));
      return d.Table?.TableStatus;
    } catch (e) {
      if (awsErrorName(e) === 'ResourceNotFoundException') return undefined;
      throw storeError('DescribeTable', e);
    }
  }

  return {
    async initialize({ applicationName }) {
      table ??= applicationName;
      let status = await describe();
      if (status === undefined) {
        try {
          await ddb.send(
            new CreateTableCommand({
              TableName: name(),
              KeySchema: [{ AttributeName: ATTR.leaseKey, KeyType: 'HASH' }],
              AttributeDefinitions: [{ AttributeName: ATTR.leaseKey, AttributeType: 'S' }],
              BillingMode: 'PAY_PER_REQUEST',
            }),
          );
        } catch (e) {
          // Another worker created it first.
          if (awsErrorName(e) !== 'ResourceInUseException') throw storeError('CreateTable', e);
        }
        status = await describe();
      }
      const deadline = Date.now() + timeoutMs;
      while (status !== 'ACTIVE') {
        if (Date.now() > deadline) throw storeError('CreateTable', new Error(`table ${name()} not ACTIVE after ${timeoutMs} ms (${status})`));
        await new Promise((r) => setTimeout(r, 100));
        status = await describe();
      }
    },

    async list() {
      const out: Lease[] = [];
      let start: Item | undefined;
      do {
        let r;
        try {
          r = await ddb.send(new ScanCommand({ TableName: name(), ConsistentRead: true, ...(start ? { ExclusiveStartKey: start } : {}) }));
        } catch (e) {
          throw storeError('Scan', e);
        }
        for (const item of r.Items ?? []) out.push(fromItem(item));
        start = r.LastEvaluatedKey;
      } while (start !== undefined);
      return out;
    },

    async get(leaseKey) {
      try {
        const r = await ddb.send(new GetItemCommand({ TableName: name(), Key: { [ATTR.leaseKey]: { S: leaseKey } }, ConsistentRead: true }));
        return r.Item ? fromItem(r.Item) : undefined;
      } catch (e) {
        throw storeError('GetItem', e);
      }
    },

    async create(lease) {
      try {
        await ddb.send(
          new PutItemCommand({
            TableName: name(),
            Item: toItem(lease),
            ConditionExpression: 'attribute_not_exists(#pk)',
            ExpressionAttributeNames: { '#pk': ATTR.leaseKey },
          }),
        );
        return true;
      } catch (e) {
        if (awsErrorName(e) === 'ConditionalCheckFailedException') return false;
        throw storeError('PutItem', e);
      }
    },

    async update(leaseKey: string, condition: LeaseCondition, changes: LeaseChanges, opts: { bumpCounter?: boolean } = {}) {
      const names: Record<string, string> = {};
      const values: Item = {};
      const sets: string[] = [];
      const removes: string[] = [];
      let i = 0;
      for (const [field, v] of Object.entries(changes)) {
        if (v === undefined) continue;
        const attr = (ATTR as Record<string, string>)[field];
        if (attr === undefined || field === 'leaseKey' || field === 'leaseCounter') continue;
        const n = `#u${i}`;
        names[n] = attr;
        const a = toAttr(field, v);
        if (a === undefined) removes.push(n);
        else {
          values[`:u${i}`] = a;
          sets.push(`${n} = :u${i}`);
        }
        i++;
      }
      if ((opts.bumpCounter ?? true) || sets.length + removes.length === 0) {
        names['#lc'] = ATTR.leaseCounter;
        if (opts.bumpCounter ?? true) {
          values[':one'] = { N: '1' };
          sets.push('#lc = #lc + :one');
        } else sets.push('#lc = #lc');
      }
      const cond = conditionExpression(condition, names, values);
      const expr = [sets.length ? `SET ${sets.join(', ')}` : '', removes.length ? `REMOVE ${removes.join(', ')}` : ''].filter(Boolean).join(' ');
      try {
        const r = await ddb.send(
          new UpdateItemCommand({
            TableName: name(),
            Key: { [ATTR.leaseKey]: { S: leaseKey } },
            UpdateExpression: expr,
            ConditionExpression: cond,
            ExpressionAttributeNames: names,
            ...(Object.keys(values).length ? { ExpressionAttributeValues: values } : {}),
            ReturnValues: 'ALL_NEW',
          }),
        );
        return r.Attributes ? fromItem(r.Attributes) : undefined;
      } catch (e) {
        if (awsErrorName(e) === 'ConditionalCheckFailedException') return undefined;
        throw storeError('UpdateItem', e);
      }
    },

    async delete(leaseKey, condition) {
      const names: Record<string, string> = {};
      const values: Item = {};
      const cond = conditionExpression(condition, names, values);
      try {
        await ddb.send(
          new DeleteItemCommand({
            TableName: name(),
            Key: { [ATTR.leaseKey]: { S: leaseKey } },
            ConditionExpression: cond,
            ExpressionAttributeNames: names,
            ...(Object.keys(values).length ? { ExpressionAttributeValues: values } : {}),
          }),
        );
        return true;
      } catch (e) {
        if (awsErrorName(e) === 'ConditionalCheckFailedException') return false;
        throw storeError('DeleteItem', e);
      }
    },

    async close() {
      // The client belongs to the caller.
    },
  };
}
