// Kinesis calls as plain JSON over keep-alive HTTP/1.1, without the SDK (unsigned: Eddy's default
// --auth none): the client side of bench/put-records-plain.mjs, bench/put-records-cpu.mjs and the
// plain-HTTP put-to-get of bench/kinesis.mjs, where the SDK's own cost per call would blur what
// the server costs.
import http from 'node:http';

/** A function that POSTs `body` (a Buffer of JSON) to Kinesis_20131202.<target> and resolves to the parsed answer. */
export function plainKinesis(host, port, agent) {
  return (target, body) =>
    new Promise((resolve, reject) => {
      const req = http.request(
        { host, port, method: 'POST', path: '/', agent, headers: { 'content-type': 'application/x-amz-json-1.1', 'x-amz-target': `Kinesis_20131202.${target}`, 'content-length': body.length } },
        (res) => {
          const chunks = [];
          res.on('data', (c) => chunks.push(c));
          res.on('end', () => {
            const text = Buffer.concat(chunks).toString();
            if (res.statusCode === 200) resolve(text ? JSON.parse(text) : {});
            else reject(new Error(text));
          });
        },
      );
      req.on('error', reject);
      req.end(body);
    });
}

/** `count` PutRecords bodies of 500 x 100-byte records, each with its own partition keys. */
export function putRecordsBodies(streamName, count = 8) {
  const data = Buffer.alloc(100, 97).toString('base64');
  return Array.from({ length: count }, (_, b) =>
    Buffer.from(JSON.stringify({ StreamName: streamName, Records: Array.from({ length: 500 }, (_, i) => ({ Data: data, PartitionKey: `p${b}-${i}` })) })),
  );
}
