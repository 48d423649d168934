import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { generateText, streamText, wrapLanguageModel } from 'ai';
import { createOpenAI } from '@ai-sdk/openai';
import { OrleansQueue, orleansQueue, JobFailed, type JobContext } from '../src/index.js';
import { Silo, FakeUpstream, eventually } from './silo.js';

let silo: Silo;
let upstream: FakeUpstream;
before(async () => { silo = await new Silo().start(); upstream = await new FakeUpstream().start(); });
after(() => { upstream.stop(); silo.stop(); });

test('jobs: a worker runs them, reports progress, and callers watch and wait for their results', async () => {
  await silo.create('ts-jobs', { maxConcurrent: 2 });
  const queue = new OrleansQueue({ baseUrl: silo.url, clientId: 'ts-jobs' });
  const stop = new AbortController();
  const worker = queue.jobs.runWorker('ts-jobs', async (context: JobContext) => {
    const { n } = context.payload as { n: number };
    await context.reportProgress(0.5, 'half way');
    return { doubled: n * 2 };
  }, { signal: stop.signal, pollWaitMs: 1000, concurrency: 2 });
  const job = await queue.jobs.enqueue('ts-jobs', { n: 21 }, { priority: 'high' });
  const states: string[] = [];
  for await (const now of queue.jobs.watch('ts-jobs', job.id)) states.push(now.state);
  assert.equal(states.at(-1), 'completed');
  assert.deepEqual(await queue.jobs.waitForResult('ts-jobs', job.id), { doubled: 42 });
  assert.equal((await queue.jobs.get('ts-jobs', job.id)).progress, 0.5);
  stop.abort();
  await worker;
});

test('jobs: a job that fails its last attempt rejects waitForResult with JobFailed', async () => {
  await silo.create('ts-jobs-fail', { maxConcurrent: 1, jobMaxAttempts: 1 });
  const queue = new OrleansQueue({ baseUrl: silo.url });
  const stop = new AbortController();
  const worker = queue.jobs.runWorker('ts-jobs-fail', async () => { throw new Error('no luck'); }, { signal: stop.signal, pollWaitMs: 1000 });
  const job = await queue.jobs.enqueue('ts-jobs-fail', {});
  const failed = await queue.jobs.waitForResult('ts-jobs-fail', job.id).catch(e => e);
  assert.ok(failed instanceof JobFailed, String(failed));
  assert.match(failed.message, /no luck/);
  stop.abort();
  await worker;
});

test('the AI SDK with the orleansQueue middleware is queued and charged the usage the model reports', async () => {
  await silo.create('ts-ai', { maxConcurrent: 1, loadPerWindow: 100000, windowMs: 600000 });
  const openai = createOpenAI({ baseURL: `${upstream.url}/v1`, apiKey: 'sk-upstream' });
  const model = wrapLanguageModel({ model: openai.chat('gpt-4o'), middleware: orleansQueue({ resource: 'ts-ai', baseUrl: silo.url, priority: 'high' }) });

  const { text } = await generateText({ model, prompt: 'Say hello.', maxRetries: 0 });
  assert.equal(text, 'Hello.');
  await eventually(async () => (await silo.stats('ts-ai')).released === 1);
  assert.equal((await silo.stats('ts-ai')).loadLeftInWindow, 100000 - 11);

  const streamed = streamText({ model, prompt: 'Say hello.', maxRetries: 0 });
  let all = '';
  for await (const part of streamed.textStream) all += part;
  assert.equal(all, 'Hello.');
  await eventually(async () => (await silo.stats('ts-ai')).released === 2);
  const stats = await silo.stats('ts-ai');
  assert.equal(stats.leases, 0);
  assert.equal(stats.loadLeftInWindow, 100000 - 22);
});
