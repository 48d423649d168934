"""The SDK against a silo serving https, with a certificate made for the test by a CA of its own (openssl)."""
from __future__ import annotations

import os
import shutil
import ssl
import subprocess
import tempfile
import unittest

import orleansqueue.aio as oq

from .silo import Silo

_silo: Silo
_folder: str


def _make_certificates(folder: str) -> None:
    def run(*args: str) -> None:
        subprocess.run(["openssl", *args], cwd=folder, check=True, capture_output=True)
    run("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "1", "-subj", "/CN=test CA",
        "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign", "-keyout", "ca.key", "-out", "ca.pem")
    with open(os.path.join(folder, "silo.ext"), "w") as ext:
        ext.write("subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n")
    run("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-subj", "/CN=localhost", "-keyout", "silo.key", "-out", "silo.csr")
    run("x509", "-req", "-in", "silo.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial", "-days", "1", "-extfile", "silo.ext", "-out", "silo.pem")


def setUpModule() -> None:
    global _silo, _folder
    if shutil.which("openssl") is None:
        raise unittest.SkipTest("openssl is not installed (Debian: apt-get install openssl): the test makes its certificates with it")
    _folder = tempfile.mkdtemp(prefix="oq-https-")
    _make_certificates(_folder)
    _silo = Silo(certificate=(os.path.join(_folder, "silo.pem"), os.path.join(_folder, "silo.key")))


def tearDownModule() -> None:
    _silo.stop()
    shutil.rmtree(_folder, ignore_errors=True)


class HttpsTests(unittest.IsolatedAsyncioTestCase):
    async def test_a_lease_over_https_with_the_silos_ca_trusted(self) -> None:
        _silo.create("https-res", maxConcurrent=1)
        self.assertTrue(_silo.url.startswith("https://"))
        async with oq.Client(_silo.url, ssl_context=ssl.create_default_context(cafile=os.path.join(_folder, "ca.pem"))) as client:
            async with await client.acquire("https-res") as lease:
                self.assertEqual(1, lease.fencing_token)
                self.assertEqual(1, _silo.stats("https-res")["leases"])
        self.assertEqual(0, _silo.stats("https-res")["leases"])

    async def test_a_certificate_the_client_does_not_trust_is_refused(self) -> None:
        _silo.create("https-untrusted", maxConcurrent=1)
        async with oq.Client(_silo.url) as client:  # the system's CAs alone: the test CA is not among them
            with self.assertRaises(ssl.SSLCertVerificationError):
                await client.acquire("https-untrusted")

    def test_only_http_and_https_urls_are_taken(self) -> None:
        with self.assertRaisesRegex(ValueError, "base_url must be an http:// or https:// URL"):
            oq.Client("ftp://127.0.0.1:1")
        with self.assertRaisesRegex(ValueError, "ssl_context is for an https:// base_url"):
            oq.Client("http://127.0.0.1:1", ssl_context=ssl.create_default_context())


if __name__ == "__main__":
    unittest.main()
