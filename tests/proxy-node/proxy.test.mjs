// openai-node, given only the silo's proxy as its baseURL and an OrleansQueue key as its apiKey, against a fake OpenAI
// upstream and a real silo process: answered with the upstream's key, streamed through chunk by chunk while the upstream
// still streams, queued by priority, never handed a 429 while it can wait, and a caller that aborts frees its slot; a call
// sent with Prefer: respond-async becomes a job whose output is read by polling and by its stream across a reconnect; the
// responses API passes as chat completions do.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import OpenAI from 'openai';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const KEY = 'node-proxy-admin-key-0123';
const UPSTREAM_KEY = 'sk-node-upstream-secret-77';
const GENEROUS = 30_000; // a wait on an event; a whole test gets four (a proxy that held a stream back would hang it)

/** A fake OpenAI upstream: chat completions, plain or streamed ("Hel", "lo.", then usage of 11 tokens), at most `limit`
 *  calls per `windowMs` (past it, 429 with retry-after-ms), every call recorded; a stream can be held after its first chunk. */
function fakeUpstream(limit = 1000, windowMs = 60_000) {
  const state = { received: [], accepted: 0, refused: 0, calls: [], hold: null };
  const server = http.createServer(async (req, res) => {
    let body = '';
    for await (const chunk of req) body += chunk;
    const json = JSON.parse(body || '{}');
    state.received.push({ authorization: req.headers.authorization, apiKey: req.headers['x-api-key'], body: json });
    const now = Date.now();
    state.calls = state.calls.filter(t => now - t < windowMs);
    if (state.calls.length >= limit) {
      state.refused++;
      const wait = Math.ceil(state.calls[0] + windowMs - now);
      res.writeHead(429, { 'retry-after-ms': String(wait), 'x-ratelimit-remaining-requests': '0', 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: { message: 'rate limited', type: 'rate_limit_exceeded' } }));
      return;
    }
    state.calls.push(now);
    state.accepted++;
    if (req.url === '/v1/responses') {
      // OpenAI's responses API: the same text and usage, whole or as its stream of typed events.
      const usage = { input_tokens: 9, output_tokens: 2, total_tokens: 11, input_tokens_details: { cached_tokens: 0 }, output_tokens_details: { reasoning_tokens: 0 } };
      const response = (status, text, usage) => ({ id: 'resp_1', object: 'response', created_at: 1700000000, status, model: 'gpt-4o',
        output: text ? [{ type: 'message', id: 'msg_1', status: 'completed', role: 'assistant', content: [{ type: 'output_text', text, annotations: [] }] }] : [],
        error: null, incomplete_details: null, instructions: null, metadata: {}, parallel_tool_calls: true, temperature: 1, top_p: 1,
        tool_choice: 'auto', tools: [], text: { format: { type: 'text' } }, truncation: 'disabled', usage });
      if (!json.stream) {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify(response('completed', 'Hello.', usage)));
        return;
      }
      const event = (type, data) => `event: ${type}\ndata: ${JSON.stringify({ type, ...data })}\n\n`;
      const delta = (sequence_number, text) => event('response.output_text.delta', { sequence_number, item_id: 'msg_1', output_index: 0, content_index: 0, delta: text, logprobs: [] });
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write(event('response.created', { sequence_number: 0, response: response('in_progress', null, null) }) + delta(1, 'Hel'));
      if (state.hold) await state.hold.promise;
      state.releasedAt = Date.now();
      res.end(delta(2, 'lo.') + event('response.completed', { sequence_number: 3, response: response('completed', 'Hello.', usage) }));
      return;
    }
    const chunk = (delta, finish) => `data: ${JSON.stringify({ id: 'c1', object: 'chat.completion.chunk', created: 1700000000, model: 'gpt-4o', choices: [{ index: 0, delta, finish_reason: finish }] })}\n\n`;
    if (json.stream) {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write(chunk({ role: 'assistant', content: 'Hel' }, null));
      if (state.hold) await state.hold.promise;
      state.releasedAt = Date.now();
      res.write(chunk({ content: 'lo.' }, 'stop'));
      res.write(`data: ${JSON.stringify({ id: 'c1', object: 'chat.completion.chunk', created: 1700000000, model: 'gpt-4o', choices: [], usage: { prompt_tokens: 9, completion_tokens: 2, total_tokens: 11 } })}\n\n`);
      res.end('data: [DONE]\n\n');
    } else {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ id: 'chatcmpl-1', object: 'chat.completion', created: 1700000000, model: 'gpt-4o',
        choices: [{ index: 0, message: { role: 'assistant', content: 'Hello.' }, finish_reason: 'stop' }],
        usage: { prompt_tokens: 9, completion_tokens: 2, total_tokens: 11 } }));
    }
  });
  return new Promise(resolve => server.listen(0, '127.0.0.1', () => {
    state.server = server;
    state.baseUrl = `http://127.0.0.1:${server.address().port}`;
    resolve(state);
  }));
}

