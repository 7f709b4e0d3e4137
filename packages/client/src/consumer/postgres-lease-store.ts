import pg from 'pg';
import { ConsumerError, ConsumerErrorCode } from './errors.js';
import type { Lease, LeaseChanges, LeaseCondition, LeaseStore } from './lease.js';

export interface PostgresLeaseStoreOptions {
  /** A pool the caller owns (not ended by close()); or give `connectionString`. */
  pool?: pg.Pool;
  connectionString?: string;
  /** Default: the consumer's applicationName (quoted as an identifier). */
  tableName?: string;
}

/** Lease fields and their columns: the KCL schema's fields (checklist 3.2) in snake_case. */
const COLUMN = {
  leaseKey: 'lease_key',
  leaseOwner: 'lease_owner',
  leaseCounter: 'lease_counter',
  checkpoint: 'checkpoint',
  checkpointSubSequenceNumber: 'checkpoint_sub_sequence_number',
  pendingCheckpoint: 'pending_checkpoint',
  pendingCheckpointSubSequenceNumber: 'pending_checkpoint_sub_sequence_number',
  pendingCheckpointState: 'pending_checkpoint_state',
  ownerSwitchesSinceCheckpoint: 'owner_switches_since_checkpoint',
  parentShardIds: 'parent_shard_id',
  childShardIds: 'child_shard_ids',
  startingHashKey: 'starting_hash_key',
  endingHashKey: 'ending_hash_key',
  checkpointOwner: 'checkpoint_owner',
} as const satisfies Record<keyof Lease, string>;

function ddl(table: string): string {
  return `CREATE TABLE IF NOT EXISTS ${table} (
  lease_key text PRIMARY KEY,
  lease_owner text,
  lease_counter bigint NOT NULL DEFAULT 0,
  checkpoint text NOT NULL,
  checkpoint_sub_sequence_number bigint NOT NULL DEFAULT 0,
  pending_checkpoint text,
  pending_checkpoint_sub_sequence_number bigint,
  pending_checkpoint_state bytea,
  owner_switches_since_checkpoint bigint NOT NULL DEFAULT 0,
  parent_shard_id text[] NOT NULL DEFAULT '{}',
  child_shard_ids text[] NOT NULL DEFAULT '{}',
  starting_hash_key text,
  ending_hash_key text,
  checkpoint_owner text
)`;
}

type Row = Record<string, unknown>;

function fromRow(r: Row): Lease {
  const out: Record<string, unknown> = {
    leaseKey: r.lease_key,
    leaseCounter: Number(r.lease_counter),
    checkpoint: r.checkpoint,
    checkpointSubSequenceNumber: Number(r.checkpoint_sub_sequence_number),
    ownerSwitchesSinceCheckpoint: Number(r.owner_switches_since_checkpoint),
    parentShardIds: [...((r.parent_shard_id as string[] | null) ?? [])].sort(),
    childShardIds: [...((r.child_shard_ids as string[] | null) ?? [])].sort(),
  };
  const opt = (field: string, v: unknown) => {
    if (v !== null && v !== undefined) out[field] = v;
  };
  opt('leaseOwner', r.lease_owner);
  opt('pendingCheckpoint', r.pending_checkpoint);
  opt('pendingCheckpointSubSequenceNumber', r.pending_checkpoint_sub_sequence_number === null ? null : Number(r.pending_checkpoint_sub_sequence_number));
  opt('pendingCheckpointState', r.pending_checkpoint_state === null ? null : new Uint8Array(r.pending_checkpoint_state as Buffer));
  opt('startingHashKey', r.starting_hash_key);
  opt('endingHashKey', r.ending_hash_key);
  opt('checkpointOwner', r.checkpoint_owner);
  return out as unknown as Lease;
}

function param(v: unknown): unknown {
  if (Array.isArray(v)) return [...(v as string[])];
  if (v instanceof Uint8Array) return Buffer.from(v.buffer, v.byteOffset, v.byteLength);
  return v;
}

function storeError(op: string, e: unknown): ConsumerError {
  return new ConsumerError(ConsumerErrorCode.LEASE_STORE, `PostgreSQL ${op} failed: ${e instanceof Error ? e.message : String(e)}`, { cause: e, retryable: true });
}

function where(condition: LeaseCondition, params: unknown[]): string {
  const parts = [`lease_key = $1`];
  if (condition.leaseCounter !== undefined) {
    params.push(condition.leaseCounter);
    parts.push(`lease_counter = $${params.length}`);
  }
  if (condition.checkpointOwner !== undefined) {
    params.push(condition.checkpointOwner);
    parts.push(`checkpoint_owner = $${params.length}`);
  }
  return parts.join(' AND ');
}

/**
 * Leases in a PostgreSQL table with the KCL lease schema's fields; every write is one statement
 * conditional on `lease_counter` (`WHERE lease_counter = $n`), as DynamoDB's conditional updates.
 */
