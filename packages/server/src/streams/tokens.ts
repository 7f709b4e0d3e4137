import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';

/**
 * Opaque, tamper-proof tokens (shard iterators, NextTokens): AES-256-GCM over a small JSON
 * payload under a server secret kept in the MetaStore, so they survive restarts and cannot be forged.
 * Iterators start with the 8-byte header 00..01 that real ones have (checklist 1.4), which is why
 * they read `AAAAAAAAAAE...` in base64.
 */
const HEADER = Buffer.from([0, 0, 0, 0, 0, 0, 0, 1]);

export class TokenSealer {
  readonly #key: Buffer;
  constructor(key: Buffer) {
    this.#key = key;
  }

  static newKey(): Buffer {
    return randomBytes(32);
  }

  seal(payload: unknown): string {
    const iv = randomBytes(12);
    const c = createCipheriv('aes-256-gcm', this.#key, iv);
    const body = Buffer.concat([c.update(JSON.stringify(payload), 'utf8'), c.final()]);
    return Buffer.concat([HEADER, iv, c.getAuthTag(), body]).toString('base64');
  }

  /** The payload, or undefined if the token is not one of ours. */
  open(token: string): unknown {
    if (!/^[A-Za-z0-9+/]+=*$/.test(token)) return undefined;
    const buf = Buffer.from(token, 'base64');
    if (buf.length < 37 || !buf.subarray(0, 8).equals(HEADER)) return undefined;
    try {
      const d = createDecipheriv('aes-256-gcm', this.#key, buf.subarray(8, 20));
      d.setAuthTag(buf.subarray(20, 36));
      const plain = Buffer.concat([d.update(buf.subarray(36)), d.final()]).toString('utf8');
      return JSON.parse(plain) as unknown;
    } catch {
      return undefined;
    }
  }
}
