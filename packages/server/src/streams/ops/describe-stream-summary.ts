import type { OpContext } from '../context.js';
import { encryptionFields, renderEnhancedMonitoring, renderModeDetails } from './render.js';

interface Input {
  StreamName?: string;
  StreamARN?: string;
}

export async function describeStreamSummary(input: Input, ctx: OpContext) {
  const st = await ctx.streams.find(ctx.caller, input, { allowDeleting: true });
  const m = st.meta;
  return {
    StreamDescriptionSummary: {
      StreamName: m.name,
      StreamARN: m.arn,
      StreamStatus: m.status,
      StreamModeDetails: renderModeDetails(st),
      RetentionPeriodHours: m.retentionHours,
      StreamCreationTimestamp: m.createdMs,
      EnhancedMonitoring: renderEnhancedMonitoring(st),
      ...encryptionFields(st),
      OpenShardCount: m.shards.filter((s) => s.closedMs === undefined).length,
      ConsumerCount: m.consumers.filter((c) => c.status !== 'DELETING').length,
      ...(m.warmThroughputMiBps !== undefined
        ? { WarmThroughput: { TargetMiBps: m.warmThroughputMiBps, CurrentMiBps: m.warmThroughputMiBps } }
        : {}),
      MaxRecordSizeInKiB: m.maxRecordSizeKiB,
    },
  };
}
