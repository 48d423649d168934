"""The synchronous facade against a real silo process."""
from __future__ import annotations

import unittest

import orleansqueue
from orleansqueue import UnknownResource

from .silo import Silo, shared

_silo: Silo


def setUpModule() -> None:
    global _silo
    _silo = shared()


class SyncAcquireTests(unittest.TestCase):
    def test_a_block_holds_the_lease_and_releases_it_with_the_actual_load(self) -> None:
        _silo.create("py-sync", maxConcurrent=1, loadPerWindow=10000, windowMs=600000)
        with orleansqueue.acquire("py-sync", load=2000, base_url=_silo.url) as lease:
            self.assertGreater(lease.fencing_token, 0)
            self.assertEqual(1, _silo.stats("py-sync")["leases"])
            lease.actual_load = 700
        stats = _silo.stats("py-sync")
        self.assertEqual(0, stats["leases"])
        self.assertEqual(9300, stats["loadLeftInWindow"])

    def test_a_failing_block_releases_and_the_error_goes_through(self) -> None:
        _silo.create("py-sync-fail", maxConcurrent=1)
        with self.assertRaises(KeyError):
            with orleansqueue.acquire("py-sync-fail", base_url=_silo.url):
                raise KeyError("boom")
        self.assertEqual(0, _silo.stats("py-sync-fail")["leases"])

    def test_a_refusal_raises_its_typed_exception(self) -> None:
        with self.assertRaises(UnknownResource):
            with orleansqueue.acquire("py-sync-nowhere", base_url=_silo.url):
                self.fail("granted a resource that does not exist")


if __name__ == "__main__":
    unittest.main()
