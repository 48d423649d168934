"""orleansqueue.httpx against a real silo and a fake upstream, under an interpreter that has httpx (Debian's python3 with
python3-httpx, which .ci/run installs): the scenarios run in tests/httpx_scenarios.py and report what they saw."""
from __future__ import annotations

import json
import os
import subprocess
import unittest

from .silo import Silo, shared

HERE = os.path.dirname(os.path.abspath(__file__))
PYTHON = "/usr/bin/python3"
_silo: Silo


def setUpModule() -> None:
    global _silo
    if not os.path.exists(PYTHON) or subprocess.run([PYTHON, "-c", "import httpx"], capture_output=True).returncode != 0:
        raise unittest.SkipTest("httpx is not installed for /usr/bin/python3 (Debian: apt-get install python3-httpx; .ci/run does)")
    _silo = shared()


def scenario(name: str) -> dict:
    ran = subprocess.run([PYTHON, os.path.join(HERE, "httpx_scenarios.py"), name, _silo.url], capture_output=True, text=True, timeout=120,
                         env={"PATH": "/usr/bin:/bin", "HOME": os.environ.get("HOME", "/tmp")})
    if ran.returncode != 0:
        raise AssertionError(f"{name} failed:\n{ran.stdout}\n{ran.stderr}")
    return json.loads(ran.stdout.strip().splitlines()[-1])


class QueuedTransportTests(unittest.TestCase):
    def test_the_lease_is_held_while_the_body_streams_and_the_upstreams_headers_are_reported(self) -> None:
        _silo.create("py-httpx-stream", maxConcurrent=2, loadPerWindow=1000, adaptive="headers")
        seen = scenario("held_while_streaming")
        self.assertEqual(200, seen["status"])
        self.assertEqual(1, seen["leases_while_streaming"])
        self.assertEqual({"answer": "ok"}, seen["body"])
        after = seen["after"]
        self.assertEqual((0, 1), (after["leases"], after["released"]))
        self.assertEqual(42, after["adaptive"]["upstreamRequestsLeft"])  # what the upstream's headers said remains

    def test_calls_through_a_resource_of_one_slot_reach_the_upstream_one_at_a_time(self) -> None:
        _silo.create("py-httpx-one", maxConcurrent=1)
        seen = scenario("one_at_a_time")
        self.assertEqual([200] * 6, seen["statuses"])
        self.assertEqual(1, seen["most_in_flight"])
        self.assertEqual((6, 0), (seen["stats"]["released"], seen["stats"]["leases"]))

    def test_a_synchronous_client_is_queued_the_same_way(self) -> None:
        _silo.create("py-httpx-sync", maxConcurrent=1, loadPerWindow=100)
        seen = scenario("synchronous")
        self.assertEqual((200, {"answer": "ok"}), (seen["status"], seen["body"]))
        self.assertEqual((1, 0, 95), (seen["stats"]["released"], seen["stats"]["leases"], seen["stats"]["loadLeftInWindow"]))


if __name__ == "__main__":
    unittest.main()
