/**
 * JSON that keeps every number exactly.
 *
 * Records carry ids like 1234567890123456789 and prices like 12345678901234567.25; `JSON.parse`
 * rounds both. Format conversion (bigint and decimal columns), jq partition keys and the
 * Redshift loader need the digits the producer sent, so they parse with this instead.
 *
 * Numbers come back as `number` when a double holds them exactly (integers up to 2^53, decimals
 * of at most 15 significant digits), as `bigint` for larger integers and as {@link JsonDecimal}
 * (the literal text) for longer decimals.
 */

/** A JSON number literal that a double cannot hold exactly. */
export class JsonDecimal {
  constructor(readonly text: string) {}
  toString(): string {
    return this.text;
  }
  toJSON(): number {
    return Number(this.text);
  }
}

export type JsonValue = null | boolean | number | bigint | JsonDecimal | string | JsonValue[] | { [key: string]: JsonValue };

export class JsonSyntaxError extends SyntaxError {
  constructor(
    message: string,
    readonly position: number,
  ) {
    super(`${message} at position ${position}`);
    this.name = 'JsonSyntaxError';
  }
}

const NUMBER = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;

class Parser {
  i = 0;
  constructor(readonly s: string) {}

  ws(): void {
    const s = this.s;
    let i = this.i;
    for (;;) {
      const c = s.charCodeAt(i);
      if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) i++;
      else break;
    }
    this.i = i;
  }

  fail(what: string): never {
    throw new JsonSyntaxError(this.i >= this.s.length ? 'Unexpected end of JSON input' : `${what} '${this.s[this.i]}'`, this.i);
  }

  value(depth: number): JsonValue {
    if (depth > 10_000) this.fail('JSON nested too deeply near');
    this.ws();
    const c = this.s.charCodeAt(this.i);
    switch (c) {
      case 0x7b /* { */: {
        this.i++;
        const out: { [key: string]: JsonValue } = {};
        this.ws();
        if (this.s.charCodeAt(this.i) === 0x7d) {
          this.i++;
          return out;
        }
        for (;;) {
          this.ws();
          if (this.s.charCodeAt(this.i) !== 0x22) this.fail('Expected a string key, found');
          const key = this.string();
          this.ws();
          if (this.s.charCodeAt(this.i) !== 0x3a) this.fail("Expected ':', found");
          this.i++;
          const v = this.value(depth + 1);
          // A plain assignment to "__proto__" would set the prototype instead of a key.
          if (key === '__proto__') Object.defineProperty(out, key, { value: v, enumerable: true, writable: true, configurable: true });
          else out[key] = v;
          this.ws();
          const d = this.s.charCodeAt(this.i);
          if (d === 0x2c) {
            this.i++;
            continue;
          }
          if (d === 0x7d) {
            this.i++;
            return out;
          }
          this.fail("Expected ',' or '}', found");
        }
      }
      case 0x5b /* [ */: {
        this.i++;
        const out: JsonValue[] = [];
        this.ws();
        if (this.s.charCodeAt(this.i) === 0x5d) {
          this.i++;
          return out;
        }
        for (;;) {
          out.push(this.value(depth + 1));
          this.ws();
          const d = this.s.charCodeAt(this.i);
          if (d === 0x2c) {
            this.i++;
            continue;
          }
          if (d === 0x5d) {
            this.i++;
            return out;
          }
          this.fail("Expected ',' or ']', found");
        }
      }
      case 0x22:
        return this.string();
      case 0x74:
        return this.word('true', true);
      case 0x66:
        return this.word('false', false);
      case 0x6e:
        return this.word('null', null);
      default:
        return this.number();
    }
  }

  word<T>(w: string, v: T): T {
    if (this.s.startsWith(w, this.i)) {
      this.i += w.length;
      return v;
    }
    return this.fail('Unexpected token');
  }

  string(): string {
    const s = this.s;
    const start = this.i; // at the opening quote
    let i = start + 1;
    let escaped = false;
    for (;;) {
      const c = s.charCodeAt(i);
      if (Number.isNaN(c)) {
        this.i = i;
        this.fail('Unterminated string');
      }
      if (c === 0x22) break;
      if (c === 0x5c) {
        escaped = true;
        i += 2;
        continue;
      }
      if (c < 0x20) {
        this.i = i;
        this.fail('Bad control character in string literal');
      }
      i++;
    }
    this.i = i + 1;
    if (!escaped) return s.slice(start + 1, i);
    try {
      return JSON.parse(s.slice(start, i + 1)) as string;
    } catch {
      this.i = start;
      return this.fail('Bad escape in string literal starting with');
    }
  }

  number(): number | bigint | JsonDecimal {
    NUMBER.lastIndex = this.i;
    const m = NUMBER.exec(this.s);
    if (!m) return this.fail('Unexpected token');
    const text = m[0];
    this.i += text.length;
    return numberFromLiteral(text);
  }
}

/** The exact value of a JSON number literal (see the module comment for the representation). */
export function numberFromLiteral(text: string): number | bigint | JsonDecimal {
  const integral = !/[.eE]/.test(text);
  if (integral) {
    if (text.length <= 16) {
      const n = Number(text);
      if (Number.isSafeInteger(n)) return n;
    }
    const b = BigInt(text);
    return b >= BigInt(Number.MIN_SAFE_INTEGER) && b <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(b) : b;
  }
  const n = Number(text);
  // Every decimal of at most 15 significant digits survives the round trip through a double.
  const mantissa = text.replace(/^-/, '').replace(/[eE].*$/, '').replace('.', '').replace(/^0+/, '').replace(/0+$/, '');
  if (mantissa.length <= 15 && Number.isFinite(n)) return n;
  return new JsonDecimal(text);
}

/** Parses exactly one JSON value (surrounding whitespace allowed). */
export function parseJsonLossless(text: string): JsonValue {
  const p = new Parser(text);
  const v = p.value(0);
  p.ws();
  if (p.i < text.length) p.fail('Unexpected non-whitespace character after JSON:');
  return v;
}

/**
 * Parses concatenated JSON values (`{"a":1}{"a":2}`, newline-delimited or not), the form
 * Firehose accepts for record format conversion and JSON de-aggregation.
 */
export function parseJsonSequence(text: string): JsonValue[] {
  const p = new Parser(text);
  const out: JsonValue[] = [];
  for (;;) {
    p.ws();
    if (p.i >= text.length) return out;
    out.push(p.value(0));
  }
}

/** `JSON.stringify` that writes bigints and {@link JsonDecimal}s as their digits. */
export function stringifyJson(value: unknown): string {
  return write(value) ?? 'null';
}

function write(v: unknown): string | undefined {
  switch (typeof v) {
    case 'string':
      return JSON.stringify(v);
    case 'number':
      return Number.isFinite(v) ? String(v) : 'null';
    case 'bigint':
      return v.toString();
    case 'boolean':
      return v ? 'true' : 'false';
    case 'undefined':
    case 'function':
    case 'symbol':
      return undefined;
    default:
      break;
  }
  if (v === null) return 'null';
  if (v instanceof JsonDecimal) return v.text;
  if (Array.isArray(v)) return `[${v.map((x) => write(x) ?? 'null').join(',')}]`;
  const o = v as { toJSON?: () => unknown };
  if (typeof o.toJSON === 'function') return write(o.toJSON());
  const parts: string[] = [];
  for (const [k, x] of Object.entries(v as Record<string, unknown>)) {
    const w = write(x);
    if (w !== undefined) parts.push(`${JSON.stringify(k)}:${w}`);
  }
  return `{${parts.join(',')}}`;
}
