import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { crc32 } from 'node:zlib';
import fc from 'fast-check';
import { EventStreamCodec, Int64, getChunkedStream } from '@smithy/core/event-streams';
import type { Message, MessageHeaderValue } from '@smithy/types';
import {
  EventStreamDecoder,
  EventStreamError,
  MAX_HEADERS_BYTES,
  MAX_PAYLOAD_BYTES,
  encodeError,
  encodeEvent,
  encodeEventMessage,
  encodeException,
  type EventMessage,
  type HeaderValue,
} from '../../src/wire/event-stream.js';

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');
const utf8 = (s: string): Buffer => Buffer.from(s, 'utf8');
const str = (value: string): HeaderValue => ({ type: 'string', value });

/** Decodes a byte stream that must hold exactly the messages in it. */
function decodeAll(bytes: Uint8Array): EventMessage[] {
  const d = new EventStreamDecoder();
  const out = d.push(bytes);
  d.end();
  return out;
}

/**
 * One shape for messages from any source (decoders, literals, the SDK), so deepStrictEqual compares
 * content: null-prototype headers (a header may be called "__proto__"), Buffers for bytes.
 */
function plain(m: EventMessage): { headers: Record<string, HeaderValue>; payload: Buffer } {
  const headers = Object.create(null) as Record<string, HeaderValue>;
  for (const [k, v] of Object.entries(m.headers)) {
    headers[k] =
      v.type === 'bytes' || v.type === 'uuid' ? { type: v.type, value: Buffer.from(v.value) } : { ...v };
  }
  return { headers, payload: Buffer.from(m.payload) };
}

/** A message with correct CRCs around arbitrary (possibly invalid) header bytes. */
function frame(headers: Uint8Array, payload: Uint8Array = new Uint8Array(0)): Buffer {
  const total = 16 + headers.length + payload.length;
  const out = Buffer.alloc(total);
  out.writeUInt32BE(total, 0);
  out.writeUInt32BE(headers.length, 4);
  out.writeUInt32BE(crc32(out.subarray(0, 8)), 8);
  out.set(headers, 12);
  out.set(payload, 12 + headers.length);
  out.writeUInt32BE(crc32(out.subarray(0, total - 4)), total - 4);
  return out;
}

/** A prelude with a correct CRC, for lengths no real message could carry. */
function prelude(total: number, headersLength: number): Buffer {
  const out = Buffer.alloc(12);
  out.writeUInt32BE(total, 0);
  out.writeUInt32BE(headersLength, 4);
  out.writeUInt32BE(crc32(out.subarray(0, 8)), 8);
  return out;
}

// The aws-c-event-stream test vectors, as the AWS JS SDK's codec tests carry them.
const payload = utf8("{'foo':'bar'}");
const vectors: readonly (readonly [string, string, { headers: Record<string, HeaderValue>; payload: Buffer }])[] = [
  ['empty_message', '000000100000000005c248eb7d98c8ff', { headers: {}, payload: Buffer.alloc(0) }],
  ['payload_no_headers', '0000001d00000000fd528c5a7b27666f6f273a27626172277dc3653936', { headers: {}, payload }],
  [
    'int32_header',
    '0000002d0000001041c424b80a6576656e742d74797065040000a00c7b27666f6f273a27626172277d36f480a0',
    { headers: { 'event-type': { type: 'int', value: 40972 } }, payload },
  ],
  [
    'payload_one_str_header',
    `0000003d0000002007fd83960c636f6e74656e742d747970650700106170706c69636174696f6e2f6a736f6e
     7b27666f6f273a27626172277d8d9c08b1`,
    { headers: { 'content-type': str('application/json') }, payload },
  ],
  [
    'all_headers',
    `000000cc000000af0fae64ca0a6576656e742d74797065040000a00c0c636f6e74656e742d747970650700106170
     706c69636174696f6e2f6a736f6e0a626f6f6c2066616c73650109626f6f6c207472756500046279746502cf0862
     7974652062756606001449276d2061206c6974746c6520746561706f74210974696d657374616d70080000000000
     845fed05696e74313603002a05696e7436340500000000028757b20475756964090102030405060708090a0b0c0d
     0e0f107b27666f6f273a27626172277daba5f10c`,
    {
      headers: {
        'event-type': { type: 'int', value: 40972 },
        'content-type': str('application/json'),
        'bool false': { type: 'bool', value: false },
        'bool true': { type: 'bool', value: true },
        byte: { type: 'byte', value: -49 },
        'byte buf': { type: 'bytes', value: utf8("I'm a little teapot!") },
        timestamp: { type: 'timestamp', value: 8675309 },
        int16: { type: 'short', value: 42 },
        int64: { type: 'long', value: 42424242n },
        uuid: { type: 'uuid', value: hex('0102030405060708090a0b0c0d0e0f10') },
      },
      payload,
    },
  ],
];

