"""Unit tests of plughost_plugin._wire that need no peer: varint edges,
unknown fields, malformed input. (Agreement with protobufjs, the host's
codec, is checked by test/dynamic/python-sdk.test.ts via wire_cases.py.)

    /usr/bin/python3 plugins-dynamic/python/tests/test_wire.py
"""

import os
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from plughost_plugin import _wire  # noqa: E402
from plughost_plugin._wire import DecodeError  # noqa: E402


def key(field, wire_type):
    return _wire._varint(field << 3 | wire_type)


def ld(field, payload):
    return key(field, 2) + _wire._varint(len(payload)) + payload


class Varints(unittest.TestCase):
    def test_round_trip(self):
        for n in [0, 1, 127, 128, 255, 300, 16383, 16384, 2**31 - 1, 2**32 - 1, 2**32, 2**63, 2**64 - 1]:
            enc = _wire._varint(n)
            self.assertEqual(_wire._read_varint(enc, 0, len(enc)), (n, len(enc)))

    def test_known_encodings(self):
        self.assertEqual(_wire._varint(300), b"\xac\x02")
        self.assertEqual(_wire._varint(2**32 - 1), b"\xff\xff\xff\xff\x0f")

    def test_truncated_and_overlong(self):
        with self.assertRaises(DecodeError):
            _wire._read_varint(b"\x80", 0, 1)
        with self.assertRaises(DecodeError):
            _wire._read_varint(b"\xff" * 11, 0, 11)

    def test_uint32_id_truncates_like_protobuf(self):
        # A uint32 field holding a wider varint keeps the low 32 bits.
        frame = key(1, 0) + _wire._varint(2**32 + 5) + ld(7, b"")
        self.assertEqual(_wire.decode_frame(frame)[:2], (5, _wire.FRAME_DATA))


class Decoding(unittest.TestCase):
    def test_unknown_fields_of_every_wire_type_are_skipped(self):
        extra = (
            key(15, 0) + b"\x96\x01"
            + key(16, 1) + b"\x00" * 8
            + key(17, 2) + b"\x03abc"
            + key(18, 5) + b"\x00" * 4
        )
        call = ld(1, b"echo") + extra + ld(2, b"payload")
        frame = key(1, 0) + b"\x07" + extra + ld(2, call) + extra
        self.assertEqual(_wire.decode_frame(frame), (7, _wire.FRAME_CALL, "echo", b"payload"))

    def test_last_oneof_member_and_last_scalar_win(self):
        frame = key(1, 0) + b"\x01" + ld(7, b"first") + key(1, 0) + b"\x02" + ld(9, b"")
        self.assertEqual(_wire.decode_frame(frame), (2, _wire.FRAME_CANCEL, None, None))

    def test_frame_kinds(self):
        self.assertEqual(_wire.decode_frame(b""), (0, 0, None, None))
        self.assertEqual(_wire.decode_frame(ld(7, b"")), (0, _wire.FRAME_DATA, b"", None))
        self.assertEqual(_wire.decode_frame(ld(6, ld(1, b"upper"))), (0, _wire.FRAME_OPEN, "upper", None))
        self.assertEqual(_wire.decode_frame(ld(8, b"")), (0, _wire.FRAME_END, None, None))
        batch = ld(1, b"m") + ld(2, b"a") + ld(2, b"") + ld(2, b"c")
        self.assertEqual(_wire.decode_frame(ld(4, batch)), (0, _wire.FRAME_BATCH, "m", [b"a", b"", b"c"]))
        # Members the plugin never receives decode as no kind.
        self.assertEqual(_wire.decode_frame(ld(3, b"")), (0, 0, None, None))

    def test_flow_control_fields(self):
        # StreamOpen.window (field 2) and Frame.credit (field 10, Credit.bytes = field 1).
        opened = ld(1, b"echo") + key(2, 0) + _wire._varint(4 << 20)
        self.assertEqual(_wire.decode_frame(key(1, 0) + b"\x03" + ld(6, opened)), (3, _wire.FRAME_OPEN, "echo", 4 << 20))
        credit = key(1, 0) + _wire._varint(65600)
        self.assertEqual(_wire.decode_frame(key(1, 0) + b"\x03" + ld(10, credit)), (3, _wire.FRAME_CREDIT, 65600, None))
        self.assertEqual(_wire.decode_frame(ld(10, b"")), (0, _wire.FRAME_CREDIT, 0, None))
        self.assertEqual(_wire.encode_frame_credit(3, 65600), key(1, 0) + b"\x03" + ld(10, credit))
        # The hello: id 0 (left out), the window.
        self.assertEqual(_wire.encode_frame_credit(0, 4 << 20), ld(10, key(1, 0) + _wire._varint(4 << 20)))

    def test_malformed(self):
        bad = [
            b"\x0a",  # key, no length
            b"\x0a\x05ab",  # length past the end
            b"\x00\x00",  # field number 0
            b"\x0b",  # start group
            b"\x0f",  # wire type 7
            b"\x09\x00",  # truncated fixed64
            b"\x0d\x00",  # truncated fixed32
            ld(2, ld(1, b"\xff")),  # method name not UTF-8
        ]
        for buf in bad:
            with self.subTest(buf=buf), self.assertRaises(DecodeError):
                _wire.decode_frame(buf)

    def test_other_requests(self):
        self.assertEqual(_wire.decode_describe_request(key(1, 0) + b"\x01"), 1)
        self.assertEqual(_wire.decode_describe_request(b""), 0)
        self.assertEqual(_wire.decode_configure_request(ld(1, b"{}")), b"{}")
        self.assertEqual(_wire.decode_health_check_request(ld(1, b"plugin")), "plugin")
        self.assertEqual(_wire.decode_call_request(b""), ("", b""))


