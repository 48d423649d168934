"""Managing resources from Python: create, read, list, change, read the figures of, and delete, against a real silo."""
from __future__ import annotations

import asyncio
import unittest

import orleansqueue.aio as oq
from orleansqueue import InvalidRequest, ResourceDeleted, UnknownResource

from .silo import Silo, shared

_silo: Silo


def setUpModule() -> None:
    global _silo
    _silo = shared()


class AdminTests(unittest.IsolatedAsyncioTestCase):
    async def asyncSetUp(self) -> None:
        self.client = oq.Client(_silo.url)

    async def asyncTearDown(self) -> None:
        await self.client.close()

    async def test_a_resource_is_created_read_listed_changed_and_deleted(self) -> None:
        created = await self.client.put_resource("py-admin", max_concurrent=2, load_per_window=9000, window_ms=60000)
        self.assertEqual(("py-admin", 2, 9000, 60000), (created["name"], created["policy"]["maxConcurrent"],
                                                        created["policy"]["loadPerWindow"], created["policy"]["windowMs"]))
        self.assertEqual(created, await self.client.get_resource("py-admin"))
        self.assertIn("py-admin", [r["name"] for r in await self.client.list_resources()])

        changed = await self.client.put_resource("py-admin", max_concurrent=1, push_enabled=False)
        self.assertEqual((1, False), (changed["policy"]["maxConcurrent"], changed["pushEnabled"]))
        lease = await self.client.acquire("py-admin", client_id="admin-test")
        waiting = await self.client.stats("py-admin")
        self.assertEqual((1, 1), (waiting["leases"], waiting["granted"]))
        await lease.release()

        await self.client.delete_resource("py-admin")
        with self.assertRaises(UnknownResource):
            await self.client.get_resource("py-admin")
        self.assertNotIn("py-admin", [r["name"] for r in await self.client.list_resources()])

    async def test_a_policy_that_breaks_a_rule_is_refused_naming_the_field(self) -> None:
        with self.assertRaises(InvalidRequest) as refused:
            await self.client.put_resource("py-admin-bad", max_concurrent=1, window_ms=-5)
        self.assertEqual("windowMs", refused.exception.field)
        with self.assertRaises(UnknownResource):
            await self.client.get_resource("py-admin-bad")  # nothing was created

    async def test_a_waiter_of_a_deleted_resource_is_told_so(self) -> None:
        await self.client.put_resource("py-admin-gone", max_concurrent=1)
        holder = await self.client.acquire("py-admin-gone", client_id="holder")
        waiter = asyncio.ensure_future(self.client.acquire("py-admin-gone", client_id="waiter", max_wait=60))
        while (await self.client.stats("py-admin-gone"))["waiting"] != 1:
            await asyncio.sleep(0.02)  # the silo's own figures say when the waiter queued
        await self.client.delete_resource("py-admin-gone")
        with self.assertRaises(ResourceDeleted):
            await asyncio.wait_for(waiter, 30)
        await holder.release()  # its resource is gone with it: nothing to release, the lease is lost
        self.assertTrue(holder.lost)


if __name__ == "__main__":
    unittest.main()
