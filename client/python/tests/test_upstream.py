"""The Python SDK reads both providers' rate-limit headers, and a lease reports them to the silo in one line."""
from __future__ import annotations

import json
import unittest
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime
from pathlib import Path

import orleansqueue.aio as oq
from orleansqueue import TimedOut, parse_duration, parse_headers

from .silo import Silo, shared

NOW = datetime(2026, 12, 6, 12, 0, 0, tzinfo=timezone.utc)
_silo: Silo


def setUpModule() -> None:
    global _silo
    _silo = shared()


class HeaderTests(unittest.TestCase):
    def test_openai_headers_with_durations_as_resets(self) -> None:
        report = parse_headers(200, {
            "x-ratelimit-limit-requests": "10000", "x-ratelimit-remaining-requests": "9999", "x-ratelimit-reset-requests": "6ms",
            "x-ratelimit-limit-tokens": "2000000", "x-ratelimit-remaining-tokens": "1999100", "x-ratelimit-reset-tokens": "6m0s",
        }, NOW)
        self.assertEqual({"status": 200, "requests": {"limit": 10000, "remaining": 9999, "resetMs": 6},
                          "load": {"limit": 2000000, "remaining": 1999100, "resetMs": 360000}}, report)

    def test_a_429_with_retry_after_in_seconds_milliseconds_or_a_date(self) -> None:
        self.assertEqual(20000, parse_headers(429, {"Retry-After": "20"}, NOW)["retryAfterMs"])
        self.assertEqual(1250, parse_headers(429, [("retry-after-ms", "1250"), ("retry-after", "9")], NOW)["retryAfterMs"])
        date = format_datetime(NOW + timedelta(seconds=30), usegmt=True)
        self.assertEqual(30000, parse_headers(503, {"retry-after": date}, NOW)["retryAfterMs"])
        self.assertEqual(90500, parse_headers(429, {"x-ratelimit-reset-requests": "1m30.5s"}, NOW)["requests"]["resetMs"])

    def test_anthropic_headers_with_times_as_resets(self) -> None:
        report = parse_headers(200, {
            "anthropic-ratelimit-requests-limit": "50", "anthropic-ratelimit-requests-remaining": "49",
            "anthropic-ratelimit-requests-reset": "2026-12-06T12:00:01Z",
            "anthropic-ratelimit-tokens-limit": "80000", "anthropic-ratelimit-tokens-remaining": "79000",
            "anthropic-ratelimit-tokens-reset": "2026-12-06T12:00:12.500Z",
        }, NOW)
        self.assertEqual({"limit": 50, "remaining": 49, "resetMs": 1000}, report["requests"])
        self.assertEqual({"limit": 80000, "remaining": 79000, "resetMs": 12500}, report["load"])

    def test_anthropic_input_and_output_tokens_give_the_tighter(self) -> None:
        report = parse_headers(429, {
            "retry-after": "7",
            "anthropic-ratelimit-input-tokens-limit": "40000", "anthropic-ratelimit-input-tokens-remaining": "30000",
            "anthropic-ratelimit-input-tokens-reset": "2026-12-06T12:00:05Z",
            "anthropic-ratelimit-output-tokens-limit": "8000", "anthropic-ratelimit-output-tokens-remaining": "0",
            "anthropic-ratelimit-output-tokens-reset": "2026-12-06T12:00:07Z",
        }, NOW)
        self.assertEqual({"limit": 8000, "remaining": 0, "resetMs": 7000}, report["load"])

    def test_azures_minus_one_and_zero_and_malformed_figures_are_left_out(self) -> None:
        report = parse_headers(200, {"x-ratelimit-limit-requests": "0", "x-ratelimit-remaining-requests": "-1",
                                     "x-ratelimit-remaining-tokens": "lots", "x-ratelimit-reset-tokens": "soon",
                                     "retry-after": "-5"}, NOW)
        self.assertEqual({"status": 200}, report)
        self.assertNotIn("remaining", parse_headers(200, {"x-ratelimit-remaining-requests": "500",
                                                          "x-ratelimit-limit-requests": "100"}, NOW)["requests"])
        self.assertNotIn("retryAfterMs", parse_headers(429, {"retry-after": "9999999"}, NOW))
        self.assertNotIn("status", parse_headers(99, {}, NOW))

    def test_durations(self) -> None:
        for text, seconds in (("1s", 1.0), ("6m0s", 360.0), ("20ms", 0.02), ("1h2m3.5s", 3723.5), ("0.5s", 0.5)):
            self.assertAlmostEqual(seconds, parse_duration(text), msg=text)
        for text in ("", "5", "5x", "m5", "1.2.3s"):
            self.assertIsNone(parse_duration(text), msg=text)


class SharedCaseTests(unittest.TestCase):
    """The cases of tests/shared/upstream-headers.json, which the .NET SDK's tests run too: the two read a response alike."""

    def test_every_shared_case(self) -> None:
        path = Path(__file__).resolve().parents[3] / "tests" / "shared" / "upstream-headers.json"
        table = json.loads(path.read_text(encoding="utf-8"))
        now = datetime.fromisoformat(table["now"].replace("Z", "+00:00"))
        for case in table["cases"]:
            with self.subTest(case["name"]):
                self.assertEqual(case["expect"], parse_headers(case["status"], case["headers"], now))


class ReportTests(unittest.IsolatedAsyncioTestCase):
    async def test_a_429_reported_at_release_pauses_an_adaptive_resource(self) -> None:
        _silo.create("py-adaptive", maxConcurrent=5, adaptive="headers")
        async with oq.acquire("py-adaptive", base_url=_silo.url) as lease:
            lease.answered(429, {"retry-after": "30", "x-ratelimit-remaining-requests": "0"})  # the one line
        adaptive = _silo.stats("py-adaptive")["adaptive"]
        self.assertEqual("headers", adaptive["mode"])
        self.assertEqual(1, adaptive["throttles"])
        self.assertIn("429", adaptive["pauseReason"])
        with self.assertRaises(TimedOut):  # no grant while the upstream's retry-after runs
            async with oq.acquire("py-adaptive", base_url=_silo.url, max_wait=0):
                pass

    async def test_a_report_while_held_keeps_the_lease(self) -> None:
        _silo.create("py-adaptive-held", maxConcurrent=5, adaptive="headers")
        async with oq.acquire("py-adaptive-held", base_url=_silo.url) as lease:
            await lease.report(200, {"x-ratelimit-limit-requests": "100", "x-ratelimit-remaining-requests": "40",
                                     "x-ratelimit-reset-requests": "30s"})
            self.assertEqual(40, _silo.stats("py-adaptive-held")["adaptive"]["upstreamRequestsLeft"])
            self.assertFalse(lease.lost)


if __name__ == "__main__":
    unittest.main()
