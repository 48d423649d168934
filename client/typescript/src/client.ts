import { fromEnding, fromProblem, OrleansQueueError, PushDisabled, RequestEnded, ResourceDeleted, UnknownRequest, UnknownResource, Unavailable, PROBLEM_PREFIX } from './errors.js';
import { EventStreamParser, type ServerSentEvent } from './sse.js';
import { Jobs } from './jobs.js';
import { delay } from './timing.js';
import { parseUpstreamHeaders, type HeadersLike, type UpstreamReport } from './upstream.js';

/** How urgent a request is: strict levels, the first served first. */
export type Priority = 'critical' | 'high' | 'normal' | 'low' | 'background';
export const priorities: readonly Priority[] = ['critical', 'high', 'normal', 'low', 'background'];

/** Where a ticket or lease is in its life. */
export type RequestState = 'waiting' | 'granted' | 'held' | 'released' | 'cancelled' | 'timedOut' | 'rejected' | 'expired' | 'reclaimed' | 'unknown';

/** A ticket or lease as the silo answered it. */
export interface RequestView {
  id: number;
  state: RequestState;
  position?: number;
  fencingToken?: number;
  expiresAt?: string;
  grantedAt?: string;
  reason?: string;
  detail?: string;
}

export interface OrleansQueueOptions {
  /** The silo's HTTP address; default `ORLEANSQUEUE_URL` or `http://127.0.0.1:5080`. */
  baseUrl?: string;
  /** An OrleansQueue API key (sent as `X-Api-Key`); default `ORLEANSQUEUE_API_KEY`. */
  apiKey?: string;
  /** The client id this client's requests wait under (fairness and quotas are per client). */
  clientId?: string;
  /** The `fetch` the SDK calls the silo with (Node's own by default). */
  fetch?: typeof fetch;
}

export interface AcquireOptions {
  /** The load of the call (tokens, say); 1 by default. */
  load?: number;
  priority?: Priority;
  clientId?: string;
  /** The longest wait, in milliseconds (the resource's default otherwise). */
  maxWaitMs?: number;
  /** Makes an acquire asked again (after a lost answer) the same ticket; one is made otherwise. */
  idempotencyKey?: string;
  /** Aborting it while waiting withdraws the ticket (and the acquire rejects with the signal's reason). */
  signal?: AbortSignal;
}

export interface ReleaseOptions {
  /** The load actually used: the window is corrected by the difference. */
  actualLoad?: number;
  /** What the upstream answered (status and headers), reported at release. */
  status?: number;
  headers?: HeadersLike;
}

/** A held slot: `await using lease = await queue.acquire(...)` releases it at the end of the block. It renews itself while
 *  held; `lost` turns true if it expired, was reclaimed or its resource deleted meanwhile. */
export class Lease implements AsyncDisposable {
  readonly id: number;
  readonly fencingToken: number;
  expiresAt?: Date;
  readonly grantedAt?: Date;
  /** The load actually used: set before release to correct the window. */
  actualLoad?: number;
  /** What the upstream answered, reported at release (see {@link answered}). */
  upstream?: UpstreamReport;
  lost = false;
  private released = false;
  private renewal?: ReturnType<typeof setTimeout>;
  private readonly releaseKey = crypto.randomUUID();

  /** @internal */
  constructor(private readonly queue: OrleansQueue, readonly resource: string, view: RequestView) {
    this.id = view.id;
    this.fencingToken = view.fencingToken ?? 0;
    this.expiresAt = view.expiresAt ? new Date(view.expiresAt) : undefined;
    this.grantedAt = view.grantedAt ? new Date(view.grantedAt) : undefined;
    this.scheduleRenewal();
  }

  /** Keeps what the upstream answered the call this lease protects, to report at release. */
  answered(status: number | undefined, headers: HeadersLike): void {
    this.upstream = parseUpstreamHeaders(status, headers);
  }

  /** Reports what the upstream answered now, the lease staying held. */
  async report(status: number | undefined, headers: HeadersLike): Promise<void> {
    await this.queue.call('POST', this.path('/report'), parseUpstreamHeaders(status, headers));
  }

  /** Extends the lease by one TTL (it renews itself; this is for a caller that wants to be sure now). */
  async renew(): Promise<void> {
    const view = await this.queue.call<RequestView>('POST', this.path('/renew'));
    this.expiresAt = view.expiresAt ? new Date(view.expiresAt) : this.expiresAt;
  }

