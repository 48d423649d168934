import { problemTable } from './problem-types.js';

export const PROBLEM_PREFIX = 'urn:orleansqueue:problem:';

/** A refusal from the silo: its problem `type`, HTTP `status`, the `field` at fault, and `retryAfterMs` when the silo
 *  says when to try again. Each problem type of the table both SDKs read is raised as the subclass it names. */
export class OrleansQueueError extends Error {
  constructor(readonly status: number, readonly type: string, readonly detail: string, readonly field?: string, readonly retryAfterMs?: number) {
    super(detail);
    this.name = new.target.name;
  }
}

/** The resource's waitlist is full (429). */
export class QueueFull extends OrleansQueueError {}
/** This client, or its tenant, has too many requests waiting (429). */
export class ClientQuotaExceeded extends OrleansQueueError {}
/** The request was not granted within its wait (429). */
export class TimedOut extends OrleansQueueError {}
/** The request broke a rule; `field` names the input at fault (400). */
export class InvalidRequest extends OrleansQueueError {}
/** The load is not positive, or can never fit the resource's policy (400). */
export class InvalidLoad extends InvalidRequest {}
/** No resource of that name (404). */
export class UnknownResource extends OrleansQueueError {}
/** The resource was deleted while the request waited or was held (410). */
export class ResourceDeleted extends OrleansQueueError {}
/** No request or lease of that id (404). */
export class UnknownRequest extends OrleansQueueError {}
/** The request ended before the call (it expired, was reclaimed or released). */
export class RequestEnded extends OrleansQueueError {}
/** No API key, or an unknown one (401). */
export class Unauthorized extends OrleansQueueError {}
/** The key may not do this (403). */
export class Forbidden extends OrleansQueueError {}
/** The silo cannot answer now (503: starting, the resource moving); the SDK asks again. */
export class Unavailable extends OrleansQueueError {}
/** The resource is polling-only (409); the SDK polls it instead. */
export class PushDisabled extends OrleansQueueError {}
/** No job of that id (404). */
export class UnknownJob extends OrleansQueueError {}
/** The job finished already (410). */
export class JobFinished extends OrleansQueueError {}
/** The job is running and cannot be cancelled (409). */
export class JobRunning extends OrleansQueueError {}
/** The job is another worker's (409). */
export class NotYourJob extends OrleansQueueError {}
/** An append would take the job's output past its resource's jobMaxOutputBytes (413); nothing was appended. */
export class OutputFull extends OrleansQueueError {}
/** The job's output does not end at the offset the worker gave, and the text there is not this one (409). */
export class OutputConflict extends OrleansQueueError {}
/** The job was dead-lettered: it failed its last attempt, or passed its deadline unstarted. */
export class JobFailed extends OrleansQueueError {}
/** The job was cancelled before a worker took it. */
export class JobCancelled extends OrleansQueueError {}

const classes: Record<string, new (status: number, type: string, detail: string, field?: string, retryAfterMs?: number) => OrleansQueueError> = {
  QueueFull, ClientQuotaExceeded, TimedOut, InvalidRequest, InvalidLoad, UnknownResource, ResourceDeleted, UnknownRequest,
  RequestEnded, Unauthorized, Forbidden, Unavailable, PushDisabled, UnknownJob, JobFinished, JobRunning, NotYourJob,
  OutputFull, OutputConflict,
};

type TableEntry = { status: number; error: string; field?: string };
const types = problemTable.types as Record<string, TableEntry>;
const endings = problemTable.endings as Record<string, string>;

/** The error class the table names for `error`: a test checks that every one of the table has its class here. */
export function errorClass(error: string): (typeof classes)[string] | undefined {
  return classes[error];
}

/** The exception for a problem body the silo answered with. */
export function fromProblem(status: number, body: Record<string, unknown>): OrleansQueueError {
  const type = String(body.type ?? '');
  const kind = types[type.startsWith(PROBLEM_PREFIX) ? type.slice(PROBLEM_PREFIX.length) : type];
  const Error = (kind && classes[kind.error]) || OrleansQueueError;
  const retry = typeof body.retryAfterMs === 'number' ? body.retryAfterMs : undefined;
  return new Error(status, type, String(body.detail ?? body.title ?? `HTTP ${status}`), typeof body.field === 'string' ? body.field : undefined, retry);
}

/** The exception for a request that left the waitlist as `state` (with `reason` when rejected) without a lease. */
export function fromEnding(state: string, reason: string | undefined, detail: string): OrleansQueueError {
  const kind = endings[reason ? `${state}/${reason}` : state] ?? endings[state] ?? endings['*'];
  const entry = types[kind];
  return fromProblem(entry.status, { type: PROBLEM_PREFIX + kind, field: entry.field, detail });
}

/** The problem types of the table, with the errors they are raised as. */
export const problemTypes: Readonly<Record<string, string>> = Object.fromEntries(Object.entries(types).map(([t, e]) => [t, e.error]));
