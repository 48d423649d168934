"""Job mode against a real silo process: enqueue, a worker, results, progress, failures, polling-only resources."""
from __future__ import annotations

import asyncio
import unittest

import orleansqueue.aio as oq
from orleansqueue import JobCancelled, JobFailed

from .silo import Silo, shared

GENEROUS = 30.0
_silo: Silo


def setUpModule() -> None:
    global _silo
    _silo = shared()


class JobTests(unittest.IsolatedAsyncioTestCase):
    async def asyncSetUp(self) -> None:
        self.client = oq.Client(_silo.url, client_id="py-jobs")
        self.stop = asyncio.Event()
        self.workers: list = []

    async def asyncTearDown(self) -> None:
        self.stop.set()
        await asyncio.wait_for(asyncio.gather(*self.workers, return_exceptions=True), GENEROUS)
        await self.client.close()

    def worker(self, resource: str, handler, **kwargs) -> None:
        self.workers.append(asyncio.ensure_future(self.client.run_worker(resource, handler, stop=self.stop, poll_wait=1.0, **kwargs)))

    async def test_jobs_run_on_a_worker_and_their_results_are_read(self) -> None:
        _silo.create("py-jobs-run", maxConcurrent=2)

        async def double(context: oq.JobContext):
            return {"doubled": context.payload["n"] * 2}

        jobs = [await self.client.enqueue("py-jobs-run", {"n": n}) for n in range(5)]
        self.assertTrue(all(job.state == "queued" for job in jobs))
        self.worker("py-jobs-run", double, concurrency=2)

        results = [await asyncio.wait_for(self.client.wait_for_result("py-jobs-run", job.id), GENEROUS) for job in jobs]

        self.assertEqual([{"doubled": n * 2} for n in range(5)], results)
        self.assertEqual("completed", (await self.client.get_job("py-jobs-run", jobs[0].id)).state)

    async def test_watching_a_job_shows_its_progress_then_its_result(self) -> None:
        _silo.create("py-jobs-watch", maxConcurrent=1)
        go_on = asyncio.Event()

        async def slow(context: oq.JobContext):
            await context.report_progress(0.5, "half way")
            await go_on.wait()
            return "done"

        job = await self.client.enqueue("py-jobs-watch", {"task": "summarise"})
        self.worker("py-jobs-watch", slow)
        seen = []
        async for now in self.client.watch_job("py-jobs-watch", job.id):
            seen.append((now.state, now.progress, now.progress_message))
            if now.progress == 0.5:
                go_on.set()  # let the handler finish only once its progress was seen
        self.assertIn(("running", 0.5, "half way"), seen)
        self.assertEqual("completed", seen[-1][0])
        self.assertEqual("done", (await self.client.get_job("py-jobs-watch", job.id)).result)

    async def test_a_failing_handler_dead_letters_the_job_after_its_attempts(self) -> None:
        _silo.create("py-jobs-fail", maxConcurrent=1, jobMaxAttempts=2, jobRetryDelayMs=10)
        attempts = []

        async def broken(context: oq.JobContext):
            attempts.append(context.job.id)
            raise ValueError("the upstream said no")

        job = await self.client.enqueue("py-jobs-fail", {"n": 1})
        self.worker("py-jobs-fail", broken)
        with self.assertRaises(JobFailed) as failed:
            await asyncio.wait_for(self.client.wait_for_result("py-jobs-fail", job.id), GENEROUS)
        self.assertIn("the upstream said no", failed.exception.job.error)
        self.assertEqual(2, len(attempts))

    async def test_a_cancelled_job_raises_for_whoever_waits_for_it(self) -> None:
        _silo.create("py-jobs-cancel", maxConcurrent=1)
        job = await self.client.enqueue("py-jobs-cancel", {"n": 1})
        waiting = asyncio.ensure_future(self.client.wait_for_result("py-jobs-cancel", job.id))
        await self.client.cancel_job("py-jobs-cancel", job.id)
        with self.assertRaises(JobCancelled):
            await asyncio.wait_for(waiting, GENEROUS)

    async def test_a_callers_follows_the_output_while_the_worker_appends_it(self) -> None:
        _silo.create("py-jobs-output", maxConcurrent=1)
        first_seen = asyncio.Event()

        async def story(context: oq.JobContext):
            await context.append_output("Once upon a time, ")
            await first_seen.wait()  # the caller has this much while the job still runs
            await context.append_output("there was a café…")
            return {"words": 7}

        job = await self.client.enqueue("py-jobs-output", {"prompt": "a story"})
        self.worker("py-jobs-output", story)
        stretches = []

        async def follow() -> None:
            async for stretch in self.client.follow_output("py-jobs-output", job.id):
                stretches.append(stretch)
                first_seen.set()
        await asyncio.wait_for(follow(), GENEROUS)

        self.assertEqual(("Once upon a time, ", 0, 18, "running"), (stretches[0].text, stretches[0].offset, stretches[0].next, stretches[0].state))
        self.assertEqual("Once upon a time, there was a café…", "".join(s.text for s in stretches))
        polled = await self.client.job_output("py-jobs-output", job.id, after=18)
        self.assertEqual(("there was a café…", 38, True), (polled.text, polled.next, polled.complete))
        self.assertEqual(38, (await self.client.get_job("py-jobs-output", job.id)).output_length)
        resumed = [s async for s in self.client.follow_output("py-jobs-output", job.id, after=18)]
        self.assertEqual("there was a café…", "".join(s.text for s in resumed))

    async def test_output_is_read_by_polling_on_a_polling_only_resource(self) -> None:
        _silo.create("py-jobs-output-poll", maxConcurrent=1, pushEnabled=False)

        async def count(context: oq.JobContext):
            for n in range(3):
                await context.append_output(f"{n} ")
            return None

        job = await self.client.enqueue("py-jobs-output-poll", {})
        self.worker("py-jobs-output-poll", count)
        text = ""
        async for stretch in self.client.follow_output("py-jobs-output-poll", job.id, poll_interval=0.05):
            text += stretch.text
        self.assertEqual("0 1 2 ", text)
        self.assertEqual("completed", (await self.client.get_job("py-jobs-output-poll", job.id)).state)

    async def test_a_polling_only_resource_runs_jobs_unchanged(self) -> None:
        _silo.create("py-jobs-poll", maxConcurrent=1, pushEnabled=False)

        async def echo(context: oq.JobContext):
            return context.payload

        job = await self.client.enqueue("py-jobs-poll", ["a", 1])
        self.worker("py-jobs-poll", echo)
        self.assertEqual(["a", 1], await asyncio.wait_for(self.client.wait_for_result("py-jobs-poll", job.id), GENEROUS))


if __name__ == "__main__":
    unittest.main()