function freePort() {
  return new Promise(resolve => { const s = net.createServer(); s.listen(0, '127.0.0.1', () => { const { port } = s.address(); s.close(() => resolve(port)); }); });
}

function deferred() {
  let resolve;
  const promise = new Promise(r => { resolve = r; });
  return { promise, resolve };
}

/** Asks again every 20 ms until `condition` holds (a figure of the silo: nothing tells of it). */
async function eventually(condition) {
  const until = Date.now() + GENEROUS;
  while (!(await condition())) {
    if (Date.now() > until) throw new Error('the condition never held');
    await new Promise(r => setTimeout(r, 20));
  }
}

let silo, siloUrl, upstream;

before(async () => {
  upstream = await fakeUpstream();
  const port = await freePort();
  siloUrl = `http://127.0.0.1:${port}`;
  const dll = path.join(root, 'silo', 'OrleansQueue.Silo', 'bin', 'Debug', 'net10.0', 'OrleansQueue.Silo.dll');
  silo = spawn('dotnet', [dll, '--urls', siloUrl, '--Silo:Store:Provider', 'memory', '--Silo:Clustering:SiloPort', '0',
    '--Silo:ApiKeys:0:Key', KEY, '--Silo:ApiKeys:0:Tenant', 'apps', '--Silo:ApiKeys:0:Admin', 'true', '--FakeUpstream:Key', UPSTREAM_KEY],
    { stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  silo.stdout.on('data', d => { log += d; });
  silo.stderr.on('data', d => { log += d; });
  await eventually(async () => {
    if (silo.exitCode !== null) throw new Error(`the silo exited: ${log}`);
    try { return (await fetch(`${siloUrl}/healthz`)).ok; } catch { return false; }
  });
});

after(async () => {
  silo?.kill('SIGKILL');
  upstream?.hold?.resolve();
  upstream?.server.close();
});

async function api(method, url, body) {
  const res = await fetch(siloUrl + url, { method, headers: { 'X-Api-Key': KEY, 'Content-Type': 'application/json' }, body: body && JSON.stringify(body) });
  return { status: res.status, body: await res.json() };
}

async function define(resource, limits, target = upstream) {
  const answer = await api('PUT', `/v1/resources/${resource}`, { ...limits, upstream: { baseUrl: target.baseUrl, provider: 'openai', keySetting: 'FakeUpstream:Key' } });
  assert.equal(answer.status, 201, JSON.stringify(answer.body));
  assert.ok(!JSON.stringify(answer.body).includes(UPSTREAM_KEY));
}

const stats = async resource => (await api('GET', `/v1/resources/${resource}/stats`)).body;

function client(resource, headers = {}) {
  return new OpenAI({ baseURL: `${siloUrl}/v1/proxy/${resource}/v1`, apiKey: KEY, maxRetries: 0, defaultHeaders: headers });
}

test('a call is answered with the upstream key in place of the caller key, and the window is charged its usage', { timeout: 4 * GENEROUS }, async () => {
  await define('node-plain', { loadPerWindow: 100000 });
  const before = upstream.received.length;
  const { data, response } = await client('node-plain').chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'Say hello.' }], max_tokens: 50 }).withResponse();
  assert.equal(data.choices[0].message.content, 'Hello.');
  const call = upstream.received[before];
  assert.equal(call.authorization, `Bearer ${UPSTREAM_KEY}`);
  assert.equal(call.apiKey, undefined);
  assert.equal(response.headers.get('x-orleansqueue-fencing-token'), '1');
  await eventually(async () => (await stats('node-plain')).released === 1);
  assert.equal((await stats('node-plain')).loadLeftInWindow, 100000 - 11);
});

