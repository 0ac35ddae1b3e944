"""Unit tests of host calls (plughost_plugin._host) with a fake Channel: no
gRPC, no peer (their frames' encoding is in test_wire.py). The same calls over a
real Channel, with a raw grpc-js client as the host, are in
test/dynamic/python-server-mode.test.ts, which also runs this file:

    /usr/bin/python3 plugins-dynamic/python/tests/test_host.py
"""

import os
import queue
import sys
import threading
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from plughost_plugin import _host, _wire  # noqa: E402
from plughost_plugin._plugin import Cancelled, Context  # noqa: E402
from plughost_plugin._errors import PluginError  # noqa: E402


class FakeChannel:
    """Collects the frames a HostLine sends, decoded by hand (the plugin's
    decoder ignores host_call and host_cancel: the host never sends them)."""

    def __init__(self):
        self.frames = queue.SimpleQueue()
        self.open = True
        self.line = _host.HostLine(self.send)

    def send(self, frame):
        if self.open:
            self.frames.put(frame)
        return self.open

    def next(self, timeout=5):
        return parse_host_frame(self.frames.get(timeout=timeout))


def parse_host_frame(buf):
    """-> (id, 'host_call', service, payload, timeout_ms) or (id, 'host_cancel', reason)."""
    frame_id = 0
    out = None
    for field, wt, value in _wire._fields(buf):
        if field == 1 and wt == 0:
            frame_id = value
        elif field == 11:
            service, payload, timeout = "", b"", 0
            for f, w, v in _wire._fields(value):
                if f == 1:
                    service = v.decode()
                elif f == 2:
                    payload = bytes(v)
                elif f == 3:
                    timeout = v
            out = ("host_call", service, payload, timeout)
        elif field == 13:
            reason = ""
            for f, w, v in _wire._fields(value):
                if f == 1:
                    reason = v.decode()
            out = ("host_cancel", reason)
    return (frame_id,) + out


def in_thread(fn):
    """Runs fn() on a thread; returns a function that waits for its outcome."""
    box = queue.SimpleQueue()

    def run():
        try:
            box.put(("ok", fn()))
        except BaseException as exc:  # noqa: B902
            box.put(("err", exc))

    threading.Thread(target=run, daemon=True).start()

    def result(timeout=5):
        kind, value = box.get(timeout=timeout)
        if kind == "err":
            raise value
        return value

    return result


