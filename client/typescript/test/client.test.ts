import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { OrleansQueue, TimedOut, UnknownResource, InvalidRequest, problemTypes, errorClass } from '../src/index.js';
import { Silo, eventually, GENEROUS } from './silo.js';

let silo: Silo;
before(async () => { silo = await new Silo().start(); });
after(() => silo.stop());

test('a free slot is held at once and released at the end of an await using block', async () => {
  await silo.create('ts-free', { maxConcurrent: 1 });
  const queue = new OrleansQueue({ baseUrl: silo.url });
  {
    await using lease = await queue.acquire('ts-free', { load: 1 });
    assert.equal(lease.fencingToken, 1);
    assert.equal((await silo.stats('ts-free')).leases, 1);
  }
  assert.equal((await silo.stats('ts-free')).leases, 0);
});

test('a waiter is pushed its grant, the higher priority first', async () => {
  await silo.create('ts-priority', { maxConcurrent: 1 });
  const queue = new OrleansQueue({ baseUrl: silo.url });
  const holder = await queue.acquire('ts-priority', { clientId: 'holder' });
  const order: string[] = [];
  const low = queue.acquire('ts-priority', { priority: 'low', clientId: 'low' }).then(l => { order.push('low'); return l; });
  await eventually(async () => (await silo.stats('ts-priority')).waiting === 1);
  const high = queue.acquire('ts-priority', { priority: 'high', clientId: 'high' }).then(l => { order.push('high'); return l; });
  await eventually(async () => (await silo.stats('ts-priority')).waiting === 2);
  await holder.release();
  const first = await high;
  await first.release();
  const second = await low;
  await second.release();
  assert.deepEqual(order, ['high', 'low']);
  assert.ok(second.fencingToken > first.fencingToken);
});

test('aborting the signal while waiting withdraws the ticket', async () => {
  await silo.create('ts-abort', { maxConcurrent: 1 });
  const queue = new OrleansQueue({ baseUrl: silo.url });
  const holder = await queue.acquire('ts-abort');
  const abort = new AbortController();
  const waiting = queue.acquire('ts-abort', { signal: abort.signal });
  await eventually(async () => (await silo.stats('ts-abort')).waiting === 1);
  abort.abort(new Error('the caller left'));
  await assert.rejects(waiting, /the caller left/);
  await eventually(async () => (await silo.stats('ts-abort')).waiting === 0);
  assert.equal((await silo.stats('ts-abort')).cancelled, 1);
  await holder.release();
});

test('a polling-only resource is long-polled transparently', async () => {
  await silo.create('ts-poll', { maxConcurrent: 1, pushEnabled: false });
  const queue = new OrleansQueue({ baseUrl: silo.url });
  const holder = await queue.acquire('ts-poll');
  const waiting = queue.acquire('ts-poll');
  await eventually(async () => (await silo.stats('ts-poll')).waiting === 1);
  await holder.release();
  const lease = await waiting;
  assert.equal(lease.fencingToken, 2);
  await lease.release();
});

test('refusals reject with the typed errors of the table both SDKs read', async () => {
  await silo.create('ts-refused', { maxConcurrent: 1 });
  const queue = new OrleansQueue({ baseUrl: silo.url });
  await assert.rejects(queue.acquire('ts-nowhere'), UnknownResource);
  const holder = await queue.acquire('ts-refused');
  const timedOut = await queue.acquire('ts-refused', { maxWaitMs: 100 }).catch(e => e);
  assert.ok(timedOut instanceof TimedOut, String(timedOut));
  assert.equal(timedOut.field, 'maxWaitMs');
  const invalid = await queue.acquire('ts-refused', { load: 0 }).catch(e => e);
  assert.ok(invalid instanceof InvalidRequest);
  await holder.release();
  // Every error of the table has its class here.
  for (const [type, error] of Object.entries(problemTypes)) assert.ok(errorClass(error), `${type}: no class for ${error}`);
});

test('the lease renews itself while held and the actual load corrects the window', async () => {
  await silo.create('ts-renew', { maxConcurrent: 1, leaseTtlMs: 600, claimWindowMs: 600, loadPerWindow: 1000, windowMs: 600000 });
  const queue = new OrleansQueue({ baseUrl: silo.url });
  const lease = await queue.acquire('ts-renew', { load: 400 });
  const first = lease.expiresAt!.getTime();
  await eventually(() => lease.expiresAt!.getTime() > first + 500); // renewed at least once past its first TTL
  assert.equal(lease.lost, false);
  lease.answered(200, { 'x-ratelimit-remaining-requests': '7' });
  await lease.release({ actualLoad: 100 });
  assert.equal((await silo.stats('ts-renew')).loadLeftInWindow, 900);
  void GENEROUS;
});