class Encoding(unittest.TestCase):
    def test_set_oneof_members_are_written_even_when_empty(self):
        self.assertEqual(_wire.encode_frame_data(0, b""), b"\x3a\x00")
        self.assertEqual(_wire.encode_frame_result(0, b""), b"\x1a\x00")
        self.assertEqual(_wire.encode_frame_end(3), b"\x08\x03\x42\x00")
        self.assertEqual(_wire.encode_frame_batch_result(1, []), b"\x08\x01\x2a\x00")

    def test_result_payload_and_error(self):
        self.assertEqual(_wire.encode_frame_result(1, b"hi"), b"\x08\x01\x1a\x04\x0a\x02hi")
        self.assertEqual(_wire.encode_result(error=("E", "m")), b"\x12\x06\x0a\x01E\x12\x01m")
        big = b"x" * 200
        self.assertEqual(
            _wire.decode_frame(_wire.encode_frame_data(2**32 - 1, big)), (2**32 - 1, _wire.FRAME_DATA, big, None)
        )


class HostCallFrames(unittest.TestCase):
    """Frames 11-13 (host_call, host_result, host_cancel), DescribeRequest.host_services
    and MethodInfo.idempotent."""

    def test_host_result(self):
        result = ld(1, b"answer")
        self.assertEqual(
            _wire.decode_frame(key(1, 0) + b"\x05" + ld(12, result)), (5, _wire.FRAME_HOST_RESULT, b"answer", None)
        )
        error = ld(2, ld(1, b"E_X") + ld(2, "nö".encode()))
        self.assertEqual(_wire.decode_frame(ld(12, error)), (0, _wire.FRAME_HOST_RESULT, b"", ("E_X", "nö")))
        # An error that is set but empty is still an error.
        self.assertEqual(_wire.decode_frame(ld(12, ld(2, b""))), (0, _wire.FRAME_HOST_RESULT, b"", ("", "")))
        self.assertEqual(_wire.decode_frame(ld(12, b"")), (0, _wire.FRAME_HOST_RESULT, b"", None))

    def test_members_only_the_plugin_sends_are_no_kind_and_the_last_member_wins(self):
        self.assertEqual(_wire.decode_frame(ld(11, ld(1, b"kv"))), (0, 0, None, None))
        self.assertEqual(_wire.decode_frame(ld(13, b"")), (0, 0, None, None))
        # A host_result then a later cancel: the cancel wins; and the other way round.
        self.assertEqual(_wire.decode_frame(ld(12, b"") + ld(9, b"")), (0, _wire.FRAME_CANCEL, None, None))
        self.assertEqual(_wire.decode_frame(ld(9, b"") + ld(12, b"")), (0, _wire.FRAME_HOST_RESULT, b"", None))
        self.assertEqual(_wire.decode_frame(ld(2, ld(1, b"m")) + ld(13, b"")), (0, 0, None, None))

    def test_host_call_and_cancel_encoding(self):
        self.assertEqual(
            _wire.encode_frame_host_call(3, "kv", b"hi", 500),
            key(1, 0) + b"\x03" + ld(11, ld(1, b"kv") + ld(2, b"hi") + key(3, 0) + _wire._varint(500)),
        )
        # Defaults left out, the member itself always written.
        self.assertEqual(_wire.encode_frame_host_call(0, "", b"", 0), ld(11, b""))
        big = bytes(range(256)) * 600
        self.assertEqual(
            _wire.encode_frame_host_call(2**32 - 1, "s", big, 0),
            key(1, 0) + _wire._varint(2**32 - 1) + ld(11, ld(1, b"s") + ld(2, big)),
        )
        cancel = ld(13, ld(1, b"PLUGHOST_CANCELLED"))
        self.assertEqual(_wire.encode_frame_host_cancel(7, "PLUGHOST_CANCELLED"), key(1, 0) + b"\x07" + cancel)
        self.assertEqual(_wire.encode_frame_host_cancel(7), key(1, 0) + b"\x07" + ld(13, b""))

    def test_describe(self):
        request = key(1, 0) + b"\x01" + ld(2, b"kv") + ld(2, "lög".encode())
        self.assertEqual(_wire.decode_describe_request(request), 1)
        self.assertEqual(_wire.decode_host_services(request), ["kv", "lög"])
        self.assertEqual(_wire.decode_host_services(b""), [])
        response = _wire.encode_describe_response("p", "", [("a", 0, True), ("b", 1, False), ("c", 0)], [], 0)
        methods = [ld(1, b"a") + key(3, 0) + b"\x01", ld(1, b"b") + key(2, 0) + b"\x01", ld(1, b"c")]
        self.assertEqual(response, ld(1, b"p") + b"".join(ld(3, m) for m in methods))


if __name__ == "__main__":
    result = unittest.main(exit=False, verbosity=0).result
    if result.wasSuccessful():
        print("OK")
    sys.exit(0 if result.wasSuccessful() else 1)
