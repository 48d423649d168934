"""A small HTTP/1.1 client on asyncio streams (standard library only): JSON calls over a pool of keep-alive
connections, and server-sent-event streams on connections of their own."""
from __future__ import annotations

import asyncio
import codecs
import json
import ssl
from typing import Any, AsyncIterator, Dict, List, Optional, Tuple
from urllib.parse import urlsplit


class Http:
    """``https://`` base URLs are reached over TLS with the certificate checked against the system's trusted CAs (or the
    given ``ssl_context``: ``ssl.create_default_context(cafile=...)`` for a private CA)."""

    def __init__(self, base_url: str, api_key: Optional[str], pool_size: int = 8, ssl_context: Optional[ssl.SSLContext] = None) -> None:
        url = urlsplit(base_url)
        if url.scheme not in ("http", "https"):
            raise ValueError(f"base_url must be an http:// or https:// URL; it is {base_url!r}")
        if ssl_context is not None and url.scheme != "https":
            raise ValueError(f"ssl_context is for an https:// base_url; it is {base_url!r}")
        self.host = url.hostname or "127.0.0.1"
        self.port = url.port or (443 if url.scheme == "https" else 80)
        self.prefix = url.path.rstrip("/")
        self.api_key = api_key
        self._ssl: Optional[ssl.SSLContext] = (ssl_context or ssl.create_default_context()) if url.scheme == "https" else None
        self._idle: List[Tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []
        self._pool_size = pool_size

    async def _connect(self) -> Tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        if self._ssl is None:
            return await asyncio.open_connection(self.host, self.port)
        return await asyncio.open_connection(self.host, self.port, ssl=self._ssl, server_hostname=self.host)

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
            reader, writer = self._idle.pop() if reused else await self._connect()
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
        reader, writer = await self._connect()
        try:
            writer.write(self._head("GET", path, None, "text/event-stream"))
            await writer.drain()
            status, headers = await _read_head(reader)
            if status != 200:
                data = await _read_body(reader, headers)
                yield "problem", {"status": status, **(json.loads(data) if data else {})}
                return
            chunked = headers.get("transfer-encoding", "").lower() == "chunked"
            parser = EventStreamParser()
            async for piece in _stream(reader, chunked):
                for event in parser.feed(piece):
                    yield event.name, json.loads(event.data)
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


class ServerSentEvent:
    """One event of a stream: its name (``message`` unless named), its data (lines joined with ``\\n``), and the last
    event id seen so far in the stream."""

    __slots__ = ("name", "data", "id")

    def __init__(self, name: str, data: str, id: str) -> None:
        self.name, self.data, self.id = name, data, id

    def __repr__(self) -> str:
        return f"ServerSentEvent(name={self.name!r}, data={self.data!r}, id={self.id!r})"


class EventStreamParser:
    """The text/event-stream format as the HTML specification parses it: lines end with CRLF, LF or CR (even split across
    reads); a field's value loses one leading space; ``data`` lines join with newlines; ``event`` names the next event;
    ``id`` (without NUL) sets the last event id; ``retry`` (digits only) sets the reconnection time in ms; comments and
    unknown fields are ignored; an event is dispatched at a blank line when it has data; a UTF-8 BOM at the start is
    dropped."""

    def __init__(self) -> None:
        self._buffer = ""
        self._decoder = codecs.getincrementaldecoder("utf-8")("replace")
        self._started = False
        self._pending_cr = False
        self._name = ""
        self._data: List[str] = []
        self.last_event_id = ""
        self.retry_ms: Optional[int] = None

    def feed(self, chunk: bytes) -> List[ServerSentEvent]:
        text = self._decoder.decode(chunk)
        if not self._started and text:
            self._started = True
            if text.startswith("\ufeff"):
                text = text[1:]
        if self._pending_cr and text.startswith("\n"):
            text = text[1:]  # the LF of a CRLF split across reads
        self._pending_cr = False
        self._buffer += text
        events: List[ServerSentEvent] = []
        while True:
            cut = _line_end(self._buffer)
            if cut is None:
                break
            end, width = cut
            line = self._buffer[:end]
            if self._buffer[end] == "\r" and width == 1 and end + 1 == len(self._buffer):
                self._pending_cr = True  # a CR last in the read: an LF may follow in the next
            self._buffer = self._buffer[end + width:]
            event = self._line(line)
            if event is not None:
                events.append(event)
        return events

    def _line(self, line: str) -> Optional[ServerSentEvent]:
        if line == "":
            if not self._data:
                self._name = ""
                return None
            event = ServerSentEvent(self._name or "message", "\n".join(self._data), self.last_event_id)
            self._name, self._data = "", []
            return event
        if line.startswith(":"):
            return None
        field, colon, value = line.partition(":")
        if colon and value.startswith(" "):
            value = value[1:]
        if field == "event":
            self._name = value
        elif field == "data":
            self._data.append(value)
        elif field == "id":
            if "\0" not in value:
                self.last_event_id = value
        elif field == "retry":
            if value.isdigit():
                self.retry_ms = int(value)
        return None


def _line_end(text: str) -> Optional[Tuple[int, int]]:
    """Where the first line of ``text`` ends and how wide its end is (CRLF 2, LF or CR 1); None without a line end."""
    for i, c in enumerate(text):
        if c == "\n":
            return i, 1
        if c == "\r":
            return (i, 2) if text[i + 1:i + 2] == "\n" else (i, 1)
    return None
