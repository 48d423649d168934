"""A worker for long-running jobs: takes jobs of a resource, appends their output as it grows, reports progress, and
completes them with a result.
Run it beside job_poller.py (which enqueues a job and follows it).

    PYTHONPATH=client/python python3 client/python/examples/job_worker.py [--url http://127.0.0.1:5080]
"""
from __future__ import annotations

import argparse
import asyncio

import orleansqueue.aio as oq

RESOURCE = "py-example-jobs"


async def define(client: oq.Client) -> None:
    """The resource the jobs run under: two at a time (an admin key, when the silo has keys)."""
    await client.put_resource(RESOURCE, max_concurrent=2, job_visibility_timeout_ms=30_000)


async def summarise(context: oq.JobContext):
    text = context.payload["text"]
    words = text.split()
    summary = []
    for n, word in enumerate(words, 1):
        await asyncio.sleep(0.8)  # one slow step of a long request: the job takes a few seconds
        summary.append(word[0].upper())
        await context.append_output(word[0].upper())  # the output, as it grows (a model's tokens, say)
        await context.report_progress(n / len(words), f"{n} of {len(words)} words")
    return {"summary": "".join(summary), "words": len(words)}


async def main(url: str) -> None:
    async with oq.Client(url) as client:
        await define(client)
        print(f"working on {RESOURCE} (Ctrl+C to stop)")
        await client.run_worker(RESOURCE, summarise, concurrency=2)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", default="http://127.0.0.1:5080")
    try:
        asyncio.run(main(parser.parse_args().url))
    except KeyboardInterrupt:
        pass
