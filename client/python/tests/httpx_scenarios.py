"""Scenarios of orleansqueue.httpx, run by test_httpx.py under an interpreter that has httpx (Debian's python3 with
python3-httpx): each prints what it saw as JSON. A fake upstream on loopback counts the calls in flight at once and
answers with OpenAI's rate-limit headers; its answers stream in two parts, the second after the test says so."""
from __future__ import annotations

import asyncio
import json
import os
import sys
import threading
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

sys.path.insert(0, os.path.abspath(os.path.join(os.path.dirname(__file__), "..")))

import httpx  # noqa: E402

import orleansqueue  # noqa: E402
import orleansqueue.aio as oq  # noqa: E402
from orleansqueue.httpx import QueuedTransport, SyncQueuedTransport  # noqa: E402


class Upstream(BaseHTTPRequestHandler):
    in_flight = 0
    most = 0
    lock = threading.Lock()
    second_part = threading.Event()

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        with Upstream.lock:
            Upstream.in_flight += 1
            Upstream.most = max(Upstream.most, Upstream.in_flight)
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("x-ratelimit-limit-requests", "100")
        self.send_header("x-ratelimit-remaining-requests", "42")
        self.send_header("x-ratelimit-reset-requests", "30s")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        self.chunk(b'{"answer":')
        if self.path == "/slow":
            Upstream.second_part.wait(30)
        self.chunk(b'"ok"}')
        self.wfile.write(b"0\r\n\r\n")
        with Upstream.lock:
            Upstream.in_flight -= 1

    def chunk(self, data: bytes) -> None:
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
        self.wfile.flush()

    def log_message(self, *args: object) -> None:
        pass


def upstream() -> str:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Upstream)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{server.server_address[1]}"


def stats(silo: str, resource: str) -> dict:
    with urllib.request.urlopen(f"{silo}/v1/resources/{resource}/stats", timeout=10) as answer:
        return json.loads(answer.read())


async def held_while_streaming(silo: str) -> dict:
    """One streamed call: the lease is held while its body streams, released once it was read; the headers were reported."""
    target = upstream()
    seen = {}
    async with httpx.AsyncClient(transport=QueuedTransport("py-httpx-stream", base_url=silo, load=10)) as client:
        async with client.stream("POST", target + "/slow", json={"q": 1}) as response:
            seen["status"] = response.status_code
            seen["leases_while_streaming"] = (await asyncio.to_thread(stats, silo, "py-httpx-stream"))["leases"]
            Upstream.second_part.set()
            seen["body"] = json.loads(await response.aread())
        seen["after"] = await asyncio.to_thread(stats, silo, "py-httpx-stream")
    return seen


async def one_at_a_time(silo: str) -> dict:
    """Six calls at once through a resource of one slot: the upstream never sees two at a time."""
    target = upstream()
    Upstream.second_part.set()
    async with oq.Client(silo) as queue, httpx.AsyncClient(transport=QueuedTransport("py-httpx-one", client=queue)) as client:
        answers = await asyncio.gather(*(client.post(target + "/slow", json={"i": i}) for i in range(6)))
    return {"statuses": [a.status_code for a in answers], "most_in_flight": Upstream.most, "stats": stats(silo, "py-httpx-one")}


def synchronous(silo: str) -> dict:
    """The same with a synchronous httpx.Client."""
    target = upstream()
    Upstream.second_part.set()
    with orleansqueue.Client(silo) as queue, httpx.Client(transport=SyncQueuedTransport("py-httpx-sync", client=queue, load=5)) as client:
        answer = client.post(target + "/fast", json={})
        return {"status": answer.status_code, "body": answer.json(), "stats": stats(silo, "py-httpx-sync")}


if __name__ == "__main__":
    scenario, silo_url = sys.argv[1], sys.argv[2]
    run = globals()[scenario]
    result = asyncio.run(run(silo_url)) if asyncio.iscoroutinefunction(run) else run(silo_url)
    print(json.dumps(result))
