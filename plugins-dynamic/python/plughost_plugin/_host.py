"""Host calls (docs/protocol.md, "Host calls"): the plugin calls a service of
the host over a Channel stream the host opened.

    HostLine      the host calls of one Channel: their ids, and the threads
                  waiting for their answers.
    HostRegistry  what the host offers (its last Describe), the checks made
                  before anything is sent, and which Channels are open (for
                  calls made outside a method).
    HostServices  what plugin code sees: ctx.host, and plughost_plugin.host.

Methods run on threads, so a host call blocks its thread until the first of:
the host's host_result, the call's own timer, the method's cancellation, or
the end of the Channel. The Channel's reader thread never waits on a host
call, so a method waiting for the host never stops the host's answer (or
other calls) from being read.
"""

import math
import threading

from . import _wire
from ._errors import (
    CANCELLED,
    DEADLINE_EXCEEDED,
    HOST_CALLS_UNAVAILABLE,
    HOST_SERVICE_FAILED,
    HOST_SERVICE_NOT_FOUND,
    MESSAGE_TOO_LARGE,
    PluginError,
)

# The same numbers as src/protocol/limits.ts.
DEFAULT_TIMEOUT_MS = 30000
FRAME_OVERHEAD = 256
DEFAULT_MAX_MESSAGE_BYTES = 16 * 1024 * 1024
# Ids and timeout_ms are uint32 on the wire.
_MAX_UINT32 = 0xFFFFFFFF

# How a host call ended, other than with the host's answer.
_TIMED_OUT = ("timeout",)
_CANCELLED = ("cancelled",)


class _Pending:
    """One host call waiting for its outcome, which whoever removes it from
    the line's table sets (so exactly one outcome wins a race)."""

    __slots__ = ("done", "outcome")

    def __init__(self):
        self.done = threading.Event()
        self.outcome = None


class HostLine:
    """The host calls of one Channel. Its ids are the plugin's own: from 1
    up, wrapping at 2**32, skipping 0 and ids still open on this Channel."""

    def __init__(self, send):
        # send(frame) -> False once the Channel is over (the frame is dropped).
        self._send = send
        self._lock = threading.Lock()
        self._open = {}
        self._next_id = 1
        self.closed = False

    def call(self, service, payload, wire_timeout_ms, wait_seconds, cancelled):
        """Sends host_call and blocks for its outcome: the answer's payload,
        or a PluginError. `cancelled` (the method's ctx.cancelled, or None)
        gives the call up when it is set. The caller has checked the rest."""
        pending = _Pending()
        with self._lock:
            if self.closed:
                raise PluginError(
                    HOST_CALLS_UNAVAILABLE, "host call to %r cannot be made: its Channel has ended" % service
                )
            frame_id = self._allocate()
            self._open[frame_id] = pending
        # Registered before sending: a cancel that comes first still ends the wait.
        unhook = None
        if cancelled is not None:
            unhook = cancelled.on_set(lambda: self._settle(frame_id, pending, _CANCELLED))
        try:
            if not self._send(_wire.encode_frame_host_call(frame_id, service, payload, wire_timeout_ms)):
                self._settle(frame_id, pending, ("closed", "its Channel has ended"))
            if not pending.done.wait(wait_seconds):
                self._settle(frame_id, pending, _TIMED_OUT)
        finally:
            if unhook is not None:
                unhook()
        outcome = pending.outcome
        if outcome[0] == "ok":
            return outcome[1]
        if outcome[0] == "error":
            code, message = outcome[1], outcome[2]
            raise PluginError(code or HOST_SERVICE_FAILED, message)
        if outcome is _TIMED_OUT:
            # The host stops the service's work too (it aborts its signal).
            self._send(_wire.encode_frame_host_cancel(frame_id, DEADLINE_EXCEEDED))
            raise PluginError(
                DEADLINE_EXCEEDED, "host call to %r got no answer within %s ms" % (service, _ms_text(wait_seconds))
            )
        if outcome is _CANCELLED:
            self._send(_wire.encode_frame_host_cancel(frame_id, CANCELLED))
            raise PluginError(CANCELLED, "host call to %r was cancelled: its method was cancelled" % service)
        raise PluginError(HOST_CALLS_UNAVAILABLE, "host call to %r lost its Channel: %s" % (service, outcome[1]))

    def answer(self, frame_id, payload, error):
        """A host_result frame; an id with no open host call is ignored."""
        pending = self._open.get(frame_id)
        if pending is not None:
            self._settle(frame_id, pending, ("ok", payload) if error is None else ("error",) + tuple(error))

    def close(self, why):
        """The Channel ended: every host call still open on it fails."""
        with self._lock:
            self.closed = True
            waiting = list(self._open.values())
            self._open.clear()
            for pending in waiting:
                pending.outcome = ("closed", why)
                pending.done.set()

    def _settle(self, frame_id, pending, outcome):
        with self._lock:
            if self._open.get(frame_id) is not pending:
                return False  # someone else settled it first
            del self._open[frame_id]
            pending.outcome = outcome
            pending.done.set()
            return True

    def _allocate(self):
        # Called with the lock held. Ends: far fewer calls are open than ids exist.
        while True:
            frame_id = self._next_id
            self._next_id = 1 if frame_id == _MAX_UINT32 else frame_id + 1
            if frame_id not in self._open:
                return frame_id


def _ms_text(seconds):
    ms = seconds * 1000
    return "%d" % ms if ms == int(ms) else "%g" % ms