/** Flips one byte of a vector. */
function corrupt(vector: string, at: number, value: number): Buffer {
  const b = hex(vector);
  b[at] = value;
  return b;
}
const oneStr = vectors[3]?.[1] ?? '';
const noHeaders = vectors[1]?.[1] ?? '';
const corrupted: readonly (readonly [string, Buffer, RegExp])[] = [
  // The vectors' own corrupted_* cases.
  ['corrupted_headers (payload byte changed)', corrupt(oneStr, 45, 0x61), /message CRC/],
  ['corrupted_header_len', corrupt(oneStr, 7, 0x21), /prelude CRC/],
  ['corrupted_length', corrupt(oneStr, 3, 0x3e), /prelude CRC/],
  ['corrupted_payload', corrupt(noHeaders, 12, 0x5b), /message CRC/],
  ['message CRC changed', corrupt(noHeaders, 28, 0x37), /message CRC/],
  ['total length below 16', prelude(15, 0), /below/],
  ['headers longer than the message', prelude(20, 5), /does not fit/],
  ['headers over 128 KiB', prelude(16 + MAX_HEADERS_BYTES + 1, MAX_HEADERS_BYTES + 1), /headers length/],
  ['payload over 24 MiB', prelude(16 + MAX_PAYLOAD_BYTES + 1, 0), /payload length/],
  ['4 GiB message', prelude(0xffffffff, 0), /payload length/],
  ['unknown header type', frame(hex('01 61 0a')), /unknown type 10/],
  ['empty header name', frame(hex('00 00')), /empty name/],
  ['header name past the section', frame(hex('05 6161')), /runs past/],
  ['header without a type', frame(hex('01 61')), /runs past/],
  ['truncated int header', frame(hex('01 61 04 0000')), /runs past/],
  ['truncated long header', frame(hex('01 61 05 00000000')), /runs past/],
  ['truncated uuid header', frame(hex('01 61 09 00')), /runs past/],
  ['string header longer than the section', frame(hex('01 61 07 0005 6162')), /runs past/],
  ['string length cut short', frame(hex('01 61 07 00')), /runs past/],
  ['duplicate header', frame(hex('01 61 00 01 61 01')), /twice/],
  ['invalid UTF-8 name', frame(hex('01 ff 00')), /UTF-8/],
  ['invalid UTF-8 string value', frame(hex('01 61 07 0002 c328')), /UTF-8/],
  ['timestamp beyond 2^53 ms', frame(hex('01 74 08 7fffffffffffffff')), /out of range/],
];

describe('event stream: known vectors', () => {
  for (const [name, bytes, expected] of vectors) {
    test(`decodes ${name}`, () => {
      const messages = decodeAll(hex(bytes));
      assert.equal(messages.length, 1);
      assert.deepStrictEqual(plain(messages[0] as EventMessage), plain(expected));
    });
    test(`encodes ${name} byte for byte`, () => {
      assert.equal(encodeEventMessage(expected).toString('hex'), hex(bytes).toString('hex'));
    });
  }

  for (const [name, bytes, message] of corrupted) {
    test(`rejects ${name}`, () => {
      assert.throws(
        () => decodeAll(bytes),
        (e: unknown) => e instanceof EventStreamError && message.test(e.message),
      );
    });
  }

  test('decoded headers have a null prototype', () => {
    const [m] = decodeAll(frame(hex('09 5f5f70726f746f5f5f 00')));
    assert.ok(m);
    assert.equal(Object.getPrototypeOf(m.headers), null);
    assert.deepStrictEqual(m.headers['__proto__'], { type: 'bool', value: true });
  });

  test('reads the full u16 range of value lengths, though it writes at most 32767', () => {
    const long = Buffer.alloc(40000, 0x61);
    const header = Buffer.concat([hex('01 62 06 9c40'), long]);
    const [m] = decodeAll(frame(header));
    assert.deepStrictEqual(m?.headers['b'], { type: 'bytes', value: long });
    assert.throws(
      () => encodeEventMessage({ headers: { b: { type: 'bytes', value: long } }, payload: new Uint8Array(0) }),
      EventStreamError,
    );
  });
});

