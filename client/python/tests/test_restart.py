"""A silo killed with SIGKILL and started again over its SQLite store while a caller waits: the grant still reaches it."""
from __future__ import annotations

import asyncio
import tempfile
import unittest

import orleansqueue.aio as oq

from .silo import Silo
from .test_aio import GENEROUS, until


class RestartTests(unittest.IsolatedAsyncioTestCase):
    async def asyncSetUp(self) -> None:
        self.folder = tempfile.TemporaryDirectory(prefix="oq-py-restart-")
        self.silo = await asyncio.to_thread(Silo, self.folder.name)
        self.client = oq.Client(self.silo.url)

    async def asyncTearDown(self) -> None:
        await self.client.close()
        self.silo.stop()
        self.folder.cleanup()

    async def test_a_waiter_is_granted_after_the_silo_is_killed_and_started_again(self) -> None:
        self.silo.create("py-restart", maxConcurrent=1, leaseTtlMs=120000, defaultMaxWaitMs=120000)
        holder = await self.client.acquire("py-restart", client_id="holder")
        waiter = asyncio.ensure_future(self.client.acquire("py-restart", client_id="waiter"))
        await until(lambda: self.silo.stats("py-restart")["waiting"] == 1, "the waiter queued")

        await asyncio.to_thread(self.silo.kill)
        await asyncio.to_thread(self.silo.start)
        # The store kept the lease and the ticket; the waiter's stream broke with the silo and follows it again.
        self.assertEqual((1, 1), tuple(self.silo.stats("py-restart")[k] for k in ("leases", "waiting")))
        await holder.release()

        lease = await asyncio.wait_for(waiter, GENEROUS)
        self.assertEqual(holder.fencing_token + 1, lease.fencing_token)
        await lease.release()

    async def test_a_release_sent_while_the_silo_is_down_lands_once_it_is_back(self) -> None:
        self.silo.create("py-release", maxConcurrent=1, leaseTtlMs=120000)
        lease = await self.client.acquire("py-release", client_id="holder")

        await asyncio.to_thread(self.silo.kill)
        # The release meets a refused connection, and is repeated (with its idempotency key) until the silo answers.
        releasing = asyncio.ensure_future(lease.release(actual_load=1))
        await asyncio.sleep(0)
        await asyncio.to_thread(self.silo.start)
        await asyncio.wait_for(releasing, GENEROUS)

        self.assertFalse(lease.lost)
        self.assertEqual(0, self.silo.stats("py-release")["leases"])
        # The same key again (as a retry whose first answer was lost) answers released, and releases nothing more.
        path = f"/v1/resources/py-release/requests/{lease.id}/release"
        again = await asyncio.to_thread(self.silo.http, "POST", path, {"idempotencyKey": lease._release_key})
        self.assertEqual(("released", lease.id, lease.fencing_token), (again["state"], again["id"], again["fencingToken"]))
        next_lease = await self.client.acquire("py-release", client_id="next")
        self.assertEqual(lease.fencing_token + 1, next_lease.fencing_token)
        await next_lease.release()


if __name__ == "__main__":
    unittest.main()
