import { OrleansQueue, type Lease, type OrleansQueueOptions, type Priority } from './client.js';
import { onEnd } from './ending.js';

/** The parts of the AI SDK's language-model call this middleware reads (structural: `ai` stays an optional peer). */
export interface ModelCallParams {
  prompt?: unknown;
  maxOutputTokens?: number;
  abortSignal?: AbortSignal;
}

/** Token counts as the AI SDK reports them: numbers (LanguageModelV2) or `{ total }` objects (LanguageModelV3). */
type Tokens = number | { total?: number } | undefined;
interface ModelUsage { inputTokens?: Tokens; outputTokens?: Tokens; totalTokens?: Tokens }
interface ModelResponse { headers?: Record<string, string | undefined> }

export interface OrleansQueueMiddlewareOptions extends OrleansQueueOptions {
  /** The resource whose budget the model's calls wait for. */
  resource: string;
  priority?: Priority;
  maxWaitMs?: number;
  /** The client to acquire through (one of its own otherwise, from `baseUrl`, `apiKey` and the environment). */
  queue?: OrleansQueue;
  /** The load of a call: by default its prompt's characters / 4 (a rough token count) plus `maxOutputTokens`. */
  estimate?: (params: ModelCallParams) => number;
}

/**
 * A Vercel AI SDK language-model middleware that queues each call on a resource:
 * `wrapLanguageModel({ model, middleware: orleansQueue({ resource: "openai-gpt4", priority: "high" }) })`. It acquires
 * before `doGenerate` and `doStream` (the call's abort signal withdraws the ticket), reports the response's headers, and
 * releases with the tokens the model reports using (at the stream's finish part, for a stream), so the window is charged
 * what was used.
 */
export function orleansQueue(options: OrleansQueueMiddlewareOptions) {
  const queue = options.queue ?? new OrleansQueue(options);
  const estimate = options.estimate ?? defaultEstimate;
  const acquire = (params: ModelCallParams) => queue.acquire(options.resource, {
    load: Math.max(1, Math.ceil(estimate(params))), priority: options.priority, clientId: options.clientId, maxWaitMs: options.maxWaitMs,
    signal: params.abortSignal,
  });
  return {
    specificationVersion: 'v3' as const,

    async wrapGenerate<R extends { usage?: ModelUsage; response?: ModelResponse }>({ doGenerate, params }: { doGenerate: () => PromiseLike<R>; params: ModelCallParams }): Promise<R> {
      const lease = await acquire(params);
      try {
        const result = await doGenerate();
        answered(lease, result.response);
        await lease.release({ actualLoad: used(result.usage) });
        return result;
      } catch (error) {
        await lease.release();
        throw error;
      }
    },

    async wrapStream<R extends { stream: ReadableStream<unknown>; response?: ModelResponse }>({ doStream, params }: { doStream: () => PromiseLike<R>; params: ModelCallParams }): Promise<R> {
      const lease = await acquire(params);
      let result: R;
      try {
        result = await doStream();
      } catch (error) {
        await lease.release();
        throw error;
      }
      answered(lease, result.response);
      let usage: ModelUsage | undefined;
      const watched = result.stream.pipeThrough(new TransformStream<unknown, unknown>({
        transform(part, controller) {
          const p = part as { type?: string; usage?: ModelUsage };
          if (p.type === 'finish' && p.usage) usage = p.usage;
          controller.enqueue(part);
        },
      }));
      // Released once the stream ends, however it ends (a reader that stops early cancels it).
      const stream = onEnd(watched, () => void lease.release({ actualLoad: used(usage) }).catch(() => undefined));
      return { ...result, stream };
    },
  };
}

function answered(lease: Lease, response: ModelResponse | undefined): void {
  if (response?.headers) {
    lease.answered(undefined, Object.entries(response.headers).filter((e): e is [string, string] => e[1] !== undefined));
  }
}

function tokens(value: Tokens): number | undefined {
  return typeof value === 'number' ? value : value?.total;
}

/** The tokens a call used, as its usage says (input plus output, or the total); undefined when it said nothing. */
function used(usage: ModelUsage | undefined): number | undefined {
  if (!usage) return undefined;
  const input = tokens(usage.inputTokens);
  const output = tokens(usage.outputTokens);
  if (input !== undefined || output !== undefined) return (input ?? 0) + (output ?? 0);
  return tokens(usage.totalTokens);
}

function defaultEstimate(params: ModelCallParams): number {
  return JSON.stringify(params.prompt ?? '').length / 4 + (params.maxOutputTokens ?? 0);
}