describe('event stream: convenience encoders', () => {
  test('encodeEvent', () => {
    const [m] = decodeAll(encodeEvent('SubscribeToShardEvent', utf8('{"Records":[]}')));
    assert.ok(m);
    assert.deepStrictEqual(plain(m), plain({
      headers: {
        ':event-type': str('SubscribeToShardEvent'),
        ':content-type': str('application/json'),
        ':message-type': str('event'),
      },
      payload: utf8('{"Records":[]}'),
    }));
    const [cbor] = decodeAll(encodeEvent('initial-response', hex('a0'), 'application/x-amz-cbor-1.1'));
    assert.deepStrictEqual(cbor?.headers[':content-type'], str('application/x-amz-cbor-1.1'));
  });

  test('encodeException', () => {
    const [m] = decodeAll(encodeException('ResourceNotFoundException', 'Stream "s" not found.'));
    assert.ok(m);
    assert.deepStrictEqual(plain(m), plain({
      headers: {
        ':exception-type': str('ResourceNotFoundException'),
        ':content-type': str('application/json'),
        ':message-type': str('exception'),
      },
      payload: utf8('{"message":"Stream \\"s\\" not found."}'),
    }));
  });

  test('encodeError', () => {
    const [m] = decodeAll(encodeError('InternalFailure', 'boom'));
    assert.ok(m);
    assert.deepStrictEqual(plain(m), plain({
      headers: {
        ':error-code': str('InternalFailure'),
        ':error-message': str('boom'),
        ':message-type': str('error'),
      },
      payload: Buffer.alloc(0),
    }));
  });

  const none = new Uint8Array(0);
  const refused: readonly (readonly [string, EventMessage])[] = [
    ['an empty header name', { headers: { '': str('x') }, payload: none }],
    ['a 256-byte header name', { headers: { ['n'.repeat(256)]: str('x') }, payload: none }],
    ['a 32768-byte string', { headers: { s: str('x'.repeat(32768)) }, payload: none }],
    ['a byte of 128', { headers: { b: { type: 'byte', value: 128 } }, payload: none }],
    ['a short of -32769', { headers: { b: { type: 'short', value: -32769 } }, payload: none }],
    ['an int of 2^31', { headers: { b: { type: 'int', value: 2 ** 31 } }, payload: none }],
    ['a fractional int', { headers: { b: { type: 'int', value: 1.5 } }, payload: none }],
    ['a long of 2^63', { headers: { b: { type: 'long', value: 1n << 63n } }, payload: none }],
    ['a fractional timestamp', { headers: { t: { type: 'timestamp', value: 1.5 } }, payload: none }],
    ['a 15-byte uuid', { headers: { u: { type: 'uuid', value: new Uint8Array(15) } }, payload: none }],
    [
      'headers over 128 KiB',
      {
        headers: Object.fromEntries(Array.from({ length: 5 }, (_, i) => [`h${i}`, str('x'.repeat(30000))])),
        payload: none,
      },
    ],
    ['a payload over 24 MiB', { headers: {}, payload: new Uint8Array(MAX_PAYLOAD_BYTES + 1) }],
  ];
  for (const [name, msg] of refused) {
    test(`refuses to encode ${name}`, () => {
      assert.throws(() => encodeEventMessage(msg), EventStreamError);
    });
  }

  test('limits are inclusive: 24 MiB payload and 32767-byte values are fine', () => {
    const big = new Uint8Array(MAX_PAYLOAD_BYTES);
    const bytes = encodeEventMessage({ headers: { s: str('x'.repeat(32767)) }, payload: big });
    const [m] = decodeAll(bytes);
    assert.equal(m?.payload.length, MAX_PAYLOAD_BYTES);
    assert.equal((m?.headers['s'] as { value: string }).value.length, 32767);
  });

  test('an empty string header value is allowed', () => {
    const [m] = decodeAll(encodeError('X', ''));
    assert.deepStrictEqual(m?.headers[':error-message'], str(''));
  });
});

