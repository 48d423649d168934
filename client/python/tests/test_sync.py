"""The synchronous twin of the asyncio client against a real silo process: one event-loop thread for the whole process,
one connection pool per client, leases, resources, jobs and a worker whose handler blocks."""
from __future__ import annotations

import threading
import unittest

import orleansqueue
from orleansqueue import InvalidRequest

from .silo import Silo, shared

GENEROUS = 30.0
_silo: Silo


def setUpModule() -> None:
    global _silo
    _silo = shared()


def loop_threads() -> int:
    return sum(1 for t in threading.enumerate() if t.name == "orleansqueue")


class SyncClientTests(unittest.TestCase):
    def test_clients_share_one_loop_thread_and_each_keeps_its_connections(self) -> None:
        _silo.create("py-sync", maxConcurrent=2)
        with orleansqueue.Client(_silo.url) as first, orleansqueue.Client(_silo.url) as second:
            with first.acquire("py-sync") as a, second.acquire("py-sync", priority="high") as b:
                self.assertEqual({1, 2}, {a.fencing_token, b.fencing_token})
                self.assertEqual(2, first.stats("py-sync")["leases"])
            self.assertEqual(0, second.stats("py-sync")["leases"])
            with orleansqueue.acquire("py-sync", base_url=_silo.url) as c:
                self.assertEqual(3, c.fencing_token)
            self.assertEqual(1, loop_threads())
            # Calls one after another reuse one pooled connection of their client.
            for _ in range(5):
                first.stats("py-sync")
            self.assertEqual(1, len(first._client._http._idle))

    def test_resources_are_managed_and_refusals_raised_as_in_the_asyncio_client(self) -> None:
        with orleansqueue.Client(_silo.url) as client:
            client.put_resource("py-sync-admin", maxConcurrent=3)
            self.assertEqual(3, client.get_resource("py-sync-admin")["policy"]["maxConcurrent"])
            self.assertIn("py-sync-admin", [r["name"] for r in client.list_resources()])
            with self.assertRaises(InvalidRequest) as refused:
                client.put_resource("py-sync-admin", maxConcurrent=0)
            self.assertEqual("maxConcurrent", refused.exception.field)
            client.delete_resource("py-sync-admin")

    def test_a_worker_runs_a_blocking_handler_that_reports_progress_and_output_and_its_result_is_waited_for(self) -> None:
        _silo.create("py-sync-jobs", maxConcurrent=1)
        stop = threading.Event()
        seen: list = []

        def handler(context: orleansqueue.WorkerContext) -> dict:
            context.report_progress(0.5, "half way")  # blocks until the silo has it
            context.append_output("twenty-one, ")
            context.append_output("doubled")
            seen.append(threading.current_thread().name)
            return {"doubled": context.payload["n"] * 2}

        with orleansqueue.Client(_silo.url, client_id="py-sync") as client:
            worker = threading.Thread(target=client.run_worker, args=("py-sync-jobs", handler), kwargs={"stop": stop, "poll_wait": 1.0})
            worker.start()
            try:
                job = client.enqueue("py-sync-jobs", {"n": 21})
                self.assertEqual({"doubled": 42}, client.wait_for_result("py-sync-jobs", job.id, timeout=GENEROUS))
                states = [j.state for j in client.watch_job("py-sync-jobs", job.id)]
                self.assertEqual("completed", states[-1])
                self.assertEqual(0.5, client.get_job("py-sync-jobs", job.id).progress)
                self.assertEqual("twenty-one, doubled", "".join(s.text for s in client.follow_output("py-sync-jobs", job.id)))
                self.assertEqual("doubled", client.job_output("py-sync-jobs", job.id, after=12).text)
            finally:
                stop.set()
                worker.join(GENEROUS)
            self.assertFalse(worker.is_alive())
            self.assertNotEqual("orleansqueue", seen[0])  # the handler ran off the SDK's loop thread


if __name__ == "__main__":
    unittest.main()
