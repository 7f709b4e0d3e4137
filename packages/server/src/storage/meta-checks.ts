/** Argument checks every MetaStore engine makes the same way. */

export const MAX_META_KEY_BYTES = 1024;

/** A meta key as UTF-8 bytes; 1..1024 of them. */
export function metaKeyBytes(key: string): Buffer {
  const b = Buffer.from(key, 'utf8');
  if (b.length === 0 || b.length > MAX_META_KEY_BYTES) {
    throw new RangeError(`meta key must be 1..${MAX_META_KEY_BYTES} UTF-8 bytes: ${JSON.stringify(key)}`);
  }
  return b;
}

export function checkExpected(expectedVersion: number | undefined): void {
  if (expectedVersion !== undefined && (!Number.isInteger(expectedVersion) || expectedVersion < 0)) {
    throw new RangeError(`expectedVersion must be a non-negative integer: ${expectedVersion}`);
  }
}