describe('EventStreamDecoder: incremental', () => {
  const stream = Buffer.concat([
    encodeEvent('initial-response', utf8('{}')),
    encodeEvent('SubscribeToShardEvent', Buffer.alloc(1000, 0x41)),
    encodeException('ResourceNotFoundException', 'gone'),
    encodeError('InternalFailure', 'boom'),
    hex('000000100000000005c248eb7d98c8ff'),
  ]);
  const whole = decodeAll(stream).map(plain);

  test('one byte at a time gives the same messages', () => {
    const d = new EventStreamDecoder();
    const got: EventMessage[] = [];
    for (let i = 0; i < stream.length; i++) {
      got.push(...d.push(stream.subarray(i, i + 1)));
      if (i < stream.length - 1) assert.ok(d.buffered > 0 || got.length > 0);
    }
    d.end();
    assert.equal(d.buffered, 0);
    assert.deepStrictEqual(got.map(plain), whole);
  });

  test('every split point gives the same messages', () => {
    for (let cut = 0; cut <= stream.length; cut++) {
      const d = new EventStreamDecoder();
      const got = [...d.push(stream.subarray(0, cut)), ...d.push(stream.subarray(cut))];
      d.end();
      assert.deepStrictEqual(got.map(plain), whole, `cut at ${cut}`);
    }
  });

  test('empty chunks are harmless', () => {
    const d = new EventStreamDecoder();
    assert.deepStrictEqual(d.push(new Uint8Array(0)), []);
    assert.equal(d.push(stream).length, whole.length);
    assert.deepStrictEqual(d.push(new Uint8Array(0)), []);
    d.end();
  });

  test('payloads do not alias the pushed chunk', () => {
    const bytes = encodeEvent('e', utf8('abc'));
    const [m] = new EventStreamDecoder().push(bytes);
    bytes.fill(0);
    assert.deepStrictEqual(Buffer.from(m?.payload ?? []), utf8('abc'));
  });

  test('end() throws when the stream stops inside a message', () => {
    const d = new EventStreamDecoder();
    d.push(stream.subarray(0, 5));
    assert.equal(d.buffered, 5);
    assert.throws(() => d.end(), /inside a message/);
    const e = new EventStreamDecoder();
    e.push(stream.subarray(0, 20));
    assert.throws(() => e.end(), EventStreamError);
  });

  test('after an error the decoder stays failed', () => {
    const d = new EventStreamDecoder();
    assert.throws(() => d.push(prelude(15, 0)), EventStreamError);
    assert.throws(() => d.push(hex('000000100000000005c248eb7d98c8ff')), /below/);
  });

  test('a bad prelude fails at once, before the message body arrives', () => {
    const d = new EventStreamDecoder();
    const bad = corrupt(oneStr, 3, 0x3e);
    assert.deepStrictEqual(d.push(bad.subarray(0, 11)), []);
    assert.throws(() => d.push(bad.subarray(11, 12)), /prelude CRC/);
  });

  test('a prelude announcing the maximum size does not wait for the body to be validated', () => {
    const d = new EventStreamDecoder();
    assert.deepStrictEqual(d.push(prelude(16 + MAX_HEADERS_BYTES + MAX_PAYLOAD_BYTES, MAX_HEADERS_BYTES)), []);
    assert.equal(d.buffered, 12);
  });
});

// ---------------------------------------------------------------------------------------------
// Properties
// ---------------------------------------------------------------------------------------------

const headerValue: fc.Arbitrary<HeaderValue> = fc.oneof(
  fc.boolean().map((value) => ({ type: 'bool', value }) as const),
  fc.integer({ min: -128, max: 127 }).map((value) => ({ type: 'byte', value }) as const),
  fc.integer({ min: -32768, max: 32767 }).map((value) => ({ type: 'short', value }) as const),
  fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }).map((value) => ({ type: 'int', value }) as const),
  fc.bigInt({ min: -(1n << 63n), max: (1n << 63n) - 1n }).map((value) => ({ type: 'long', value }) as const),
  fc.uint8Array({ maxLength: 100 }).map((a) => ({ type: 'bytes', value: Buffer.from(a) }) as const),
  fc.string({ unit: 'binary', maxLength: 60 }).map((value) => ({ type: 'string', value }) as const),
  // Date's range, so the SDK codec (which goes through Date) can carry it too.
  fc.integer({ min: -8.64e15, max: 8.64e15 }).map((value) => ({ type: 'timestamp', value }) as const),
  fc.uint8Array({ minLength: 16, maxLength: 16 }).map((a) => ({ type: 'uuid', value: Buffer.from(a) }) as const),
);

