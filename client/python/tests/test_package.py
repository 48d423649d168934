"""The package installs as a user installs it (pip, offline, from the folder) and brings its data files along."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))


class PackageTests(unittest.TestCase):
    def test_pip_installs_it_offline_with_its_version_types_marker_and_problem_table(self) -> None:
        # Offline, pip builds with the interpreter's own setuptools and wheel: this one's, or Debian's python3's.
        builders = [p for p in (sys.executable, "/usr/bin/python3") if os.path.exists(p)
                    and subprocess.run([p, "-c", "import setuptools, wheel, pip"], capture_output=True).returncode == 0]
        if not builders:
            self.skipTest("no interpreter here has pip, setuptools and wheel (Debian: python3-pip python3-wheel) to build the package offline")
        with tempfile.TemporaryDirectory(prefix="oq-pip-") as target, tempfile.TemporaryDirectory(prefix="oq-build-") as build:
            # A copy of the package is built, as setuptools writes its build/ and egg-info/ beside the sources it builds.
            source = os.path.join(build, "orleansqueue-src")
            shutil.copytree(HERE, source, ignore=shutil.ignore_patterns("tests", "examples", "__pycache__", "build", "*.egg-info"))
            env = {**os.environ, "PIP_NO_INDEX": "1", "PIP_DISABLE_PIP_VERSION_CHECK": "1", "TMPDIR": build}
            installed = subprocess.run([builders[0], "-m", "pip", "install", "--no-build-isolation", "--no-deps", "--target", target, source],
                                       capture_output=True, text=True, env=env, cwd=build)
            self.assertEqual(0, installed.returncode, installed.stdout + installed.stderr)
            for name in ("__init__.py", "py.typed", "problem_types.json"):
                self.assertTrue(os.path.exists(os.path.join(target, "orleansqueue", name)), name)
            probe = subprocess.run([sys.executable, "-c", "import orleansqueue, orleansqueue.errors as e; print(orleansqueue.__version__, orleansqueue.__file__)"],
                                   capture_output=True, text=True, env={**os.environ, "PYTHONPATH": target}, cwd=build)
            self.assertEqual(0, probe.returncode, probe.stderr)
            version, location = probe.stdout.split()
            import orleansqueue
            self.assertEqual(orleansqueue.__version__, version)
            self.assertTrue(location.startswith(target), location)


if __name__ == "__main__":
    unittest.main()
