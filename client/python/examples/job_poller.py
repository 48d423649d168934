"""Enqueues a long-running job, follows its output as the worker appends it (pushed by the job's events), then reads
the result. With --poll it asks every second and a half instead, for the job's progress and the output since the last
offset it read (the job takes about six seconds, so each poll sees it move). Start job_worker.py first.

    PYTHONPATH=client/python python3 client/python/examples/job_poller.py [--url http://127.0.0.1:5080] [--poll]
"""
from __future__ import annotations

import argparse
import asyncio

import orleansqueue.aio as oq

from job_worker import RESOURCE, define


async def main(url: str, poll: bool) -> None:
    async with oq.Client(url, client_id="poller") as client:
        await define(client)
        job = await client.enqueue(RESOURCE, {"text": "orleans queue owns every rate limited budget"})
        print(f"enqueued job {job.id}: {job.state.value}")
        if poll:
            after, text = 0, ""
            while not job.finished:
                await asyncio.sleep(1.5)
                job = await client.get_job(RESOURCE, job.id)
                stretch = await client.job_output(RESOURCE, job.id, after=after)  # only what came since the last poll
                after, text = stretch.next, text + stretch.text
                print(f"  {job.state.value:<9} {job.progress or 0:4.0%}  output so far: {text!r} (+{stretch.text!r})")
        else:
            text = ""
            async for stretch in client.follow_output(RESOURCE, job.id):
                text += stretch.text
                print(f"  output so far: {text!r} (bytes {stretch.offset} to {stretch.next})")
        print("result:", await client.wait_for_result(RESOURCE, job.id))


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", default="http://127.0.0.1:5080")
    parser.add_argument("--poll", action="store_true")
    args = parser.parse_args()
    asyncio.run(main(args.url, args.poll))