const headerName = fc
  .string({ unit: 'binary', minLength: 1, maxLength: 40 })
  .filter((s) => Buffer.byteLength(s) <= 255);

const message: fc.Arbitrary<EventMessage> = fc.record({
  headers: fc.dictionary(headerName, headerValue, { maxKeys: 8, noNullPrototype: true }),
  payload: fc.uint8Array({ maxLength: 500 }).map((a) => Buffer.from(a)),
});

/** A stream of messages cut into chunks at arbitrary points. */
const chunked = fc
  .tuple(fc.array(message, { maxLength: 5 }), fc.array(fc.nat(), { maxLength: 10 }))
  .map(([messages, cuts]) => {
    const bytes = Buffer.concat(messages.map(encodeEventMessage));
    const points = [...new Set(cuts.map((c) => (bytes.length === 0 ? 0 : c % bytes.length)))].sort((a, b) => a - b);
    const chunks: Buffer[] = [];
    let prev = 0;
    for (const p of [...points, bytes.length]) {
      chunks.push(bytes.subarray(prev, p));
      prev = p;
    }
    return { messages, bytes, chunks };
  });

const onlyEventStreamErrors = (chunks: readonly Uint8Array[]): void => {
  const d = new EventStreamDecoder();
  try {
    for (const c of chunks) d.push(c);
    d.end();
  } catch (e) {
    if (!(e instanceof EventStreamError)) throw e;
  }
};

describe('event stream properties', () => {
  test('decode(encode(messages)) in arbitrary chunks gives the messages back', () => {
    fc.assert(
      fc.property(chunked, ({ messages, chunks }) => {
        const d = new EventStreamDecoder();
        const got = chunks.flatMap((c) => d.push(c));
        d.end();
        assert.deepStrictEqual(got.map(plain), messages.map((m) => plain(m)));
      }),
      { numRuns: 1000 },
    );
  });

  test('arbitrary bytes in arbitrary chunks throw only EventStreamError', () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 64 }), { maxLength: 8 }), onlyEventStreamErrors),
      { numRuns: 10000 },
    );
  });

  test('arbitrary headers inside valid CRCs throw only EventStreamError', () => {
    // Random bytes almost never get past the CRCs; framing them correctly fuzzes the header parser.
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), fc.uint8Array({ maxLength: 20 }), (h, p) =>
        onlyEventStreamErrors([frame(h, p)]),
      ),
      { numRuns: 10000 },
    );
  });

  test('changing any one byte of a valid stream is always detected', () => {
    // CRC32 catches every burst of up to 32 bits, and the lengths sit under the prelude CRC.
    fc.assert(
      fc.property(
        chunked.filter(({ bytes }) => bytes.length > 0),
        fc.nat(),
        fc.integer({ min: 1, max: 255 }),
        ({ bytes }, at, delta) => {
          const bad = Buffer.from(bytes);
          const i = at % bad.length;
          bad[i] = ((bad[i] as number) + delta) & 0xff;
          assert.throws(() => decodeAll(bad), EventStreamError);
        },
      ),
      { numRuns: 3000 },
    );
  });

  test('a truncated stream yields the messages before the cut; end() fails unless the cut is between messages', () => {
    fc.assert(
      fc.property(chunked.filter(({ bytes }) => bytes.length > 0), fc.nat(), ({ bytes, messages }, at) => {
        const cut = at % bytes.length;
        const ends: number[] = [];
        let offset = 0;
        for (const m of messages) ends.push((offset += encodeEventMessage(m).length));
        const complete = ends.filter((e) => e <= cut).length;
        const d = new EventStreamDecoder();
        assert.deepStrictEqual(
          d.push(bytes.subarray(0, cut)).map(plain),
          messages.slice(0, complete).map((m) => plain(m)),
        );
        if (cut === 0 || ends.includes(cut)) d.end();
        else assert.throws(() => d.end(), EventStreamError);
      }),
      { numRuns: 1000 },
    );
  });
});

// ---------------------------------------------------------------------------------------------
// Cross-check with the AWS SDK's own codec (@smithy/core/event-streams, from @aws-sdk/client-kinesis)
// ---------------------------------------------------------------------------------------------

const sdk = new EventStreamCodec(
  (bytes: Uint8Array) => Buffer.from(bytes).toString('utf8'),
  (s: string) => Buffer.from(s, 'utf8'),
);

