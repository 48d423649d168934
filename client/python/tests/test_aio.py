"""The asyncio SDK against a real silo process."""
from __future__ import annotations

import asyncio
import unittest

import orleansqueue.aio as oq
from orleansqueue import InvalidRequest, TimedOut, UnknownResource

from .silo import Silo, shared

GENEROUS = 30.0
_silo: Silo


def setUpModule() -> None:
    global _silo
    _silo = shared()


async def until(condition, what: str) -> None:
    """Waits for the silo's own figures to say something, with a generous limit."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + GENEROUS
    while not await asyncio.to_thread(condition):
        if loop.time() > deadline:
            raise AssertionError(f"never: {what}")
        await asyncio.sleep(0.02)


class AcquireTests(unittest.IsolatedAsyncioTestCase):
    async def asyncSetUp(self) -> None:
        self.client = oq.Client(_silo.url)

    async def asyncTearDown(self) -> None:
        await self.client.close()

    async def held_and_waiting(self, name: str, **policy):
        """A resource of one slot, held, with one waiter queued behind it (the waiter's acquire as a task)."""
        _silo.create(name, maxConcurrent=1, **policy)
        holder = await self.client.acquire(name, client_id="holder")
        waiter = asyncio.ensure_future(self.client.acquire(name, client_id="waiter"))
        await until(lambda: _silo.stats(name)["waiting"] == 1, "the waiter queued")
        return holder, waiter

    async def test_a_free_slot_is_granted_at_once_and_released_on_leaving_the_block(self) -> None:
        _silo.create("py-free", maxConcurrent=1)
        async with oq.acquire("py-free", load=3, base_url=_silo.url) as lease:
            self.assertGreater(lease.fencing_token, 0)
            self.assertEqual(1, _silo.stats("py-free")["leases"])
        self.assertEqual(0, _silo.stats("py-free")["leases"])

    async def test_a_waiter_is_pushed_its_grant_with_no_status_calls(self) -> None:
        holder, waiter = await self.held_and_waiting("py-push")
        await holder.release()
        lease = await asyncio.wait_for(waiter, GENEROUS)
        self.assertEqual(holder.fencing_token + 1, lease.fencing_token)
        await lease.release()
        self.assertEqual(0, _silo.status_calls("py-push"))
        self.assertEqual(2, _silo.metric("orleansqueue_grants_total", "py-push"))  # the counters were read right

    async def test_higher_priority_is_granted_first(self) -> None:
        _silo.create("py-order", maxConcurrent=1)
        holder = await self.client.acquire("py-order", client_id="holder")
        order: list = []

        async def take(priority: str) -> None:
            lease = await self.client.acquire("py-order", priority=priority, client_id=priority)
            order.append(priority)
            await lease.release()

        low = asyncio.ensure_future(take("low"))
        await until(lambda: _silo.stats("py-order")["waiting"] == 1, "low queued")
        high = asyncio.ensure_future(take("high"))
        await until(lambda: _silo.stats("py-order")["waiting"] == 2, "high queued")
        await holder.release()
        await asyncio.wait_for(asyncio.gather(low, high), GENEROUS)
        self.assertEqual(["high", "low"], order)

    async def test_within_a_priority_clients_take_turns(self) -> None:
        _silo.create("py-fair", maxConcurrent=1)
        holder = await self.client.acquire("py-fair", client_id="holder")
        order: list = []

        async def take(client: str) -> None:
            lease = await self.client.acquire("py-fair", client_id=client)
            order.append(client)
            await lease.release()

        tasks = []
        for n, client in enumerate(["a", "a", "a", "b", "b", "b"]):
            tasks.append(asyncio.ensure_future(take(client)))
            await until(lambda: _silo.stats("py-fair")["waiting"] == n + 1, f"request {n} queued")
        await holder.release()
        await asyncio.wait_for(asyncio.gather(*tasks), GENEROUS)
        self.assertEqual(["a", "b", "a", "b", "a", "b"], order)  # a queued all three first, yet b is not starved

    async def test_a_failing_block_still_releases(self) -> None:
        _silo.create("py-fail", maxConcurrent=1)
        with self.assertRaises(ZeroDivisionError):
            async with oq.acquire("py-fail", base_url=_silo.url):
                1 / 0
        self.assertEqual(0, _silo.stats("py-fail")["leases"])

    async def test_cancelling_the_waiting_task_cancels_the_ticket(self) -> None:
        holder, waiter = await self.held_and_waiting("py-cancel")
        waiter.cancel()
        with self.assertRaises(asyncio.CancelledError):
            await waiter
        await until(lambda: _silo.stats("py-cancel")["waiting"] == 0, "the ticket was cancelled")
        self.assertEqual(1, _silo.stats("py-cancel")["cancelled"])
        await holder.release()

    async def test_a_lost_lease_is_logged_as_a_warning_and_nothing_is_logged_by_default(self) -> None:
        # A short lease renews itself within a second; deleting its resource makes the next renewal find it gone.
        _silo.create("py-lost", maxConcurrent=1, leaseTtlMs=1000, claimWindowMs=1000)
        with self.assertLogs("orleansqueue", "WARNING") as logged:
            lease = await self.client.acquire("py-lost")
            _silo.http("DELETE", "/v1/resources/py-lost")
            await until(lambda: lease.lost, "the renewal found the lease gone")
        self.assertTrue(any(f"Lease {lease.id} of py-lost was lost" in line for line in logged.output), logged.output)
        with self.assertNoLogs("orleansqueue", "WARNING"):
            await lease.release()  # a lost lease releases nothing, and says nothing more
        # The package's own handler is a NullHandler: an application that configures nothing sees nothing.
        import logging
        self.assertTrue(all(isinstance(h, logging.NullHandler) for h in logging.getLogger("orleansqueue").handlers))

    async def test_actual_load_corrects_the_window(self) -> None:
        _silo.create("py-load", loadPerWindow=10000, windowMs=600000)
        async with oq.acquire("py-load", load=2000, base_url=_silo.url) as lease:
            lease.actual_load = 500
        self.assertEqual(9500, _silo.stats("py-load")["loadLeftInWindow"])

    async def test_a_polling_only_resource_works_unchanged(self) -> None:
        holder, waiter = await self.held_and_waiting("py-poll", pushEnabled=False)
        await holder.release()
        lease = await asyncio.wait_for(waiter, GENEROUS)
        self.assertEqual(holder.fencing_token + 1, lease.fencing_token)
        await lease.release()

    async def test_a_request_not_granted_in_time_raises_timed_out(self) -> None:
        _silo.create("py-timeout", maxConcurrent=1)
        holder = await self.client.acquire("py-timeout", client_id="holder")
        with self.assertRaises(TimedOut):
            await asyncio.wait_for(self.client.acquire("py-timeout", client_id="late", max_wait=0.2), GENEROUS)
        await holder.release()

    async def test_problems_map_to_their_exceptions(self) -> None:
        with self.assertRaises(UnknownResource) as unknown:
            await self.client.acquire("py-nowhere")
        self.assertEqual(404, unknown.exception.status)
        _silo.create("py-bad", maxConcurrent=1)
        with self.assertRaises(InvalidRequest) as bad:
            await self.client.acquire("py-bad", load=-1)
        self.assertEqual("load", bad.exception.field)


if __name__ == "__main__":
    unittest.main()