  /** Releases the lease (once; later calls do nothing). */
  async release(options: ReleaseOptions = {}): Promise<void> {
    if (this.released) return;
    this.released = true;
    clearTimeout(this.renewal);
    if (this.lost) return;
    const body: Record<string, unknown> = { idempotencyKey: this.releaseKey };
    const load = options.actualLoad ?? this.actualLoad;
    if (load !== undefined) body.actualLoad = load;
    const upstream = options.status !== undefined || options.headers !== undefined
      ? parseUpstreamHeaders(options.status, options.headers ?? {})
      : this.upstream;
    if (upstream && Object.keys(upstream).length > 0) body.upstream = upstream;
    try {
      await this.queue.callUntilAnswered('POST', this.path('/release'), body);
    } catch (error) {
      if (error instanceof RequestEnded || error instanceof UnknownRequest || error instanceof UnknownResource) this.lost = true;
      else throw error;
    }
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.release();
  }

  private path(tail: string): string {
    return `/v1/resources/${encodeURIComponent(this.resource)}/requests/${this.id}${tail}`;
  }

  /** Renews halfway through what is left, again and again; the timer never keeps a process alive. */
  private scheduleRenewal(): void {
    const left = this.expiresAt ? this.expiresAt.getTime() - Date.now() : 30_000;
    this.renewal = setTimeout(async () => {
      try {
        await this.renew();
      } catch (error) {
        if (error instanceof RequestEnded || error instanceof UnknownRequest || error instanceof UnknownResource) {
          this.lost = true;
          return;
        }
      }
      if (!this.released) this.scheduleRenewal();
    }, Math.max(50, left / 2));
    this.renewal.unref?.();
  }
}

/**
 * A client of a silo's HTTP API: `acquire` waits for a slot without polling (server-sent events over `fetch`; a
 * polling-only resource is long-polled) and returns a {@link Lease}; refusals reject with the typed errors of the
 * problem-type table both SDKs read.
 */
export class OrleansQueue {
  readonly baseUrl: string;
  readonly clientId?: string;
  /** Job mode: enqueue, follow, wait for results, and run workers. */
  readonly jobs: Jobs;
  private readonly apiKey?: string;
  private readonly fetch: typeof fetch;

  constructor(options: OrleansQueueOptions = {}) {
    this.baseUrl = (options.baseUrl ?? process.env.ORLEANSQUEUE_URL ?? 'http://127.0.0.1:5080').replace(/\/+$/, '');
    this.apiKey = options.apiKey ?? process.env.ORLEANSQUEUE_API_KEY;
    this.clientId = options.clientId;
    this.fetch = options.fetch ?? globalThis.fetch;
    this.jobs = new Jobs(this);
  }

  /** Waits for a slot of `resource` and returns its lease. */
  async acquire(resource: string, options: AcquireOptions = {}): Promise<Lease> {
    const priority = options.priority ?? 'normal';
    if (!priorities.includes(priority)) throw new RangeError(`priority must be one of ${priorities.join(', ')}; it is ${JSON.stringify(priority)}`);
    options.signal?.throwIfAborted();
    const body: Record<string, unknown> = { load: options.load ?? 1, priority, idempotencyKey: options.idempotencyKey ?? crypto.randomUUID() };
    const clientId = options.clientId ?? this.clientId;
    if (clientId) body.clientId = clientId;
    if (options.maxWaitMs !== undefined) body.maxWaitMs = options.maxWaitMs;
    const path = `/v1/resources/${encodeURIComponent(resource)}`;
    // Not given the signal: an acquire whose answer is on its way when aborted is withdrawn once it lands.
    const acquiring = this.callUntilAnswered<RequestView>('POST', `${path}/acquire`, body);
    let view: RequestView;
    try {
      view = await raceAbort(acquiring, options.signal);
    } catch (error) {
      if (options.signal?.aborted) acquiring.then(v => this.withdraw(resource, v.id), () => undefined);
      throw error;
    }
    if (view.state === 'waiting') {
      try {
        view = await this.waitFor(resource, view.id, options.signal);
      } catch (error) {
        if (options.signal?.aborted) await this.withdraw(resource, view.id);
        if (error instanceof UnknownResource) {
          throw new ResourceDeleted(410, PROBLEM_PREFIX + 'resource-deleted', `Resource "${resource}" was deleted while request ${view.id} waited.`, 'resource');
        }
        throw error;
      }
    }
    if (view.state !== 'held' && view.state !== 'granted') throw fromEnding(view.state, view.reason, view.detail ?? `The request ended as ${view.state}.`);
    return new Lease(this, resource, view);
  }

  /** Waits until the ticket leaves the waitlist: pushed by server-sent events, or long-polled on a polling-only resource. */
  private async waitFor(resource: string, id: number, signal?: AbortSignal): Promise<RequestView> {
    const path = `/v1/resources/${encodeURIComponent(resource)}/requests/${id}`;
    try {
      for await (const event of this.follow(path + '/events', signal)) {
        if (event.event !== 'waiting') return JSON.parse(event.data) as RequestView;
      }
    } catch (error) {
      if (error instanceof PushDisabled) return this.longPoll(path, signal);
      throw error;
    }
    throw new Error('a followed stream never ends');
  }

