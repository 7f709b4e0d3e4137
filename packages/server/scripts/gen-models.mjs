#!/usr/bin/env node
// Regenerates src/wire/generated/*.ts from botocore service-2 JSON models.
//
//   node packages/server/scripts/gen-models.mjs [models-dir]
//
// models-dir defaults to ../shared/aws-models next to the repository root. The output keeps only
// what the server needs at run time (no documentation) and is deterministic: the same input gives
// byte-identical files, so regenerating shows up in git only when a model changed. Member order is
// the model's: validation reports violations in that order.
import { readFileSync, writeFileSync, mkdirSync, existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const packageDir = resolve(here, '..');
const repoRoot = resolve(packageDir, '..', '..');
const modelsDir = resolve(process.argv[2] ?? join(repoRoot, '..', 'shared', 'aws-models'));
const outDir = join(packageDir, 'src', 'wire', 'generated');

/** Model file (without .json) -> generated file name (without .ts). */
const APIS = [
  ['kinesis-2013-12-02', 'kinesis'],
  ['firehose-2015-08-04', 'firehose'],
  ['kinesisvideo-2017-09-30', 'kinesisvideo'],
  ['kinesis-video-media-2017-09-30', 'kinesis-video-media'],
  ['kinesis-video-archived-media-2017-09-30', 'kinesis-video-archived-media'],
  ['kinesisanalytics-2015-08-14', 'kinesisanalytics'],
  ['kinesisanalyticsv2-2018-05-23', 'kinesisanalyticsv2'],
  ['cloudwatch-2010-08-01', 'cloudwatch'],
];

/**
 * Enum value sets in the order AWS prints them in "Member must satisfy enum value set: [...]",
 * where that differs from the model's order and a recording shows it: kinesalite
 * test/getShardIterator.js (recorded against Kinesis). Applied only if it is a permutation of the
 * model's values, so a model change cannot slip through unnoticed.
 */
const ENUM_ORDER = {
  'kinesis-2013-12-02': {
    ShardIteratorType: ['AFTER_SEQUENCE_NUMBER', 'LATEST', 'AT_TIMESTAMP', 'AT_SEQUENCE_NUMBER', 'TRIM_HORIZON'],
  },
};

const MEMBER_TRAITS = ['location', 'locationName', 'jsonvalue', 'idempotencyToken', 'eventpayload', 'eventheader'];
const SCALAR_TRAITS = ['min', 'max', 'pattern', 'enum', 'streaming', 'timestampFormat'];
const STRUCTURE_FLAGS = ['union', 'exception', 'fault', 'eventstream', 'event'];

function pick(obj, keys) {
  const out = {};
  for (const k of keys) if (obj[k] !== undefined) out[k] = obj[k];
  return out;
}

function convertShape(name, s) {
  const out = { type: s.type };
  switch (s.type) {
    case 'structure': {
      out.members = {};
      for (const [m, ref] of Object.entries(s.members ?? {})) {
        out.members[m] = { shape: ref.shape, ...pick(ref, MEMBER_TRAITS) };
      }
      if (s.required?.length) out.required = [...s.required];
      Object.assign(out, pick(s, STRUCTURE_FLAGS));
      if (s.error) {
        out.error = pick(s.error, ['code', 'httpStatusCode', 'senderFault']);
      }
      if (s.payload) out.payload = s.payload;
      break;
    }
    case 'list':
      out.member = s.member.shape;
      Object.assign(out, pick(s, ['min', 'max']));
      break;
    case 'map':
      out.key = s.key.shape;
      out.value = s.value.shape;
      Object.assign(out, pick(s, ['min', 'max']));
      break;
    case 'string':
    case 'integer':
    case 'long':
    case 'double':
    case 'float':
    case 'boolean':
    case 'blob':
    case 'timestamp':
      Object.assign(out, pick(s, SCALAR_TRAITS));
      break;
    default:
      throw new Error(`shape ${name}: unsupported type ${s.type}`);
  }
  return out;
}

function reorderEnums(stem, json) {
  for (const [name, order] of Object.entries(ENUM_ORDER[stem] ?? {})) {
    const shape = json.shapes[name];
    const values = shape?.enum ?? [];
    if (values.length !== order.length || !order.every((v) => values.includes(v))) {
      throw new Error(`${stem}: ENUM_ORDER for ${name} no longer matches the model's ${JSON.stringify(values)}`);
    }
    shape.enum = [...order];
  }
}

function convertModel(json) {
  const md = json.metadata;
  const model = {
    targetPrefix: md.targetPrefix ?? '',
    protocol: md.protocol,
    protocols: md.protocols ?? [md.protocol],
    ...(md.jsonVersion ? { jsonVersion: md.jsonVersion } : {}),
    apiVersion: md.apiVersion,
    endpointPrefix: md.endpointPrefix,
    serviceId: md.serviceId,
    operations: {},
    shapes: {},
  };
  for (const [name, op] of Object.entries(json.operations)) {
    const o = { name: op.name };
    if (op.http) o.http = pick(op.http, ['method', 'requestUri', 'responseCode']);
    if (op.input) o.input = op.input.shape;
    if (op.output) o.output = op.output.shape;
    o.errors = (op.errors ?? []).map((e) => e.shape);
    model.operations[name] = o;
  }
  for (const [name, s] of Object.entries(json.shapes)) model.shapes[name] = convertShape(name, s);
  checkReferences(model);
  return model;
}

function checkReferences(model) {
  const has = (n) => Object.hasOwn(model.shapes, n);
  const need = (n, where) => {
    if (!has(n)) throw new Error(`${where} refers to missing shape ${n}`);
  };
  for (const op of Object.values(model.operations)) {
    if (op.input) need(op.input, op.name);
    if (op.output) need(op.output, op.name);
    for (const e of op.errors) need(e, op.name);
  }
  for (const [name, s] of Object.entries(model.shapes)) {
    if (s.type === 'structure') for (const ref of Object.values(s.members)) need(ref.shape, name);
    if (s.type === 'list') need(s.member, name);
    if (s.type === 'map') {
      need(s.key, name);
      need(s.value, name);
    }
  }
}

const IDENT = /^[A-Za-z_$][A-Za-z0-9_$]*$/;
const key = (k) => (IDENT.test(k) ? k : quote(k));
// Single-quoted TS string literal; JSON escaping covers everything but the quote characters.
const quote = (s) => `'${JSON.stringify(s).slice(1, -1).replace(/\\"/g, '"').replace(/'/g, "\\'")}'`;

function literal(v) {
  if (typeof v === 'string') return quote(v);
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  if (Array.isArray(v)) return `[${v.map(literal).join(', ')}]`;
  const entries = Object.entries(v).map(([k, x]) => `${key(k)}: ${literal(x)}`);
  return entries.length ? `{ ${entries.join(', ')} }` : '{}';
}

/** One line per operation and per scalar shape; structures get one line per member. */
function render(model, source) {
  const lines = [];
  lines.push(`// Generated by scripts/gen-models.mjs from aws-models/${source}. Do not edit.`);
  lines.push("import type { ServiceModel } from '../model.js';");
  lines.push('');
  lines.push('export const model = {');
  for (const k of ['targetPrefix', 'protocol', 'protocols', 'jsonVersion', 'apiVersion', 'endpointPrefix', 'serviceId']) {
    if (model[k] !== undefined) lines.push(`  ${k}: ${literal(model[k])},`);
  }
  lines.push('  operations: {');
  for (const [name, op] of Object.entries(model.operations)) lines.push(`    ${key(name)}: ${literal(op)},`);
  lines.push('  },');
  lines.push('  shapes: {');
  for (const [name, s] of Object.entries(model.shapes)) {
    if (s.type !== 'structure' || Object.keys(s.members).length === 0) {
      lines.push(`    ${key(name)}: ${literal(s)},`);
      continue;
    }
    const { members, ...rest } = s;
    lines.push(`    ${key(name)}: {`);
    for (const [k, v] of Object.entries(rest)) lines.push(`      ${key(k)}: ${literal(v)},`);
    lines.push('      members: {');
    for (const [m, ref] of Object.entries(members)) lines.push(`        ${key(m)}: ${literal(ref)},`);
    lines.push('      },');
    lines.push('    },');
  }
  lines.push('  },');
  lines.push('} as const satisfies ServiceModel;');
  lines.push('');
  return lines.join('\n');
}

if (!existsSync(modelsDir)) {
  console.error(`gen-models: no models directory at ${modelsDir}`);
  process.exit(1);
}
mkdirSync(outDir, { recursive: true });
for (const [stem, out] of APIS) {
  const source = `${stem}.json`;
  const json = JSON.parse(readFileSync(join(modelsDir, source), 'utf8'));
  reorderEnums(stem, json);
  const model = convertModel(json);
  const file = join(outDir, `${out}.ts`);
  writeFileSync(file, render(model, source));
  const ops = Object.keys(model.operations).length;
  const shapes = Object.keys(model.shapes).length;
  console.log(`gen-models: ${out}.ts (${ops} operations, ${shapes} shapes)`);
}
