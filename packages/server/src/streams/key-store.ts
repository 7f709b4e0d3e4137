import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { errors } from '../core/errors.js';
import type { MetaStore } from '../storage/types.js';

/**
 * The local stand-in for KMS: one AES-256 data key per (account, KeyId), created on first use and
 * kept in the MetaStore. Records of an encrypted stream are stored as iv(12) | tag(16) | ciphertext
 * under AES-256-GCM, and each stored record names its key by a small number.
 */
interface KeyRecord {
  readonly ref: number;
  readonly accountId: string;
  readonly keyId: string;
  readonly key: string;
}

/** Key ids KMS accepts: a key id, key ARN, alias name or alias ARN (model: KeyId 1..2048). */
const KEY_ID = /^(?:[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}|mrk-[0-9a-f]{32}|alias\/[a-zA-Z0-9/_-]+|arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:(?:key\/[0-9a-zA-Z-]+|alias\/[a-zA-Z0-9/_-]+))$/;

export class KeyStore {
  readonly #meta: MetaStore;
  readonly #byRef = new Map<number, Buffer>();
  readonly #byName = new Map<string, KeyRecord>();
  #nextRef = 1;

  constructor(meta: MetaStore) {
    this.#meta = meta;
  }

  async load(): Promise<void> {
    for (const { value } of await this.#meta.list<KeyRecord>('kms/')) {
      this.#byRef.set(value.ref, Buffer.from(value.key, 'base64'));
      this.#byName.set(`${value.accountId}/${value.keyId}`, value);
      this.#nextRef = Math.max(this.#nextRef, value.ref + 1);
    }
  }

  /** Checks that a KeyId has a form KMS knows (KMSNotFoundException otherwise, as KMS answers). */
  static check(keyId: string): void {
    if (!KEY_ID.test(keyId)) throw errors.KMSNotFoundException(`Invalid keyId ${keyId}`);
  }

  /** The data key for a KeyId, created on first use. */
  async refFor(accountId: string, keyId: string): Promise<number> {
    KeyStore.check(keyId);
    const name = `${accountId}/${keyId}`;
    const have = this.#byName.get(name);
    if (have) return have.ref;
    const rec: KeyRecord = { ref: this.#nextRef++, accountId, keyId, key: randomBytes(32).toString('base64') };
    this.#byName.set(name, rec);
    this.#byRef.set(rec.ref, Buffer.from(rec.key, 'base64'));
    await this.#meta.put(`kms/${String(rec.ref).padStart(8, '0')}`, rec);
    return rec.ref;
  }

  encrypt(ref: number, plain: Uint8Array): Buffer {
    const key = this.#byRef.get(ref);
    if (!key) throw errors.KMSNotFoundException('Key not found');
    const iv = randomBytes(12);
    const c = createCipheriv('aes-256-gcm', key, iv);
    const body = Buffer.concat([c.update(plain), c.final()]);
    return Buffer.concat([iv, c.getAuthTag(), body]);
  }

  decrypt(ref: number, stored: Uint8Array): Buffer {
    const key = this.#byRef.get(ref);
    if (!key) throw errors.KMSNotFoundException('Key not found');
    const buf = Buffer.from(stored.buffer, stored.byteOffset, stored.byteLength);
    const d = createDecipheriv('aes-256-gcm', key, buf.subarray(0, 12));
    d.setAuthTag(buf.subarray(12, 28));
    return Buffer.concat([d.update(buf.subarray(28)), d.final()]);
  }
}