  /** @internal The events of a server-sent-event stream, followed for as long as the caller reads: a stream that breaks or
   *  ends, or a silo that answers 503, is opened again (the silo keeps what it streams). A refusal (and
   *  {@link PushDisabled}, for a polling-only resource) is thrown. A path given as a function is asked again at each
   *  opening (to resume after what was received). */
  async *follow(path: string | (() => string), signal?: AbortSignal): AsyncGenerator<ServerSentEvent, never> {
    for (;;) {
      signal?.throwIfAborted();
      const response = await this.stream(typeof path === 'function' ? path() : path, signal).catch(error => {
        if (signal?.aborted) throw error;
        return undefined;
      });
      if (response && !response.ok) {
        const problem = fromProblem(response.status, await response.json().catch(() => ({})));
        if (!(problem instanceof Unavailable)) throw problem;
      } else if (response) {
        const parser = new EventStreamParser();
        try {
          for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
            for (const event of parser.feed(chunk)) {
              if (event.event === 'problem') throw fromProblem(500, JSON.parse(event.data));
              yield event;
            }
          }
        } catch (error) {
          if (error instanceof OrleansQueueError && !(error instanceof Unavailable)) throw error;
          signal?.throwIfAborted();
        }
      }
      await delay(200, signal);
    }
  }

  private async longPoll(path: string, signal?: AbortSignal): Promise<RequestView> {
    for (;;) {
      signal?.throwIfAborted();
      const view = await raceAbort(this.call<RequestView>('GET', `${path}/wait?timeoutMs=30000`), signal);
      if (view.state !== 'waiting') return view;
    }
  }

  private async withdraw(resource: string, id: number): Promise<void> {
    try {
      await this.call('DELETE', `/v1/resources/${encodeURIComponent(resource)}/requests/${id}`);
    } catch {
      // gone already
    }
  }

  /** Creates or changes a resource (an admin key, when the silo has keys): the fields of `PUT /v1/resources/{name}`. */
  putResource(name: string, policy: Record<string, unknown>): Promise<Record<string, unknown>> {
    return this.call('PUT', `/v1/resources/${encodeURIComponent(name)}`, policy);
  }

  /** A resource's figures now: waiting, leases, budget left, totals. */
  stats(name: string): Promise<Record<string, unknown>> {
    return this.call('GET', `/v1/resources/${encodeURIComponent(name)}/stats`);
  }

  /** @internal One call; a refusal rejects with its typed error. */
  async call<T = Record<string, unknown>>(method: string, path: string, body?: unknown, signal?: AbortSignal): Promise<T> {
    const response = await this.fetch(this.baseUrl + path, {
      method,
      headers: { ...this.headers('application/json'), ...(body !== undefined ? { 'Content-Type': 'application/json' } : {}) },
      body: body !== undefined ? JSON.stringify(body) : undefined,
      signal,
    });
    const text = await response.text();
    const data = text ? JSON.parse(text) : undefined;
    if (!response.ok) throw fromProblem(response.status, data ?? {});
    return data as T;
  }

  /** A server-sent-event stream's response (its body read by {@link follow}). */
  private stream(path: string, signal?: AbortSignal): Promise<Response> {
    return this.fetch(this.baseUrl + path, { headers: this.headers('text/event-stream'), signal });
  }

  /** @internal A call that is safe to repeat, repeated while the silo cannot be reached or answers 503 (for up to a minute). */
  async callUntilAnswered<T = Record<string, unknown>>(method: string, path: string, body?: unknown): Promise<T> {
    const deadline = Date.now() + 60_000;
    let pause = 50;
    for (;;) {
      try {
        return await this.call<T>(method, path, body);
      } catch (error) {
        const transient = error instanceof Unavailable || (error instanceof TypeError && !(error instanceof OrleansQueueError));
        if (!transient || Date.now() + pause > deadline) throw error;
        await delay(pause);
        pause = Math.min(pause * 2, 1000);
      }
    }
  }

  private headers(accept: string): Record<string, string> {
    return { Accept: accept, ...(this.apiKey ? { 'X-Api-Key': this.apiKey } : {}) };
  }
}

/** `promise`, or the signal's reason as soon as it is aborted (the promise runs on). */
function raceAbort<T>(promise: Promise<T>, signal?: AbortSignal): Promise<T> {
  if (!signal) return promise;
  return new Promise<T>((resolve, reject) => {
    const abort = () => reject(signal.reason);
    if (signal.aborted) return abort();
    signal.addEventListener('abort', abort, { once: true });
    promise.then(v => { signal.removeEventListener('abort', abort); resolve(v); }, e => { signal.removeEventListener('abort', abort); reject(e); });
  });
}
