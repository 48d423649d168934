import { JobCancelled, JobFailed, PushDisabled } from './errors.js';
import { delay as sleep } from './timing.js';
import type { OrleansQueue, Priority } from './client.js';

/** Where a job is in its life. */
export type JobState = 'queued' | 'running' | 'retrying' | 'completed' | 'deadLettered' | 'cancelled';

/** A job as the silo answered it. */
export interface Job {
  resource: string;
  id: number;
  state: JobState;
  clientId: string;
  priority: Priority;
  load: number;
  attempts: number;
  maxAttempts: number;
  position?: number;
  workerId?: string;
  progress?: number;
  progressMessage?: string;
  result?: unknown;
  error?: string;
  /** A worker's view carries the payload. */
  payload?: unknown;
  visibleUntil?: string;
  /** How many bytes (UTF-8) of output its workers appended. */
  outputLength?: number;
}

/** A stretch of a job's output: `text` from byte `offset` (UTF-8, of everything appended) up to `next`, the offset to read
 *  after next time; `complete` once the job has finished and nothing more will come. */
export interface JobOutput {
  resource: string;
  jobId: number;
  offset: number;
  text: string;
  next: number;
  length: number;
  state: JobState;
  complete: boolean;
}

export const isFinished = (job: Job): boolean => job.state === 'completed' || job.state === 'deadLettered' || job.state === 'cancelled';

export interface EnqueueOptions {
  load?: number;
  priority?: Priority;
  clientId?: string;
  /** Dead-letters the job if no worker took it within this many milliseconds. */
  deadlineMs?: number;
  idempotencyKey?: string;
}

/** What a worker's handler gets: the job (with its payload), progress reports, output appends, and the worker's signal
 *  (aborted when the worker stops). */
export interface JobContext {
  job: Job;
  payload: unknown;
  workerId: string;
  signal: AbortSignal;
  reportProgress(progress: number, message?: string): Promise<void>;
  /** Appends `text` to the job's output, which its caller reads as it grows (also a heartbeat). Appends go one at a time,
   *  in the order called, each at the offset where the output ends, so one repeated after a lost answer is made once.
   *  Rejects with {@link OutputFull} past the resource's `jobMaxOutputBytes`. */
  appendOutput(text: string): Promise<void>;
}

export interface WorkerOptions {
  workerId?: string;
  /** Jobs run at once. */
  concurrency?: number;
  /** Aborting it stops the worker once its running jobs end (the returned promise resolves then). */
  signal?: AbortSignal;
  /** How long one take waits for a job, in milliseconds. */
  pollWaitMs?: number;
}

/** The job operations of {@link OrleansQueue}, over its calls. */
export class Jobs {
  constructor(private readonly queue: OrleansQueue) {}

  /** Queues `payload` (any JSON value) for a worker. */
  enqueue(resource: string, payload: unknown, options: EnqueueOptions = {}): Promise<Job> {
    const body: Record<string, unknown> = { payload, load: options.load ?? 1, priority: options.priority ?? 'normal' };
    const clientId = options.clientId ?? this.queue.clientId;
    if (clientId) body.clientId = clientId;
    if (options.deadlineMs !== undefined) body.deadlineMs = options.deadlineMs;
    if (options.idempotencyKey !== undefined) body.idempotencyKey = options.idempotencyKey;
    return this.queue.call<Job>('POST', path(resource), body);
  }

  get(resource: string, id: number): Promise<Job> {
    return this.queue.call<Job>('GET', path(resource, id));
  }

  /** The job's output after byte `after` (0: from the start), up to about a MiB: read again after `next` until `complete`. */
  output(resource: string, id: number, options: { after?: number; signal?: AbortSignal } = {}): Promise<JobOutput> {
    return this.queue.call<JobOutput>('GET', path(resource, id, `/output?after=${options.after ?? 0}`), undefined, options.signal);
  }

  /** The job's output as it grows, from byte `after` on, until the job has finished: pushed by its server-sent events (a
   *  stream that breaks is opened again after the last offset received), read every `pollIntervalMs` on a polling-only
   *  resource. */
  async *followOutput(resource: string, id: number, options: { after?: number; signal?: AbortSignal; pollIntervalMs?: number } = {}): AsyncGenerator<JobOutput> {
    let after = options.after ?? 0;
    try {
      for await (const event of this.queue.follow(() => path(resource, id, `/events?after=${after}`), options.signal)) {
        if (event.event === 'output') {
          const stretch = JSON.parse(event.data) as JobOutput;
          after = stretch.next;
          yield stretch;
        } else if (isFinished(JSON.parse(event.data) as Job)) {
          return; // a job's end comes after all its output
        }
      }
    } catch (error) {
      if (!(error instanceof PushDisabled)) throw error;
    }
    for (;;) {
      const stretch = await this.output(resource, id, { after, signal: options.signal });
      if (stretch.next > after) {
        after = stretch.next;
        yield stretch;
      }
      if (stretch.complete) return;
      if (stretch.next === stretch.length) await sleep(options.pollIntervalMs ?? 2000, options.signal);
    }
  }

  /** Cancels a queued job (a running one cannot be: the silo says so). */
  cancel(resource: string, id: number): Promise<Job> {
    return this.queue.call<Job>('DELETE', path(resource, id));
  }

