import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseUpstreamHeaders, parseDuration, EventStreamParser } from '../src/index.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..', '..');

test('every shared upstream-header case reads as in the .NET and Python SDKs', () => {
  const shared = JSON.parse(readFileSync(path.join(root, 'tests', 'shared', 'upstream-headers.json'), 'utf8'));
  const now = new Date(shared.now);
  for (const c of shared.cases) {
    assert.deepEqual(parseUpstreamHeaders(c.status, c.headers, now), c.expect, c.name);
  }
  assert.equal(parseDuration('6m0s'), 360_000);
  assert.equal(parseDuration('20ms'), 20);
  assert.equal(parseDuration('soon'), undefined);
});

test('server-sent events are parsed as the specification says, however the bytes are cut', () => {
  const stream = new TextEncoder().encode('\ufeffevent: a\r\ndata: 1\r\n\r\nid: 7\rdata:  two\rdata: lines\r\r: comment\nretry: 2500\ndata: é\n\n');
  for (const cut of [1, 2, 3, 7, stream.length]) {
    const parser = new EventStreamParser();
    const events = [];
    for (let i = 0; i < stream.length; i += cut) events.push(...parser.feed(stream.subarray(i, i + cut)));
    assert.deepEqual(events, [
      { event: 'a', data: '1', id: '' },
      { event: 'message', data: ' two\nlines', id: '7' },
      { event: 'message', data: 'é', id: '7' },
    ], `cut every ${cut}`);
    assert.equal(parser.retryMs, 2500);
  }
});
