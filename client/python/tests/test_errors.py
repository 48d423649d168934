"""Every problem type the silo can answer is in the one problem-type table (shared with the .NET SDK), and maps to the
exception its error names; a request that ended without a lease is raised through the same table."""
from __future__ import annotations

import json
import os
import re
import unittest

from orleansqueue import errors
from orleansqueue.errors import PREFIX, OrleansQueueError, from_ending, from_problem

from .silo import ROOT


def _table():
    with open(os.path.join(ROOT, "client", "python", "orleansqueue", "problem_types.json"), encoding="utf-8") as table:
        return json.load(table)


class ProblemMappingTests(unittest.TestCase):
    def test_every_problem_type_of_the_silo_is_in_the_table_and_nothing_else(self) -> None:
        # The silo's problem types, from the one place that defines them.
        with open(os.path.join(ROOT, "grains", "OrleansQueue.Contracts", "Problem.cs"), encoding="utf-8") as source:
            types = set(re.findall(r'Prefix \+ "([a-z-]+)"', source.read()))
        self.assertGreater(len(types), 25)
        self.assertEqual(types, set(_table()["types"]))

    def test_each_type_raises_the_class_its_error_names_and_none_the_base_class(self) -> None:
        for kind, entry in sorted(_table()["types"].items()):
            with self.subTest(kind=kind):
                error = from_problem(entry["status"], {"type": PREFIX + kind, "detail": "d", "field": "f", "retryAfterMs": 1500})
                self.assertIs(type(error), getattr(errors, entry["error"]))
                self.assertIsNot(type(error), OrleansQueueError)
                self.assertEqual(("d", "f", 1.5), (error.detail, error.field, error.retry_after))

    def test_a_request_that_ended_without_a_lease_is_raised_through_the_table(self) -> None:
        self.assertIsInstance(from_ending("timedOut", None, "d"), errors.TimedOut)
        self.assertIsInstance(from_ending("rejected", "resourceDeleted", "d"), errors.ResourceDeleted)
        self.assertIsInstance(from_ending("rejected", "queueFull", "d"), errors.QueueFull)
        self.assertIsInstance(from_ending("rejected", "invalidLoad", "d"), errors.InvalidLoad)
        ended = from_ending("expired", None, "d")
        self.assertIs(type(ended), errors.RequestEnded)
        self.assertEqual((PREFIX + "request-ended", 410), (ended.type, ended.status))

    def test_an_unknown_type_still_raises_the_base_exception_with_its_detail(self) -> None:
        error = from_problem(418, {"type": "urn:example:teapot", "title": "I am a teapot"})
        self.assertIs(type(error), OrleansQueueError)
        self.assertEqual((418, "I am a teapot"), (error.status, error.detail))


if __name__ == "__main__":
    unittest.main()