class Registry(unittest.TestCase):
    def setUp(self):
        self.registry = _host.HostRegistry()
        self.registry.described(["kv", "", "log", "kv"])
        self.channel = FakeChannel()
        self.registry.attach(self.channel.line)

    def services(self, cancelled=None, route=None):
        return _host.HostServices(self.registry, route or (lambda: self.channel.line), cancelled)

    def assertCode(self, code, fn):
        with self.assertRaises(PluginError) as caught:
            fn()
        self.assertEqual(caught.exception.code, code)
        return caught.exception

    def test_services_are_the_described_names_deduplicated(self):
        self.assertEqual(self.services().services, ["kv", "log"])
        self.services().services.append("mutated")
        self.assertEqual(self.registry.services, ["kv", "log"])

    def test_call_and_answer_ids_from_1(self):
        host = self.services()
        result = in_thread(lambda: host.call("kv", "héllo"))
        self.assertEqual(self.channel.next(), (1, "host_call", "kv", "héllo".encode(), 0))
        self.channel.line.answer(1, b"world", None)
        self.assertEqual(result(), b"world")
        second = in_thread(lambda: host.call("log", b"", timeout_ms=1500.2))
        self.assertEqual(self.channel.next(), (2, "host_call", "log", b"", 1501))
        self.channel.line.answer(2, b"", None)
        self.assertEqual(second(), b"")

    def test_host_errors_keep_their_code_an_empty_code_is_service_failed(self):
        host = self.services()
        result = in_thread(lambda: host.call("kv", b"x"))
        frame_id = self.channel.next()[0]
        self.channel.line.answer(frame_id, b"", ("E_KV", "no such key"))
        err = self.assertCode("E_KV", result)
        self.assertEqual(err.message, "no such key")
        result = in_thread(lambda: host.call("kv", b"x"))
        self.channel.line.answer(self.channel.next()[0], b"", ("", ""))
        self.assertCode("PLUGHOST_HOST_SERVICE_FAILED", result)

    def test_unknown_service_and_too_large_send_nothing(self):
        host = self.services()
        err = self.assertCode("PLUGHOST_HOST_SERVICE_NOT_FOUND", lambda: host.call("nope", b"x"))
        self.assertIn("'kv', 'log'", err.message)
        self.registry.max_message_bytes = 1024
        limit = 1024 - 256 - len("kv")
        self.assertCode("PLUGHOST_MESSAGE_TOO_LARGE", lambda: host.call("kv", b"x" * (limit + 1)))
        self.assertTrue(self.channel.frames.empty())
        # At the limit it goes.
        result = in_thread(lambda: host.call("kv", b"x" * limit))
        self.channel.line.answer(self.channel.next()[0], b"ok", None)
        self.assertEqual(result(), b"ok")

    def test_timeout_sends_host_cancel(self):
        host = self.services()
        self.assertCode("PLUGHOST_DEADLINE_EXCEEDED", lambda: host.call("kv", b"x", timeout_ms=30))
        call = self.channel.next()
        self.assertEqual(call[1:], ("host_call", "kv", b"x", 30))
        self.assertEqual(self.channel.next(), (call[0], "host_cancel", "PLUGHOST_DEADLINE_EXCEEDED"))
        # A late answer for it is ignored.
        self.channel.line.answer(call[0], b"late", None)

    def test_method_cancellation_sends_host_cancel(self):
        cancelled = Cancelled()
        host = self.services(cancelled)
        result = in_thread(lambda: host.call("kv", b"x"))
        frame_id = self.channel.next()[0]
        cancelled.set()
        self.assertCode("PLUGHOST_CANCELLED", result)
        self.assertEqual(self.channel.next(), (frame_id, "host_cancel", "PLUGHOST_CANCELLED"))
        # Already cancelled: refused before anything is sent.
        self.assertCode("PLUGHOST_CANCELLED", lambda: host.call("kv", b"y"))
        self.assertTrue(self.channel.frames.empty())

    def test_channel_end_fails_open_and_later_calls(self):
        host = self.services()
        result = in_thread(lambda: host.call("kv", b"x"))
        self.channel.next()
        self.channel.open = False
        self.channel.line.close("the Channel has ended")
        err = self.assertCode("PLUGHOST_HOST_CALLS_UNAVAILABLE", result)
        self.assertIn("the Channel has ended", err.message)
        self.assertCode("PLUGHOST_HOST_CALLS_UNAVAILABLE", lambda: host.call("kv", b"x"))

    def test_no_channel(self):
        ctx = Context("viaUnary")
        ctx.host  # noqa: B018 - made on first use
        err = self.assertCode("PLUGHOST_HOST_CALLS_UNAVAILABLE", lambda: ctx.host.call("kv", b"x"))
        self.assertIn("unary RPC", err.message)
        # Plugin-wide: the newest Channel still open, or none.
        plugin_wide = self.registry.plugin
        newer = FakeChannel()
        self.registry.attach(newer.line)
        result = in_thread(lambda: plugin_wide.call("kv", b"x"))
        newer.line.answer(newer.next()[0], b"via newer", None)
        self.assertEqual(result(), b"via newer")
        newer.line.close("gone")
        result = in_thread(lambda: plugin_wide.call("kv", b"x"))
        self.channel.line.answer(self.channel.next()[0], b"via older", None)
        self.assertEqual(result(), b"via older")
        self.registry.detach(self.channel.line)
        self.registry.detach(newer.line)
        self.assertCode("PLUGHOST_HOST_CALLS_UNAVAILABLE", lambda: plugin_wide.call("kv", b"x"))

    def test_bad_arguments(self):
        host = self.services()
        bad = [("", b"x"), (None, b"x"), ("kv", 5), ("kv", b"x", 0), ("kv", b"x", -1), ("kv", b"x", True), ("kv", b"x", "10")]
        for args in bad:
            with self.subTest(args=args), self.assertRaises(TypeError):
                host.call(*args)

    def test_ids_wrap_and_skip_open_ones(self):
        line = self.channel.line
        line._next_id = 2**32 - 1
        host = self.services()
        first = in_thread(lambda: host.call("kv", b"a"))
        self.assertEqual(self.channel.next()[0], 2**32 - 1)
        line._next_id = 2**32 - 1  # as if it had come round again: the id is still open
        second = in_thread(lambda: host.call("kv", b"b"))
        self.assertEqual(self.channel.next()[0], 1)  # skipped the open one, and 0
        line.answer(2**32 - 1, b"A", None)
        line.answer(1, b"B", None)
        self.assertEqual((first(), second()), (b"A", b"B"))


class CancelledEvent(unittest.TestCase):
    def test_hooks_run_once_when_set_and_at_once_when_already_set(self):
        event = Cancelled()
        seen = []
        remove = event.on_set(lambda: seen.append("a"))
        event.on_set(lambda: seen.append("b"))
        remove()
        event.set()
        event.set()
        self.assertEqual(seen, ["b"])
        event.on_set(lambda: seen.append("late"))
        self.assertEqual(seen, ["b", "late"])
        self.assertTrue(event.wait(0))


if __name__ == "__main__":
    result = unittest.main(exit=False, verbosity=0).result
    if result.wasSuccessful():
        print("OK")
    sys.exit(0 if result.wasSuccessful() else 1)
