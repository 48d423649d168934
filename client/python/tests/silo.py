"""A real silo process for the tests: the built OrleansQueue.Silo.dll on a free loopback port, with the in-memory
store (or SQLite in a folder, for a silo that is killed and started again), stopped by its own process id."""
from __future__ import annotations

import atexit
import json
import os
import socket
import ssl
import subprocess
import time
import urllib.request
from typing import Any, Optional, Tuple

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
DLL = os.path.join(ROOT, "silo", "OrleansQueue.Silo", "bin", "Debug", "net10.0", "OrleansQueue.Silo.dll")


class Silo:
    def __init__(self, data_dir: Optional[str] = None, certificate: Optional[Tuple[str, str]] = None) -> None:
        """``certificate`` (a PEM certificate and key) serves https instead of http."""
        if not os.path.exists(DLL):
            subprocess.run(["dotnet", "build", os.path.join(ROOT, "silo", "OrleansQueue.Silo"), "-v", "q"], check=True)
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.certificate = certificate
        self.url = f"{'https' if certificate else 'http'}://127.0.0.1:{self.port}"
        self._probe = ssl._create_unverified_context() if certificate else None  # only to see it listen: the tests check
        self.data_dir = data_dir
        self.process: Optional[subprocess.Popen] = None
        self.start()

    def start(self) -> None:
        """Starts the silo on its port (again, after :meth:`kill`: the SQLite store has what was committed)."""
        store = (["--Silo:Store:Provider", "sqlite", "--Silo:Store:Path", os.path.join(self.data_dir, "silo.db")]
                 if self.data_dir else ["--Silo:Store:Provider", "memory"])
        tls = (["--Kestrel:Certificates:Default:Path", self.certificate[0], "--Kestrel:Certificates:Default:KeyPath", self.certificate[1]]
               if self.certificate else [])
        self.process = subprocess.Popen(
            ["dotnet", DLL, "--urls", self.url, *store, *tls, "--Silo:Clustering:SiloPort", "0"],
            cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(self.url + "/healthz", timeout=2, context=self._probe).read()
                return
            except OSError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError("the silo did not start")
                time.sleep(0.1)  # a process starting to listen: there is no event to wait on

    def kill(self) -> None:
        """SIGKILL: nothing runs on the way out, as in a crash."""
        self.stop()

    def http(self, method: str, path: str, body: Optional[Any] = None) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.url + path, data=data, method=method,
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=10, context=self._probe) as response:
            text = response.read()
            return json.loads(text) if text and response.headers.get_content_type().endswith("json") else text.decode()

    def create(self, name: str, **policy: Any) -> None:
        self.http("PUT", f"/v1/resources/{name}", policy)

    def stats(self, name: str) -> Any:
        return self.http("GET", f"/v1/resources/{name}/stats")

    def status_calls(self, name: str) -> int:
        return int(self.metric("orleansqueue_status_requests_total", name))

    def metric(self, metric: str, resource: str) -> float:
        """The sum of a metric's series for a resource in /metrics (0 when there is none), whatever other labels they carry."""
        total = 0.0
        for line in self.http("GET", "/metrics").splitlines():
            if line.startswith(metric + "{") and f'resource="{resource}"' in line.split("}")[0]:
                total += float(line.rsplit(" ", 1)[1])
        return total

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=30)


_shared: Optional[Silo] = None


def shared() -> Silo:
    """The one silo of a test run, started on first use and stopped (by its pid) when the run's process exits."""
    global _shared
    if _shared is None:
        _shared = Silo()
        atexit.register(_shared.stop)
    return _shared
