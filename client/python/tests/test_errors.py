"""Every problem type the silo can answer maps to an exception of its own."""
from __future__ import annotations

import os
import re
import unittest

from orleansqueue.errors import PREFIX, OrleansQueueError, from_problem

from .silo import ROOT


class ProblemMappingTests(unittest.TestCase):
    def test_every_problem_type_of_the_silo_has_its_exception(self) -> None:
        # The silo's problem types, from the one place that defines them.
        with open(os.path.join(ROOT, "grains", "OrleansQueue.Contracts", "Problem.cs"), encoding="utf-8") as source:
            types = set(re.findall(r'Prefix \+ "([a-z-]+)"', source.read()))
        self.assertGreater(len(types), 15)
        for kind in sorted(types):
            with self.subTest(kind=kind):
                error = from_problem(400, {"type": PREFIX + kind, "detail": "d", "field": "f", "retryAfterMs": 1500})
                self.assertIsNot(type(error), OrleansQueueError, f"{kind} maps to the base class")
                self.assertEqual(("d", "f", 1.5), (error.detail, error.field, error.retry_after))

    def test_an_unknown_type_still_raises_the_base_exception_with_its_detail(self) -> None:
        error = from_problem(418, {"type": "urn:example:teapot", "title": "I am a teapot"})
        self.assertIs(type(error), OrleansQueueError)
        self.assertEqual((418, "I am a teapot"), (error.status, error.detail))


if __name__ == "__main__":
    unittest.main()
