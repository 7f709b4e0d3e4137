/**
 * The subset of botocore's service-2 model that Eddy uses at run time. The generated files in
 * ./generated hold one ServiceModel per API, produced by scripts/gen-models.mjs from
 * ../shared/aws-models; nothing here is typed by hand.
 */
export interface ShapeBase {
  readonly min?: number;
  readonly max?: number;
}
export interface MemberRef {
  readonly shape: string;
  /** REST-JSON: where the member travels when not in the JSON body. */
  readonly location?: 'header' | 'headers' | 'querystring' | 'uri' | 'statusCode';
  /** REST-JSON: the header, query or path parameter name. */
  readonly locationName?: string;
  /** A string member that carries a JSON document (sent base64 in headers). */
  readonly jsonvalue?: boolean;
  /** The SDKs fill this member with a fresh UUID when the caller leaves it out. */
  readonly idempotencyToken?: boolean;
  /** Event-stream events: the member is the event payload rather than a header. */
  readonly eventpayload?: boolean;
  readonly eventheader?: boolean;
}
export interface StructureShape {
  readonly type: 'structure';
  readonly members: Readonly<Record<string, MemberRef>>;
  readonly required?: readonly string[];
  /** Set on unions (exactly one member may be present). */
  readonly union?: boolean;
  /** Set on error shapes. */
  readonly exception?: boolean;
  /** Set on error shapes that are the server's fault (HTTP 500). */
  readonly fault?: boolean;
  /** Wire details of error shapes: the query-protocol code and the HTTP status. */
  readonly error?: {
    readonly code?: string;
    readonly httpStatusCode?: number;
    readonly senderFault?: boolean;
  };
  /** Set on event-stream union shapes (SubscribeToShardEventStream). */
  readonly eventstream?: boolean;
  /** Set on event member shapes. */
  readonly event?: boolean;
  /** REST-JSON: the member that is the whole HTTP body. */
  readonly payload?: string;
}
export interface StringShape extends ShapeBase {
  readonly type: 'string';
  readonly pattern?: string;
  readonly enum?: readonly string[];
}
export interface NumberShape extends ShapeBase {
  readonly type: 'integer' | 'long' | 'double' | 'float';
}
export interface ListShape extends ShapeBase {
  readonly type: 'list';
  readonly member: string;
}
export interface MapShape extends ShapeBase {
  readonly type: 'map';
  readonly key: string;
  readonly value: string;
}
export interface BlobShape extends ShapeBase {
  readonly type: 'blob';
  /** REST-JSON payloads streamed raw (GetMedia). */
  readonly streaming?: boolean;
}
export interface TimestampShape extends ShapeBase {
  readonly type: 'timestamp';
  readonly timestampFormat?: 'iso8601' | 'unixTimestamp' | 'rfc822';
}
export interface ScalarShape extends ShapeBase {
  readonly type: 'boolean';
}
export type Shape =
  | StructureShape
  | StringShape
  | NumberShape
  | ListShape
  | MapShape
  | BlobShape
  | TimestampShape
  | ScalarShape;

export interface OperationModel {
  readonly name: string;
  /** The HTTP binding: always POST / for the JSON protocols, a path per operation for REST-JSON. */
  readonly http?: {
    readonly method: string;
    readonly requestUri: string;
    readonly responseCode?: number;
  };
  readonly input?: string;
  readonly output?: string;
  readonly errors: readonly string[];
}

export interface ServiceModel {
  /** e.g. Kinesis_20131202; empty for REST-JSON APIs, which route by path instead. */
  readonly targetPrefix: string;
  /** botocore's primary protocol: json (X-Amz-Target), rest-json (paths), smithy-rpc-v2-cbor. */
  readonly protocol: string;
  /** Every protocol the service answers, primary first. */
  readonly protocols: readonly string[];
  /** 1.0 or 1.1 for the JSON protocols: the Content-Type is application/x-amz-json-<version>. */
  readonly jsonVersion?: string;
  /** e.g. 2013-12-02 */
  readonly apiVersion: string;
  /** The endpoint prefix, which is also the SigV4 signing name for all of these APIs. */
  readonly endpointPrefix: string;
  readonly serviceId: string;
  readonly operations: Readonly<Record<string, OperationModel>>;
  readonly shapes: Readonly<Record<string, Shape>>;
}
