export { OrleansQueue, Lease, priorities, type Priority, type RequestState, type RequestView, type OrleansQueueOptions, type AcquireOptions, type ReleaseOptions } from './client.js';
export { queuedFetch, type QueuedFetchOptions } from './queued-fetch.js';
export { orleansQueue, type OrleansQueueMiddlewareOptions, type ModelCallParams } from './ai-middleware.js';
export { Jobs, isFinished, type Job, type JobOutput, type JobState, type JobContext, type EnqueueOptions, type WorkerOptions } from './jobs.js';
export { parseUpstreamHeaders, parseDuration, type UpstreamReport, type UpstreamBudget, type HeadersLike } from './upstream.js';
export { EventStreamParser, type ServerSentEvent } from './sse.js';
export {
  OrleansQueueError, QueueFull, ClientQuotaExceeded, TimedOut, InvalidRequest, InvalidLoad, UnknownResource, ResourceDeleted,
  UnknownRequest, RequestEnded, Unauthorized, Forbidden, Unavailable, PushDisabled, UnknownJob, JobFinished, JobRunning,
  NotYourJob, OutputFull, OutputConflict, JobFailed, JobCancelled, fromProblem, problemTypes, errorClass,
} from './errors.js';
