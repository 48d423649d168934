import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import { OrleansQueue, queuedFetch } from '../src/index.js';
import { Silo, FakeUpstream, eventually, deferred } from './silo.js';

let silo: Silo;
let upstream: FakeUpstream;
before(async () => { silo = await new Silo().start(); upstream = await new FakeUpstream().start(); });
after(() => { upstream.stop(); silo.stop(); });

function openai(resource: string, options: Parameters<typeof queuedFetch>[1] = {}): OpenAI {
  return new OpenAI({ baseURL: `${upstream.url}/v1`, apiKey: 'sk-upstream', maxRetries: 0, fetch: queuedFetch(resource, { baseUrl: silo.url, ...options }) });
}

test('openai-node given queuedFetch calls the upstream one slot at a time and reports its headers', async () => {
  await silo.create('ts-fetch-one', { maxConcurrent: 1, adaptive: 'headers' });
  const client = openai('ts-fetch-one');
  const answers = await Promise.all([0, 1, 2, 3].map(i => client.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: `call ${i}` }] })));
  for (const answer of answers) assert.equal(answer.choices[0].message.content, 'Hello.');
  assert.equal(upstream.most, 1);
  const stats = await silo.stats('ts-fetch-one');
  assert.equal(stats.released, 4);
  // The upstream's headers were reported: it said 42 remain, less the grants made since it said so.
  assert.ok(stats.adaptive.upstreamRequestsLeft <= 42 && stats.adaptive.upstreamRequestsLeft >= 38, String(stats.adaptive.upstreamRequestsLeft));
});

test('a streamed answer keeps its slot until its last chunk, and the higher priority goes first', async () => {
  await silo.create('ts-fetch-stream', { maxConcurrent: 1 });
  upstream.hold = deferred();
  const before = upstream.received.length;
  const stream = await openai('ts-fetch-stream').chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'long' }], stream: true });
  const chunks = stream[Symbol.asyncIterator]();
  assert.equal((await chunks.next()).value?.choices[0]?.delta?.content, 'Hel');
  assert.equal((await silo.stats('ts-fetch-stream')).leases, 1); // held while it streams
  const low = openai('ts-fetch-stream', { priority: 'low' }).chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'low' }], user: 'low' });
  await eventually(async () => (await silo.stats('ts-fetch-stream')).waiting === 1);
  const high = openai('ts-fetch-stream', { priority: 'high' }).chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'high' }], user: 'high' });
  await eventually(async () => (await silo.stats('ts-fetch-stream')).waiting === 2);
  upstream.hold.resolve();
  upstream.hold = undefined;
  for (let next = await chunks.next(); !next.done; next = await chunks.next()) { /* read to the end */ }
  await Promise.all([low, high]);
  assert.deepEqual(upstream.received.slice(before + 1).map(r => r.body.user), ['high', 'low']);
  // Each lease is released when its body ends, by a call of its own that the caller does not wait for: wait for it.
  await eventually(async () => (await silo.stats('ts-fetch-stream')).leases === 0);
});

test('aborting a queued call withdraws its ticket', async () => {
  await silo.create('ts-fetch-abort', { maxConcurrent: 1 });
  const queue = new OrleansQueue({ baseUrl: silo.url });
  const holder = await queue.acquire('ts-fetch-abort');
  const abort = new AbortController();
  const call = openai('ts-fetch-abort', { queue }).chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'x' }] }, { signal: abort.signal });
  await eventually(async () => (await silo.stats('ts-fetch-abort')).waiting === 1);
  abort.abort();
  await assert.rejects(call);
  await eventually(async () => (await silo.stats('ts-fetch-abort')).waiting === 0);
  await holder.release();
});