function uuidString(b: Uint8Array): string {
  const h = Buffer.from(b).toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

function int64Bytes(v: bigint): Uint8Array {
  const b = Buffer.alloc(8);
  b.writeBigInt64BE(v);
  return b;
}

function toSdk(m: EventMessage): Message {
  const headers: Record<string, MessageHeaderValue> = {};
  for (const [name, h] of Object.entries(m.headers)) {
    switch (h.type) {
      case 'bool':
        headers[name] = { type: 'boolean', value: h.value };
        break;
      case 'byte':
      case 'short':
      case 'string':
        headers[name] = { type: h.type, value: h.value } as MessageHeaderValue;
        break;
      case 'int':
        headers[name] = { type: 'integer', value: h.value };
        break;
      case 'long':
        headers[name] = { type: 'long', value: new Int64(int64Bytes(h.value)) };
        break;
      case 'bytes':
        headers[name] = { type: 'binary', value: h.value };
        break;
      case 'timestamp':
        headers[name] = { type: 'timestamp', value: new Date(h.value) };
        break;
      case 'uuid':
        headers[name] = { type: 'uuid', value: uuidString(h.value) };
        break;
    }
  }
  return { headers, body: m.payload };
}

function fromSdk(m: Message): EventMessage {
  const headers: Record<string, HeaderValue> = {};
  for (const [name, h] of Object.entries(m.headers)) {
    switch (h.type) {
      case 'boolean':
        headers[name] = { type: 'bool', value: h.value };
        break;
      case 'byte':
      case 'short':
      case 'string':
        headers[name] = { type: h.type, value: h.value } as HeaderValue;
        break;
      case 'integer':
        headers[name] = { type: 'int', value: h.value };
        break;
      case 'long':
        headers[name] = { type: 'long', value: Buffer.from(h.value.bytes).readBigInt64BE() };
        break;
      case 'binary':
        headers[name] = { type: 'bytes', value: h.value };
        break;
      case 'timestamp':
        headers[name] = { type: 'timestamp', value: h.value.getTime() };
        break;
      case 'uuid':
        headers[name] = { type: 'uuid', value: hex(h.value.replace(/-/g, '')) };
        break;
    }
  }
  return { headers, payload: m.body };
}

// The SDK's HeaderMarshaller.parse fills a plain `{}`, so a header named "__proto__" would set the
// prototype instead of a header; leave that name out when comparing with it.
const noProtoHeader = (m: EventMessage): boolean => !Object.keys(m.headers).includes('__proto__');
const sdkMessage = message.filter(noProtoHeader);
const chunkedForSdk = chunked.filter(({ messages }) => messages.every(noProtoHeader));

describe('event stream against @smithy/core/event-streams', () => {
  test('the SDK decodes what we encode', () => {
    fc.assert(
      fc.property(sdkMessage, (m) => {
        assert.deepStrictEqual(plain(fromSdk(sdk.decode(encodeEventMessage(m)))), plain(m));
      }),
      { numRuns: 1000 },
    );
  });

  test('we decode what the SDK encodes, byte for byte the same encoding', () => {
    fc.assert(
      fc.property(sdkMessage, (m) => {
        const theirs = sdk.encode(toSdk(m));
        assert.deepStrictEqual(decodeAll(theirs).map(plain), [plain(m)]);
        assert.equal(Buffer.from(theirs).toString('hex'), encodeEventMessage(m).toString('hex'));
      }),
      { numRuns: 1000 },
    );
  });

  test("the SDK's stream splitter and decoder read our messages in arbitrary chunks", async () => {
    await fc.assert(
      fc.asyncProperty(chunkedForSdk, async ({ messages, chunks }) => {
        async function* source(): AsyncGenerator<Uint8Array> {
          for (const c of chunks) if (c.length > 0) yield c;
        }
        const got: EventMessage[] = [];
        for await (const bytes of getChunkedStream(source())) got.push(fromSdk(sdk.decode(bytes)));
        assert.deepStrictEqual(got.map(plain), messages.map((m) => plain(m)));
      }),
      { numRuns: 300 },
    );
  });

  test('the SDK reads our convenience messages', () => {
    for (const bytes of [
      encodeEvent('SubscribeToShardEvent', utf8('{"Records":[]}')),
      encodeException('ResourceNotFoundException', 'gone'),
      encodeError('InternalFailure', 'boom'),
    ]) {
      assert.deepStrictEqual(plain(fromSdk(sdk.decode(bytes))), plain(decodeAll(bytes)[0] as EventMessage));
    }
  });
});
