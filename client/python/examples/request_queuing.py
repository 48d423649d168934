"""Many simulated LLM calls from four clients at mixed priorities against a requests- and tokens-per-window budget.
Prints the grant order as it happens, then the rates observed per window and the mean wait per priority.

    dotnet run --project silo/OrleansQueue.Silo     # in one terminal
    PYTHONPATH=client/python python3 client/python/examples/request_queuing.py [--url http://127.0.0.1:5080]
"""
from __future__ import annotations

import argparse
import asyncio
import json
import random
import time
import urllib.request
from collections import defaultdict

import orleansqueue.aio as oq

RESOURCE = "py-example-llm"
WINDOW_S = 2.0
RPW, TPW = 10, 20_000  # 10 requests and 20,000 tokens per 2 s window


def define(url: str) -> None:
    body = json.dumps({"maxConcurrent": 4, "requestsPerWindow": RPW, "loadPerWindow": TPW, "windowMs": int(WINDOW_S * 1000),
                       "defaultMaxWaitMs": 120_000}).encode()
    request = urllib.request.Request(f"{url}/v1/resources/{RESOURCE}", data=body, method="PUT",
                                     headers={"Content-Type": "application/json"})
    urllib.request.urlopen(request).read()


async def main(url: str, calls: int) -> None:
    define(url)
    rng = random.Random(7)
    grants: list = []
    waits = defaultdict(list)
    start = time.monotonic()

    async with oq.Client(url) as client:
        async def call(n: int) -> None:
            who = rng.choice(["alice", "bob", "carol", "dave"])
            priority = rng.choice(["high", "normal", "normal", "low"])
            tokens = rng.randint(500, 3000)
            asked = time.monotonic()
            async with await client.acquire(RESOURCE, load=tokens, priority=priority, client_id=who) as lease:
                granted = time.monotonic() - start
                waits[priority].append(time.monotonic() - asked)
                print(f"{granted:6.2f}s  #{lease.fencing_token:<3} {who:<6} {priority:<7} {tokens:>5} tokens")
                await asyncio.sleep(rng.uniform(0.05, 0.3))     # the "LLM call"
                lease.actual_load = int(tokens * rng.uniform(0.6, 1.0))  # what the response says it used
                grants.append((lease.granted_at.timestamp(), lease.actual_load))

        await asyncio.gather(*(call(n) for n in range(calls)))

    # The silo's window slides: the busiest stretch of one window's length, by the silo's own grant times.
    times = sorted(grants)
    busiest = max(sum(1 for t, _ in times if start_at <= t < start_at + WINDOW_S) for start_at, _ in times)
    heaviest = max(sum(load for t, load in times if start_at <= t < start_at + WINDOW_S) for start_at, _ in times)
    print(f"\n{len(grants)} calls in {time.monotonic() - start:.1f} s; busiest {WINDOW_S:g} s: {busiest} requests (limit {RPW}), "
          f"{heaviest} tokens used (limit {TPW}; each call reserved its estimate, corrected at release)")
    for priority in ("high", "normal", "low"):
        if waits[priority]:
            print(f"mean wait, {priority:<6}: {sum(waits[priority]) / len(waits[priority]):.2f} s over {len(waits[priority])} calls")


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", default="http://127.0.0.1:5080")
    parser.add_argument("--calls", type=int, default=40)
    args = parser.parse_args()
    asyncio.run(main(args.url, args.calls))
