// A real silo process for the tests: the built OrleansQueue.Silo.dll on a free loopback port with the in-memory store,
// killed by its process id when the tests end; and a fake OpenAI-shaped upstream.
import { spawn, type ChildProcess } from 'node:child_process';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..', '..');
export const GENEROUS = 30_000;

export function freePort(): Promise<number> {
  return new Promise(resolve => {
    const server = net.createServer();
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/** Asks again every 20 ms until `condition` holds (a figure of the silo: nothing tells of it). */
export async function eventually(condition: () => Promise<boolean> | boolean): Promise<void> {
  const until = Date.now() + GENEROUS;
  while (!(await condition())) {
    if (Date.now() > until) throw new Error('the condition never held');
    await new Promise(r => setTimeout(r, 20));
  }
}

export class Silo {
  private process?: ChildProcess;
  url = '';

  async start(): Promise<this> {
    const port = await freePort();
    this.url = `http://127.0.0.1:${port}`;
    const dll = path.join(root, 'silo', 'OrleansQueue.Silo', 'bin', 'Debug', 'net10.0', 'OrleansQueue.Silo.dll');
    this.process = spawn('dotnet', [dll, '--urls', this.url, '--Silo:Store:Provider', 'memory', '--Silo:Clustering:SiloPort', '0'], { stdio: 'ignore' });
    await eventually(async () => {
      if (this.process!.exitCode !== null) throw new Error('the silo exited');
      try { return (await fetch(`${this.url}/healthz`)).ok; } catch { return false; }
    });
    return this;
  }

  async http(method: string, path: string, body?: unknown): Promise<any> {
    const response = await fetch(this.url + path, { method, headers: { 'Content-Type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
    const text = await response.text();
    return text ? JSON.parse(text) : undefined;
  }

  create(name: string, policy: Record<string, unknown>): Promise<any> {
    return this.http('PUT', `/v1/resources/${name}`, policy);
  }

  stats(name: string): Promise<any> {
    return this.http('GET', `/v1/resources/${name}/stats`);
  }

  stop(): void {
    this.process?.kill('SIGKILL');
  }
}

/** A fake OpenAI upstream: chat completions, plain or streamed ("Hel", "lo.", then the usage), every call's time and
 *  body recorded with how many were in flight at once; a stream can be held after its first chunk. */
export class FakeUpstream {
  private server?: http.Server;
  url = '';
  received: { body: any; at: number }[] = [];
  inFlight = 0;
  most = 0;
  hold?: { promise: Promise<void>; resolve: () => void };

  async start(): Promise<this> {
    this.server = http.createServer(async (req, res) => {
      let text = '';
      for await (const chunk of req) text += chunk;
      const body = JSON.parse(text || '{}');
      this.received.push({ body, at: Date.now() });
      this.inFlight++;
      this.most = Math.max(this.most, this.inFlight);
      const headers = { 'x-ratelimit-limit-requests': '100', 'x-ratelimit-remaining-requests': '42', 'x-ratelimit-reset-requests': '30s' };
      const chunk = (delta: object, finish: string | null) =>
        `data: ${JSON.stringify({ id: 'c1', object: 'chat.completion.chunk', created: 1700000000, model: 'gpt-4o', choices: [{ index: 0, delta, finish_reason: finish }] })}\n\n`;
      if (body.stream) {
        res.writeHead(200, { 'content-type': 'text/event-stream', ...headers });
        res.write(chunk({ role: 'assistant', content: 'Hel' }, null));
        if (this.hold) await this.hold.promise;
        res.write(chunk({ content: 'lo.' }, 'stop'));
        if (body.stream_options?.include_usage) {
          res.write(`data: ${JSON.stringify({ id: 'c1', object: 'chat.completion.chunk', created: 1700000000, model: 'gpt-4o', choices: [], usage: { prompt_tokens: 9, completion_tokens: 2, total_tokens: 11 } })}\n\n`);
        }
        res.end('data: [DONE]\n\n');
      } else {
        res.writeHead(200, { 'content-type': 'application/json', ...headers });
        res.end(JSON.stringify({ id: 'chatcmpl-1', object: 'chat.completion', created: 1700000000, model: 'gpt-4o',
          choices: [{ index: 0, message: { role: 'assistant', content: 'Hello.' }, finish_reason: 'stop' }],
          usage: { prompt_tokens: 9, completion_tokens: 2, total_tokens: 11 } }));
      }
      this.inFlight--;
    });
    await new Promise<void>(resolve => this.server!.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as net.AddressInfo).port}`;
    return this;
  }

  stop(): void {
    this.hold?.resolve();
    this.server?.close();
    this.server?.closeAllConnections();
  }
}

export function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>(r => { resolve = r; });
  return { promise, resolve };
}
