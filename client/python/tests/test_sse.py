"""The server-sent-event parser against the text/event-stream rules of the HTML specification, however the bytes are cut."""
from __future__ import annotations

import unittest
from typing import List, Tuple

from orleansqueue._http import EventStreamParser


def parse(stream: bytes, cut: int) -> Tuple[List[Tuple[str, str, str]], EventStreamParser]:
    parser = EventStreamParser()
    events = []
    for i in range(0, len(stream), cut):
        events += [(e.name, e.data, e.id) for e in parser.feed(stream[i:i + cut])]
    return events, parser


class EventStreamParserTests(unittest.TestCase):
    def check(self, stream: bytes, expected: List[Tuple[str, str, str]]) -> EventStreamParser:
        parser = EventStreamParser()
        for cut in (1, 2, 3, 5, 64, len(stream) or 1):
            events, parser = parse(stream, cut)
            self.assertEqual(expected, events, f"cut every {cut} bytes")
        return parser

    def test_one_leading_space_is_removed_and_no_more(self) -> None:
        self.check(b"data:no space\n\ndata: one\n\ndata:  two\n\n", [("message", "no space", ""), ("message", "one", ""), ("message", " two", "")])

    def test_crlf_cr_and_lf_all_end_lines(self) -> None:
        self.check(b"event: a\r\ndata: 1\r\n\r\nevent: b\rdata: 2\r\revent: c\ndata: 3\n\n",
                   [("a", "1", ""), ("b", "2", ""), ("c", "3", "")])

    def test_data_lines_join_with_newlines(self) -> None:
        self.check(b"data: {\"a\":\ndata: 1}\n\n", [("message", "{\"a\":\n1}", "")])

    def test_id_is_kept_across_events_and_retry_is_read(self) -> None:
        parser = self.check(b"id: 7\ndata: a\n\ndata: b\n\nid\nretry: 2500\ndata: c\n\nretry: soon\n\n",
                            [("message", "a", "7"), ("message", "b", "7"), ("message", "c", "")])
        self.assertEqual(2500, parser.retry_ms)

    def test_comments_unknown_fields_and_events_without_data_are_ignored(self) -> None:
        self.check(b": keep-alive\n\nevent: lonely\n\nfoo: bar\ndata: x\n\n", [("message", "x", "")])

    def test_a_bom_at_the_start_and_an_unfinished_event_at_the_end(self) -> None:
        self.check(b"\xef\xbb\xbfdata: first\n\ndata: never dispatched\n", [("message", "first", "")])

    def test_multibyte_characters_split_across_reads(self) -> None:
        self.check("data: héllo ✓\n\n".encode(), [("message", "héllo ✓", "")])


if __name__ == "__main__":
    unittest.main()