def _payload_bytes(payload):
    if type(payload) is bytes:
        return payload
    if isinstance(payload, str):
        return payload.encode("utf-8")
    if isinstance(payload, (bytes, bytearray, memoryview)):
        return bytes(payload)
    raise TypeError("host.call(): payload must be bytes or str, got %s" % type(payload).__name__)


def _timeouts(timeout_ms):
    """(what goes on the wire, seconds to wait here). None: the host's default
    (0 on the wire), and the same 30 s here."""
    if timeout_ms is None:
        return 0, DEFAULT_TIMEOUT_MS / 1000
    if isinstance(timeout_ms, bool) or not isinstance(timeout_ms, (int, float)) or not timeout_ms > 0:
        raise TypeError("host.call(): timeout_ms must be a positive number, got %r" % (timeout_ms,))
    if timeout_ms == math.inf or timeout_ms > _MAX_UINT32:
        timeout_ms = _MAX_UINT32
    return min(math.ceil(timeout_ms), _MAX_UINT32), timeout_ms / 1000


class HostRegistry:
    """The host services of this plugin process (one serve() per process)."""

    def __init__(self):
        self.max_message_bytes = DEFAULT_MAX_MESSAGE_BYTES
        self._lock = threading.Lock()
        self._services = ()
        # Server mode: many hosts describe it, so the last one's list says
        # nothing of another's; each host answers for its own services.
        self.shared = False
        # Channels in the order they opened: a call from outside a method uses the newest.
        self._lines = []
        self.plugin = HostServices(self, self._newest, None)

    def described(self, services):
        """DescribeRequest.host_services: what the host offers from now on. In
        server mode several hosts may describe; the last one's list is kept."""
        seen = []
        for name in services:
            if name and name not in seen:
                seen.append(name)
        self._services = tuple(seen)

    @property
    def services(self):
        return list(self._services)

    def attach(self, line):
        with self._lock:
            self._lines.append(line)

    def detach(self, line):
        with self._lock:
            if line in self._lines:
                self._lines.remove(line)

    def _newest(self):
        with self._lock:
            for line in reversed(self._lines):
                if not line.closed:
                    return line
        return "no host has a Channel open to this plugin"

    def call(self, route, cancelled, service, payload, timeout_ms):
        """Checks a host call (in the TypeScript SDK's order) and makes it.
        route() is the HostLine to use, or a str saying why there is none."""
        if not isinstance(service, str) or not service:
            raise TypeError("host.call(): service must be a non-empty str")
        payload = _payload_bytes(payload)
        wire_timeout, wait_seconds = _timeouts(timeout_ms)
        if cancelled is not None and cancelled.is_set():
            raise PluginError(
                CANCELLED, "host call to %r was cancelled before it started: its method was cancelled" % service
            )
        line = route()
        if isinstance(line, str) or line.closed:
            why = line if isinstance(line, str) else "its Channel has ended"
            raise PluginError(HOST_CALLS_UNAVAILABLE, "host call to %r cannot be made: %s" % (service, why))
        offered = self._services
        if not self.shared and service not in offered:
            listed = ", ".join(repr(s) for s in offered) if offered else "none"
            raise PluginError(
                HOST_SERVICE_NOT_FOUND, "no host service %r for this plugin (the host offers %s)" % (service, listed)
            )
        # The host's own rule for what fits in a frame (as for calls): nothing is sent past it.
        limit = self.max_message_bytes - FRAME_OVERHEAD - len(service.encode("utf-8"))
        if len(payload) > limit:
            raise PluginError(
                MESSAGE_TOO_LARGE,
                "host call to %r: payload is %d bytes, over the %d-byte limit (max message %d bytes)"
                % (service, len(payload), max(0, limit), self.max_message_bytes),
            )
        return line.call(service, payload, wire_timeout, wait_seconds, cancelled)


class HostServices:
    """The host's services, as plugin code calls them.

    services: the names the host listed in its last Describe (a new list;
              empty before one, or when the host offers none).
    call(service, payload, timeout_ms=None) -> bytes: calls host service
              `service` with `payload` (bytes, or str sent as UTF-8) and
              blocks until its answer. timeout_ms: how long to wait (default
              30000; also sent to the host). Raises PluginError with .code:
                PLUGHOST_HOST_SERVICE_NOT_FOUND  not in `services` (nothing sent)
                PLUGHOST_HOST_CALLS_UNAVAILABLE  no Channel carries the call
                                                 (a unary Call RPC), or it ended
                PLUGHOST_MESSAGE_TOO_LARGE       payload over the limit (nothing sent)
                PLUGHOST_DEADLINE_EXCEEDED       no answer in time (the host is told)
                PLUGHOST_CANCELLED               the calling method was cancelled
                                                 (the host is told)
                otherwise the host's code, e.g. PLUGHOST_HOST_SERVICE_FAILED
              or TypeError for a bad argument.
    """

    __slots__ = ("_registry", "_route", "_cancelled")

    def __init__(self, registry, route, cancelled):
        self._registry = registry
        self._route = route
        self._cancelled = cancelled

    @property
    def services(self):
        return self._registry.services

    def call(self, service, payload=b"", timeout_ms=None):
        return self._registry.call(self._route, self._cancelled, service, payload, timeout_ms)

    def __repr__(self):
        return "HostServices(services=%r)" % (self.services,)


# One serve() per process, so one registry: plughost_plugin.host is its
# plugin-wide HostServices (for calls made outside a method).
REGISTRY = HostRegistry()