test('a stream reaches the caller chunk by chunk while the upstream is still streaming', { timeout: 4 * GENEROUS }, async () => {
  await define('node-stream', { loadPerWindow: 100000 });
  upstream.hold = deferred();
  const stream = await client('node-stream').chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'Say hello.' }], stream: true });
  let text = '';
  let firstAt;
  for await (const chunk of stream) {
    if (firstAt === undefined) {
      firstAt = Date.now();
      // The upstream holds the rest until the first chunk is here: it can only be here because nothing buffered it.
      setImmediate(() => upstream.hold.resolve());
    }
    text += chunk.choices[0]?.delta?.content ?? '';
  }
  upstream.hold = null;
  assert.equal(text, 'Hello.');
  assert.ok(firstAt <= upstream.releasedAt, `first chunk at ${firstAt}, upstream released at ${upstream.releasedAt}`);
  assert.equal(upstream.received.at(-1).body.stream_options.include_usage, true);
  await eventually(async () => (await stats('node-stream')).released === 1);
  assert.equal((await stats('node-stream')).loadLeftInWindow, 100000 - 11);
});

test('when the budget is short the higher priority goes first', { timeout: 4 * GENEROUS }, async () => {
  await define('node-priority', { maxConcurrent: 1 });
  const held = await api('POST', '/v1/resources/node-priority/acquire', { clientId: 'holder' });
  assert.equal(held.body.state, 'held');
  const before = upstream.received.length;
  const low = client('node-priority', { 'X-OrleansQueue-Priority': 'low' }).chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'low' }], user: 'low-caller' });
  await eventually(async () => (await stats('node-priority')).waiting === 1);
  const high = client('node-priority', { 'X-OrleansQueue-Priority': 'high' }).chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'high' }], user: 'high-caller' });
  await eventually(async () => (await stats('node-priority')).waiting === 2);
  assert.equal((await api('POST', `/v1/resources/node-priority/requests/${held.body.id}/release`)).status, 200);
  await Promise.all([low, high]);
  assert.deepEqual(upstream.received.slice(before).map(c => c.body.user), ['high-caller', 'low-caller']);
});

test('an upstream 429 never reaches a caller that can still wait', { timeout: 4 * GENEROUS }, async () => {
  const strict = await fakeUpstream(1, 1000);
  try {
    await define('node-strict', { defaultMaxWaitMs: 20000 }, strict);
    const answers = await Promise.all([0, 1, 2].map(i => client('node-strict').chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: `call ${i}` }] })));
    for (const answer of answers) assert.equal(answer.choices[0].message.content, 'Hello.');
    assert.ok(strict.refused >= 1, 'the upstream never refused: the test proved nothing');
    assert.equal(strict.accepted, 3);
  } finally {
    strict.server.close();
  }
});

test('a caller that aborts mid-stream frees its slot', { timeout: 4 * GENEROUS }, async () => {
  await define('node-abort', { maxConcurrent: 1 });
  upstream.hold = deferred();
  const abort = new AbortController();
  const stream = await client('node-abort').chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'long' }], stream: true }, { signal: abort.signal });
  const chunks = stream[Symbol.asyncIterator]();
  await chunks.next();
  assert.equal((await stats('node-abort')).leases, 1);
  abort.abort();
  await eventually(async () => { const s = await stats('node-abort'); return s.leases === 0 && s.released === 1; });
  upstream.hold.resolve();
  upstream.hold = null;
  const { response } = await client('node-abort').chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'next' }] }).withResponse();
  assert.equal(response.headers.get('x-orleansqueue-fencing-token'), '2');
});

