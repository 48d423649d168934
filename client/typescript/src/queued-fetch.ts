import { OrleansQueue, type AcquireOptions, type OrleansQueueOptions } from './client.js';
import { onEnd } from './ending.js';

export interface QueuedFetchOptions extends Omit<AcquireOptions, 'signal' | 'load' | 'idempotencyKey'>, OrleansQueueOptions {
  /** The load of each call, or a function of the call (its estimated tokens, say); 1 by default. */
  load?: number | ((input: RequestInfo | URL, init?: RequestInit) => number);
  /** The client to acquire through (one of its own otherwise, from `baseUrl`, `apiKey` and the environment). */
  queue?: OrleansQueue;
  /** The `fetch` that sends each call upstream (Node's own by default). */
  upstreamFetch?: typeof fetch;
}

/**
 * A `fetch` that waits for a slot of `resource` before each call: `new OpenAI({ fetch: queuedFetch("openai-gpt4") })`.
 * The upstream's status and rate-limit headers are reported to the resource (an adaptive resource learns from them), and
 * the lease is held until the response's body has been read to its end or cancelled, so a streamed answer keeps its
 * slot while it streams. The call's own `signal` withdraws its ticket while it waits.
 */
export function queuedFetch(resource: string, options: QueuedFetchOptions = {}): typeof fetch {
  const queue = options.queue ?? new OrleansQueue(options);
  const upstream = options.upstreamFetch ?? globalThis.fetch;
  const queued = async (input: RequestInfo | URL, init?: RequestInit): Promise<Response> => {
    const load = typeof options.load === 'function' ? options.load(input, init) : options.load;
    const lease = await queue.acquire(resource, {
      load, priority: options.priority, clientId: options.clientId, maxWaitMs: options.maxWaitMs, signal: init?.signal ?? undefined,
    });
    let response: Response;
    try {
      response = await upstream(input, init);
    } catch (error) {
      await lease.release();
      throw error;
    }
    lease.answered(response.status, response.headers);
    if (!response.body) {
      await lease.release();
      return response;
    }
    // The body passes through unchanged; its end (read to the last byte, cancelled, or broken) releases the lease.
    const body = onEnd(response.body, () => void lease.release().catch(() => undefined));
    return new Response(body, { status: response.status, statusText: response.statusText, headers: response.headers });
  };
  return queued as typeof fetch;
}
