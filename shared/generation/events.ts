/**
 * The pipeline's events on EventBridge: one `source` and a detail-type per outcome. The workflow
 * publishes completions and failures, the API cancellations, the reconciler the failures it
 * records; consumers match on these names.
 */
export const EVENT_SOURCE = 'spark-t2i';
export const EVENT_COMPLETED = 'Generation Completed';
export const EVENT_FAILED = 'Generation Failed';
export const EVENT_CANCELLED = 'Generation Cancelled';
