import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { generateText, streamText, wrapLanguageModel } from 'ai';
import { createOpenAI } from '@ai-sdk/openai';
import { OrleansQueue, orleansQueue, JobFailed, type JobContext, type JobOutput } from '../src/index.js';
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

test('jobs: the caller follows the output while the worker appends it, and resumes after the last offset it had', async () => {
  await silo.create('ts-jobs-output', { maxConcurrent: 1 });
  const queue = new OrleansQueue({ baseUrl: silo.url, clientId: 'ts-output' });
  const stop = new AbortController();
  let firstSeen!: () => void;
  const seen = new Promise<void>(resolve => { firstSeen = resolve; });
  const worker = queue.jobs.runWorker('ts-jobs-output', async (context: JobContext) => {
    await context.appendOutput('Once upon a time, ');
    await seen; // the caller has this much while the job still runs
    await Promise.all([context.appendOutput('there was '), context.appendOutput('a café…')]); // in the order called
    return 'the end';
  }, { signal: stop.signal, pollWaitMs: 1000 });
  const job = await queue.jobs.enqueue('ts-jobs-output', { prompt: 'a story' });
  const stretches: JobOutput[] = [];
  for await (const stretch of queue.jobs.followOutput('ts-jobs-output', job.id)) {
    stretches.push(stretch);
    firstSeen();
  }
  assert.deepEqual([stretches[0].text, stretches[0].offset, stretches[0].next, stretches[0].state], ['Once upon a time, ', 0, 18, 'running']);
  assert.equal(stretches.map(s => s.text).join(''), 'Once upon a time, there was a café…');
  const polled = await queue.jobs.output('ts-jobs-output', job.id, { after: 18 });
  assert.deepEqual([polled.text, polled.next, polled.complete], ['there was a café…', 38, true]);
  let resumed = '';
  for await (const stretch of queue.jobs.followOutput('ts-jobs-output', job.id, { after: 28 })) resumed += stretch.text;
  assert.equal(resumed, 'a café…');
  assert.equal((await queue.jobs.get('ts-jobs-output', job.id)).outputLength, 38);
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