export function createPostgresLeaseStore(options: PostgresLeaseStoreOptions): LeaseStore {
  if (typeof options !== 'object' || options === null || (options.pool === undefined) === (options.connectionString === undefined)) {
    throw new ConsumerError(ConsumerErrorCode.INVALID_OPTION, 'pool: give exactly one of pool and connectionString');
  }
  if (options.tableName !== undefined && (typeof options.tableName !== 'string' || options.tableName.length === 0 || Buffer.byteLength(options.tableName) > 63)) {
    throw new ConsumerError(ConsumerErrorCode.INVALID_OPTION, `tableName: must be 1-63 bytes, got ${JSON.stringify(options.tableName)}`);
  }
  const ownsPool = options.pool === undefined;
  const pool = options.pool ?? new pg.Pool({ connectionString: options.connectionString, max: 4 });
  // An idle client's network error must not crash the process; the next query reports it.
  if (ownsPool) pool.on('error', () => undefined);
  let tableName = options.tableName;
  let closed: Promise<void> | undefined;
  const table = (): string => {
    if (tableName === undefined) throw new ConsumerError(ConsumerErrorCode.INVALID_USE, 'lease store used before initialize()');
    return `"${tableName.replace(/"/g, '""')}"`;
  };
  async function query(op: string, text: string, params: unknown[] = []): Promise<pg.QueryResult<Row>> {
    try {
      return await pool.query<Row>(text, params);
    } catch (e) {
      throw storeError(op, e);
    }
  }

  return {
    async initialize({ applicationName }) {
      tableName ??= applicationName;
      if (Buffer.byteLength(tableName) > 63) throw new ConsumerError(ConsumerErrorCode.INVALID_OPTION, `tableName: ${JSON.stringify(tableName)} is longer than PostgreSQL's 63-byte identifiers`);
      // Workers starting together would race in the catalog (CREATE TABLE IF NOT EXISTS is not
      // safe against itself): one at a time, under a transaction-scoped advisory lock.
      let client: pg.PoolClient | undefined;
      try {
        client = await pool.connect();
        await client.query('BEGIN');
        await client.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`eddy-lease-table:${tableName}`]);
        await client.query(ddl(table()));
        await client.query('COMMIT');
      } catch (e) {
        await client?.query('ROLLBACK').catch(() => undefined);
        throw storeError('CREATE TABLE', e);
      } finally {
        client?.release();
      }
    },

    async list() {
      const r = await query('SELECT', `SELECT * FROM ${table()} ORDER BY lease_key`);
      return r.rows.map(fromRow);
    },

    async get(leaseKey) {
      const r = await query('SELECT', `SELECT * FROM ${table()} WHERE lease_key = $1`, [leaseKey]);
      const row = r.rows[0];
      return row ? fromRow(row) : undefined;
    },

    async create(lease) {
      const cols: string[] = [];
      const params: unknown[] = [];
      for (const [field, col] of Object.entries(COLUMN)) {
        const v = (lease as unknown as Record<string, unknown>)[field];
        if (v === undefined) continue;
        cols.push(col);
        params.push(param(v));
      }
      const r = await query(
        'INSERT',
        `INSERT INTO ${table()} (${cols.join(', ')}) VALUES (${params.map((_, i) => `$${i + 1}`).join(', ')}) ON CONFLICT (lease_key) DO NOTHING`,
        params,
      );
      return r.rowCount === 1;
    },

    async update(leaseKey: string, condition: LeaseCondition, changes: LeaseChanges, opts: { bumpCounter?: boolean } = {}) {
      const params: unknown[] = [leaseKey];
      const cond = where(condition, params);
      const sets: string[] = [];
      if (opts.bumpCounter ?? true) sets.push('lease_counter = lease_counter + 1');
      for (const [field, v] of Object.entries(changes)) {
        if (v === undefined) continue;
        const col = (COLUMN as Record<string, string>)[field];
        if (col === undefined || field === 'leaseKey' || field === 'leaseCounter') continue;
        params.push(v === null ? null : param(v));
        sets.push(`${col} = $${params.length}`);
      }
      if (sets.length === 0) sets.push('lease_counter = lease_counter');
      const r = await query('UPDATE', `UPDATE ${table()} SET ${sets.join(', ')} WHERE ${cond} RETURNING *`, params);
      const row = r.rows[0];
      return row ? fromRow(row) : undefined;
    },

    async delete(leaseKey, condition) {
      const params: unknown[] = [leaseKey];
      const r = await query('DELETE', `DELETE FROM ${table()} WHERE ${where(condition, params)}`, params);
      return r.rowCount === 1;
    },

    close() {
      closed ??= ownsPool ? pool.end() : Promise.resolve();
      return closed;
    },
  };
}
