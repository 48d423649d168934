"""Enqueues a long-running job, watches its progress and partial output as the worker reports them, then reads the
result. With --poll it asks every second and a half instead of watching (the job takes about six seconds, so a poll
sees it move). Start job_worker.py first.

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
        print(f"enqueued job {job.id}: {job.state}")
        if poll:
            while not job.finished:
                await asyncio.sleep(1.5)
                job = await client.get_job(RESOURCE, job.id)
                print(f"  {job.state:<9} {job.progress or 0:4.0%}  {job.progress_message or ''}")
        else:
            async for job in client.watch_job(RESOURCE, job.id):
                print(f"  {job.state:<9} {job.progress or 0:4.0%}  {job.progress_message or ''}")
        print("result:", await client.wait_for_result(RESOURCE, job.id))


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", default="http://127.0.0.1:5080")
    parser.add_argument("--poll", action="store_true")
    args = parser.parse_args()
    asyncio.run(main(args.url, args.poll))
