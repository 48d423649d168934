"""A small HTTP/1.1 client on asyncio streams (standard library only): JSON calls over a pool of keep-alive
connections, and server-sent-event streams on connections of their own."""
from __future__ import annotations

import asyncio
import json
from typing import Any, AsyncIterator, Dict, List, Optional, Tuple
from urllib.parse import urlsplit


class Http:
    def __init__(self, base_url: str, api_key: Optional[str], pool_size: int = 8) -> None:
        url = urlsplit(base_url)
        if url.scheme != "http":
            raise ValueError(f"base_url must be an http:// URL; it is {base_url!r}")
        self.host = url.hostname or "127.0.0.1"
        self.port = url.port or 80
        self.prefix = url.path.rstrip("/")
        self.api_key = api_key
        self._idle: List[Tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []
        self._pool_size = pool_size

    def _head(self, method: str, path: str, length: Optional[int], accept: str) -> bytes:
        lines = [f"{method} {self.prefix}{path} HTTP/1.1", f"Host: {self.host}:{self.port}", f"Accept: {accept}"]
        if self.api_key:
            lines.append(f"X-Api-Key: {self.api_key}")
        if length is not None:
            lines += ["Content-Type: application/json", f"Content-Length: {length}"]
        return ("\r\n".join(lines) + "\r\n\r\n").encode("ascii")

    async def request(self, method: str, path: str, body: Optional[Dict[str, Any]] = None) -> Tuple[int, Any]:
        """Sends one call; returns the status and the parsed JSON body (None when empty). A pooled connection the
        server closed meanwhile is retried once on a fresh one (nothing was sent on it)."""
        payload = json.dumps(body).encode() if body is not None else (b"" if method in ("POST", "PUT") else None)
        for attempt in range(2):
            reused = bool(self._idle)
            reader, writer = self._idle.pop() if reused else await asyncio.open_connection(self.host, self.port)
            try:
                writer.write(self._head(method, path, len(payload) if payload is not None else None, "application/json"))
                if payload:
                    writer.write(payload)
                await writer.drain()
                status, headers = await _read_head(reader)
            except (ConnectionError, asyncio.IncompleteReadError):
                await _close(writer)
                if reused and attempt == 0:
                    continue
                raise
            except BaseException:
                await _close(writer)  # cancelled mid-call: the connection is in an unknown state
                raise
            data = await _read_body(reader, headers)
            if headers.get("connection", "").lower() == "close" or len(self._idle) >= self._pool_size:
                await _close(writer)
            else:
                self._idle.append((reader, writer))
            return status, (json.loads(data) if data else None)
        raise ConnectionError("unreachable")

    async def events(self, path: str) -> AsyncIterator[Tuple[str, Any]]:
        """Follows a server-sent-event stream: yields (event name, parsed data) until the server ends it."""
        reader, writer = await asyncio.open_connection(self.host, self.port)
        try:
            writer.write(self._head("GET", path, None, "text/event-stream"))
            await writer.drain()
            status, headers = await _read_head(reader)
            if status != 200:
                data = await _read_body(reader, headers)
                yield "problem", {"status": status, **(json.loads(data) if data else {})}
                return
            chunked = headers.get("transfer-encoding", "").lower() == "chunked"
            buffer = b""
            async for piece in _stream(reader, chunked):
                buffer += piece
                while b"\n\n" in buffer:
                    frame, buffer = buffer.split(b"\n\n", 1)
                    name, data = "message", []
                    for line in frame.decode().split("\n"):
                        if line.startswith("event:"):
                            name = line[6:].strip()
                        elif line.startswith("data:"):
                            data.append(line[5:].strip())
                    if data:
                        yield name, json.loads("\n".join(data))
        finally:
            await _close(writer)

    async def close(self) -> None:
        idle, self._idle = self._idle, []
        for _, writer in idle:
            await _close(writer)


async def _close(writer: asyncio.StreamWriter) -> None:
    writer.close()
    try:
        await writer.wait_closed()
    except OSError:
        pass


async def _read_head(reader: asyncio.StreamReader) -> Tuple[int, Dict[str, str]]:
    raw = await reader.readuntil(b"\r\n\r\n")
    lines = raw.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ")[1])
    headers = {}
    for line in lines[1:]:
        if ":" in line:
            key, value = line.split(":", 1)
            headers[key.strip().lower()] = value.strip()
    return status, headers


async def _read_body(reader: asyncio.StreamReader, headers: Dict[str, str]) -> bytes:
    if headers.get("transfer-encoding", "").lower() == "chunked":
        return b"".join([piece async for piece in _stream(reader, True)])
    return await reader.readexactly(int(headers.get("content-length", "0")))


async def _stream(reader: asyncio.StreamReader, chunked: bool) -> AsyncIterator[bytes]:
    while True:
        if not chunked:
            piece = await reader.read(65536)
            if not piece:
                return
            yield piece
            continue
        size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
        if size == 0:
            await reader.readuntil(b"\r\n")
            return
        piece = await reader.readexactly(size + 2)
        yield piece[:-2]