/** Reads server-sent events from a fetch response: yields {event, id, data} as each arrives. */
async function* events(response) {
  const decoder = new TextDecoder();
  let buffer = '';
  for await (const chunk of response.body) {
    buffer += decoder.decode(chunk, { stream: true });
    let end;
    while ((end = buffer.indexOf('\n\n')) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      const event = { event: 'message', id: undefined, data: '' };
      for (const line of block.split('\n')) {
        const [field, ...rest] = line.split(': ');
        if (field === 'event') event.event = rest.join(': ');
        else if (field === 'id') event.id = rest.join(': ');
        else if (field === 'data') event.data = rest.join(': ');
      }
      if (event.data) yield event;
    }
  }
}

test('the responses API, whole and streamed, is answered through the proxy and charged its usage', { timeout: 4 * GENEROUS }, async () => {
  await define('node-responses', { loadPerWindow: 100000 });
  const openai = client('node-responses');
  const whole = await openai.responses.create({ model: 'gpt-4o', input: 'Say hello.' });
  assert.equal(whole.output_text, 'Hello.');

  upstream.hold = deferred();
  const stream = await openai.responses.create({ model: 'gpt-4o', input: 'Say hello.', stream: true });
  let text = '', firstAt;
  for await (const event of stream) {
    if (event.type !== 'response.output_text.delta') continue;
    text += event.delta;
    if (!firstAt) { firstAt = Date.now(); upstream.hold.resolve(); } // the first delta came while the upstream held the rest
  }
  upstream.hold = null;
  assert.equal(text, 'Hello.');
  assert.ok(firstAt <= upstream.releasedAt, 'the first delta reached the caller before the upstream sent the rest');
  let stats;
  await eventually(async () => (stats = (await api('GET', '/v1/resources/node-responses/stats')).body).released === 2);
  assert.equal(stats.loadLeftInWindow, 100000 - 2 * 11);
});

test('a call sent with Prefer: respond-async becomes a job whose output is read by polling and by its stream across a reconnect', { timeout: 4 * GENEROUS }, async () => {
  await define('node-async', { loadPerWindow: 100000 });
  upstream.hold = deferred();
  // openai-node sends it as it sends any call (the header is one of its request options); the raw answer is the job.
  const response = await client('node-async').chat.completions
    .create({ model: 'gpt-4o', stream: true, messages: [{ role: 'user', content: 'Say hello.' }] }, { headers: { Prefer: 'respond-async' } })
    .asResponse();
  assert.equal(response.status, 202);
  assert.equal(response.headers.get('preference-applied'), 'respond-async');
  const accepted = await response.json();
  assert.equal(accepted.location, response.headers.get('location'));
  const job = response.headers.get('location');
  assert.match(job, /^\/v1\/resources\/node-async\/jobs\/\d+$/);

  // Polling with after=: the first chunk while the upstream still holds the rest.
  let first;
  await eventually(async () => (first = (await api('GET', `${job}/output?after=0`)).body).text.includes('"Hel"'));
  assert.equal(first.state, 'running');

  // The job's stream: what came so far, then a reconnect that resumes after the last id received.
  const opened = new AbortController();
  const stream = await fetch(`${siloUrl}${job}/events`, { headers: { 'X-Api-Key': KEY }, signal: opened.signal });
  let lastId;
  for await (const event of events(stream)) {
    if (event.event === 'output') { lastId = event.id; break; }
  }
  assert.equal(Number(lastId), first.next);
  opened.abort();
  upstream.hold.resolve();
  upstream.hold = null;
  const resumed = await fetch(`${siloUrl}${job}/events`, { headers: { 'X-Api-Key': KEY, 'Last-Event-ID': lastId } });
  let rest = '', end;
  for await (const event of events(resumed)) {
    if (event.event === 'output') rest += JSON.parse(event.data).text;
    else if (['completed', 'deadLettered'].includes(event.event)) { end = JSON.parse(event.data); break; }
  }
  assert.equal(end.state, 'completed');
  assert.equal(first.text + rest, end.result.body);
  assert.match(rest, /"lo\."/);
  assert.ok(rest.endsWith('data: [DONE]\n\n'));
});