  /** The job now, then after every change (state, progress), until it finishes: pushed by server-sent events (a stream
   *  that breaks is opened again), polled every `pollIntervalMs` on a polling-only resource. */
  async *watch(resource: string, id: number, options: { signal?: AbortSignal; pollIntervalMs?: number } = {}): AsyncGenerator<Job> {
    let last = '';
    const changed = (job: Job) => {
      const text = JSON.stringify(job);
      if (text === last) return false;
      last = text;
      return true;
    };
    try {
      for await (const event of this.queue.follow(path(resource, id, '/events'), options.signal)) {
        if (event.event === 'output') continue; // the job's output: followOutput reads it
        const job = JSON.parse(event.data) as Job;
        if (changed(job)) {
          yield job;
          if (isFinished(job)) return;
        }
      }
    } catch (error) {
      if (!(error instanceof PushDisabled)) throw error;
    }
    for (;;) {
      const job = await this.get(resource, id);
      if (changed(job)) {
        yield job;
        if (isFinished(job)) return;
      }
      await sleep(options.pollIntervalMs ?? 2000, options.signal);
    }
  }

  /** Waits until the job finishes and returns its result; rejects with {@link JobFailed} when it was dead-lettered and
   *  {@link JobCancelled} when it was cancelled. */
  async waitForResult(resource: string, id: number, options: { signal?: AbortSignal } = {}): Promise<unknown> {
    let job: Job | undefined;
    for await (job of this.watch(resource, id, options)) { /* to the last */ }
    if (job!.state === 'deadLettered') throw new JobFailed(410, 'urn:orleansqueue:job:dead-lettered', job!.error ?? 'The job failed.');
    if (job!.state === 'cancelled') throw new JobCancelled(409, 'urn:orleansqueue:job:cancelled', 'The job was cancelled.');
    return job!.result;
  }

  /** Takes jobs of `resource` and runs `handler(context)` on each, `concurrency` at a time, until the signal is aborted.
   *  A job is heartbeated while its handler runs, completed with what it returns (any JSON value), or failed with its
   *  error's message (the silo retries it, then dead-letters it). Workers need an admin key: they see every tenant's payloads. */
  async runWorker(resource: string, handler: (context: JobContext) => Promise<unknown>, options: WorkerOptions = {}): Promise<void> {
    const worker = options.workerId ?? `node-${process.pid}`;
    const concurrency = options.concurrency ?? 1;
    const stop = options.signal ?? new AbortController().signal;
    const slot = async (i: number) => {
      const me = concurrency > 1 ? `${worker}-${i}` : worker;
      while (!stop.aborted) {
        let job: Job | undefined;
        try {
          job = await this.queue.call<Job | undefined>('POST', path(resource, undefined, '/take'), { workerId: me, waitMs: options.pollWaitMs ?? 20_000 }, stop);
        } catch (error) {
          if (stop.aborted) return;
          await sleep(500).catch(() => undefined); // the silo restarting or the resource moving: take again shortly
          continue;
        }
        if (job) await this.runOne(job, me, handler, stop);
      }
    };
    await Promise.all(Array.from({ length: concurrency }, (_, i) => slot(i)));
  }

  private async runOne(job: Job, worker: string, handler: (context: JobContext) => Promise<unknown>, signal: AbortSignal): Promise<void> {
    const visibleFor = job.visibleUntil ? new Date(job.visibleUntil).getTime() - Date.now() : 30_000;
    const heartbeat = setInterval(() => {
      this.queue.call('POST', path(job.resource, job.id, '/heartbeat'), { workerId: worker }).catch(() => undefined);
    }, Math.max(100, visibleFor / 3));
    heartbeat.unref?.();
    let outputLength = job.outputLength ?? 0;
    let appending: Promise<void> = Promise.resolve();
    const context: JobContext = {
      job, payload: job.payload, workerId: worker, signal,
      reportProgress: async (progress, message) => {
        await this.queue.call('POST', path(job.resource, job.id, '/progress'), { workerId: worker, progress, ...(message !== undefined ? { message } : {}) });
      },
      appendOutput: (text: string) => {
        const append = async () => {
          await this.queue.callUntilAnswered('POST', path(job.resource, job.id, '/output'), { workerId: worker, text, offset: outputLength });
          outputLength += Buffer.byteLength(text, 'utf8');
        };
        const next = appending.then(append, append);
        appending = next.catch(() => undefined);
        return next;
      },
    };
    let report: [string, Record<string, unknown>];
    try {
      report = ['/complete', { workerId: worker, result: (await handler(context)) ?? null }];
    } catch (error) {
      report = ['/fail', { workerId: worker, error: error instanceof Error ? `${error.name}: ${error.message}` : String(error) }];
    } finally {
      clearInterval(heartbeat);
    }
    try {
      await this.queue.callUntilAnswered('POST', path(job.resource, job.id, report[0]), report[1]);
    } catch {
      // the job went back to the queue (visibility timeout) or ended: another attempt answers for it
    }
  }
}

function path(resource: string, id?: number, tail = ''): string {
  return `/v1/resources/${encodeURIComponent(resource)}/jobs${id !== undefined ? `/${id}` : ''}${tail}`;
}
