"""serve(), the method table and how a method's outcome becomes a Result."""

import threading

from . import _wire
from ._errors import CANCELLED, MESSAGE_TOO_LARGE, PLUGIN_EXCEPTION, UNKNOWN_METHOD, PluginError
from ._host import REGISTRY, HostServices

__all__ = ["serve", "PluginError", "Context"]

UNARY = 0
STREAM = 1
PROTOCOL_VERSION = 1


class Cancelled(threading.Event):
    """ctx.cancelled: a threading.Event that also runs hooks when it is set,
    so that a host call the method is waiting on gives up at once (a thread
    cannot wait on two Events, and polling would add latency)."""

    def __init__(self):
        super().__init__()
        self._hooks_lock = threading.Lock()
        self._hooks = []  # None once set

    def set(self):
        with self._hooks_lock:
            hooks, self._hooks = self._hooks, None
        super().set()
        for hook in hooks or ():
            try:
                hook()
            except Exception:  # noqa: B902 - one hook must not stop the others
                pass

    def on_set(self, hook):
        """Runs hook() when the event is set (now, if it is); returns a function that removes it."""
        with self._hooks_lock:
            if self._hooks is not None:
                self._hooks.append(hook)
                return lambda: self._remove(hook)
        hook()
        return lambda: None

    def _remove(self, hook):
        with self._hooks_lock:
            if self._hooks is not None and hook in self._hooks:
                self._hooks.remove(hook)


def _no_channel(method):
    why = "%r was called over a unary RPC, which has no Channel to carry host calls" % method
    return lambda: why


class Context:
    """What a method knows about its call.

    method:    the method name the host called.
    cancelled: a threading.Event, set when the host gives up on the call
               (deadline, abort, channel closed). Long-running methods should
               check it and stop early; whatever they return is dropped.
    host:      the host's services (HostServices: .services, .call()), over
               the Channel this call came on; a host call gives up when the
               method is cancelled. Made on first use.
    """

    __slots__ = ("method", "cancelled", "_route", "_host")

    def __init__(self, method, route=None):
        self.method = method
        self.cancelled = Cancelled()
        # route() -> the HostLine of this call's Channel, or why there is none.
        self._route = route if route is not None else _no_channel(method)
        self._host = None

    @property
    def host(self):
        if self._host is None:
            self._host = HostServices(REGISTRY, self._route, self.cancelled)
        return self._host

    def __repr__(self):
        return "Context(method=%r, cancelled=%s)" % (self.method, self.cancelled.is_set())


MAX_CODE_CHARS = 256


def error_of(exc, max_chars=4096):
    """(code, message) for an exception raised by plugin code: a PluginError's
    code, else the exception's own non-empty str `code`, else
    PLUGHOST_PLUGIN_EXCEPTION (with the exception's type in the message).
    The message is cut to max_chars so an error always fits in a message."""
    try:
        if isinstance(exc, PluginError):
            code, message = str(exc.code or PLUGIN_EXCEPTION), str(exc.message)
        else:
            code = getattr(exc, "code", None)
            if not isinstance(code, str) or not code:
                code = PLUGIN_EXCEPTION
            text = str(exc)
            message = "%s: %s" % (type(exc).__name__, text) if text else type(exc).__name__
    except Exception:  # noqa: B902 - a broken __str__
        code, message = PLUGIN_EXCEPTION, "an exception that could not be described (%s)" % type(exc).__name__
    if len(code) > MAX_CODE_CHARS:
        code = code[:MAX_CODE_CHARS]
    if len(message) > max_chars:
        message = message[:max_chars] + "\u2026"
    return code, message


def as_bytes(value):
    """A method's return value as bytes (None is an empty payload)."""
    if type(value) is bytes:
        return value
    if value is None:
        return b""
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value)
    raise TypeError("a method must return bytes, got %s" % type(value).__name__)


def _check_table(name, table):
    if table is None:
        return {}
    if not isinstance(table, dict):
        raise TypeError("serve(): %s must be a dict of method name -> function" % name)
    for key, fn in table.items():
        if not isinstance(key, str) or not key:
            raise TypeError("serve(): %s: method names must be non-empty strs, got %r" % (name, key))
        if not callable(fn):
            raise TypeError("serve(): %s[%r] is not callable" % (name, key))
    return dict(table)


class Plugin:
    """The plugin's methods and how to run them (independent of gRPC)."""

    def __init__(self, name, version, methods, batch, streams, configure, max_message_bytes, log, idempotent=None):
        if not isinstance(name, str) or not name:
            raise TypeError("serve(): name must be a non-empty str")
        if not isinstance(version, str):
            raise TypeError("serve(): version must be a str")
        self.name = name
        self.version = version
        self.unary = _check_table("methods", methods)
        self.batch = _check_table("batch", batch)
        self.streams = _check_table("streams", streams)
        for method in self.batch:
            if method not in self.unary:
                raise TypeError("serve(): batch[%r] has no method %r in `methods`" % (method, method))
        for method in self.streams:
            if method in self.unary:
                raise TypeError("serve(): %r is in both `methods` and `streams`" % method)
        if configure is not None and not callable(configure):
            raise TypeError("serve(): configure must be callable")
        self.configure = configure
        self.idempotent = _check_idempotent(idempotent, self.unary)
        self.registry = REGISTRY  # host calls: what the host offers, open Channels
        self.max_message_bytes = max_message_bytes
        self.log = log
        kinds = {m: UNARY for m in self.unary}
        kinds.update({m: STREAM for m in self.streams})
        self.kinds = kinds
        capabilities = ["channel", "batch"] + (["configure"] if configure is not None else [])
        methods_info = [(m, kind, m in self.idempotent) for m, kind in sorted(kinds.items())]
        self.describe_response = _wire.encode_describe_response(
            name, version, methods_info, capabilities, PROTOCOL_VERSION
        )

    @property
    def max_message_bytes(self):
        return self._max_message_bytes

    @max_message_bytes.setter
    def max_message_bytes(self, value):
        # Host calls are held to the same limit as results.
        self._max_message_bytes = value
        self.registry.max_message_bytes = value

    # -- errors ------------------------------------------------------------

    def unknown(self, method, want):
        kind = self.kinds.get(method)
        if kind is None:
            return UNKNOWN_METHOD, "plugin %r has no method %r" % (self.name, method)
        other = "STREAM" if kind == STREAM else "UNARY"
        return UNKNOWN_METHOD, "method %r of plugin %r is a %s method, not %s" % (method, self.name, other, want)

    @property
    def max_error_chars(self):
        # A character is at most 4 UTF-8 bytes: an error always fits well inside a message.
        return max(64, min(4096, self.max_message_bytes // 16))

    def failed(self, ctx, exc):
        """The error for an exception; unexpected ones are logged with their traceback."""
        error = error_of(exc, self.max_error_chars)
        if not isinstance(exc, PluginError) and not ctx.cancelled.is_set():
            self.log("error", "method raised", method=ctx.method, error=error[1], exc=exc)
        return error

    def too_large(self, what, size):
        return MESSAGE_TOO_LARGE, "%s is %d bytes, over the %d-byte message limit" % (what, size, self.max_message_bytes)

    # -- running methods -----------------------------------------------------

    def run_unary(self, ctx, payload):
        """Runs a UNARY method: (payload, None) or (b"", (code, message))."""
        fn = self.unary.get(ctx.method)
        if fn is None:
            return b"", self.unknown(ctx.method, "UNARY")
        try:
            return as_bytes(fn(payload, ctx)), None
        except BaseException as exc:  # noqa: B902 - any failure is the call's result
            return b"", self.failed(ctx, exc)

    def run_batch(self, ctx, payloads):
        """Runs a batch: one encoded Result per payload, in order."""
        n = len(payloads)
        fn = self.batch.get(ctx.method)
        if fn is not None:
            try:
                outs = _batch_outputs(fn, payloads, ctx)
            except BaseException as exc:  # noqa: B902
                return [_wire.encode_result(error=self.failed(ctx, exc))] * n
            results = []
            for out in outs:
                try:
                    if isinstance(out, BaseException):
                        raise out
                    results.append(_wire.encode_result(as_bytes(out)))
                except BaseException as exc:  # noqa: B902
                    results.append(_wire.encode_result(error=self.failed(ctx, exc)))
            return results
        if ctx.method not in self.unary:
            return [_wire.encode_result(error=self.unknown(ctx.method, "UNARY"))] * n
        results = []
        for payload in payloads:
            if ctx.cancelled.is_set():
                results.append(_wire.encode_result(error=(CANCELLED, "the host cancelled the batch")))
                continue
            out, error = self.run_unary(ctx, payload)
            results.append(_wire.encode_result(out, error))
        return results

    def fit_batch(self, results, overhead):
        """Replaces the largest results by MESSAGE_TOO_LARGE errors until the
        message (results plus `overhead` bytes of framing) fits the limit."""
        sizes = [len(r) + len(_wire._varint(len(r))) + 1 for r in results]
        total = sum(sizes) + overhead
        if total <= self.max_message_bytes:
            return results
        results = list(results)
        for i in sorted(range(len(results)), key=sizes.__getitem__, reverse=True):
            replacement = _wire.encode_result(error=self.too_large("result %d of the batch" % i, sizes[i]))
            total += len(replacement) + 2 - sizes[i]
            results[i] = replacement
            if total <= self.max_message_bytes:
                break
        return results

    def run_configure(self, config):
        try:
            self.configure(config)
            return None
        except BaseException as exc:  # noqa: B902
            error = error_of(exc, self.max_error_chars)
            if not isinstance(exc, PluginError):
                self.log("error", "configure raised", error=error[1], exc=exc)
            return error


def _check_idempotent(names, unary):
    """serve(idempotent=...): names of UNARY methods safe to run twice."""
    if names is None:
        return frozenset()
    if isinstance(names, str) or not hasattr(names, "__iter__"):
        raise TypeError("serve(): idempotent must be a list of method names")
    names = list(names)
    for name in names:
        if not isinstance(name, str) or name not in unary:
            raise TypeError("serve(): idempotent lists %r, which is not a method in `methods`" % (name,))
    return frozenset(names)


def _batch_outputs(fn, payloads, ctx):
    outs = fn(payloads, ctx)
    outs = list(outs) if outs is not None else []
    if len(outs) != len(payloads):
        raise PluginError(
            PLUGIN_EXCEPTION,
            "batch handler for %r returned %d results for %d payloads" % (ctx.method, len(outs), len(payloads)),
        )
    return outs


def serve(
    name,
    version,
    methods=None,
    batch=None,
    streams=None,
    configure=None,
    app_versions=(1,),
    max_workers=32,
    idempotent=None,
):
    """Runs the plugin until the host stops it; never returns.

    name, version:  what Describe reports.
    methods:        {name: fn(payload: bytes, ctx) -> bytes}, UNARY methods.
    batch:          {name: fn(payloads: list[bytes], ctx) -> list}, optional
                    whole-batch handlers for methods in `methods`: one item per
                    payload, in order, each bytes or an exception instance
                    (which fails only that item). Without one, a batch runs the
                    method once per payload.
    streams:        {name: fn(messages: Iterator[bytes], ctx) -> Iterable[bytes]},
                    STREAM methods.
    configure:      fn(config: bytes) -> None, optional; raise to reject.
    app_versions:   app protocol versions this plugin speaks (go-plugin APP).
    max_workers:    threads running Channel calls concurrently.
    idempotent:     names in `methods` that are safe to run twice: Describe
                    marks them, and a host may retry them on another endpoint
                    when the connection to a remote plugin is lost mid-call.

    Methods raise PluginError(code, message) to fail with a code; any other
    exception fails the call with PLUGHOST_PLUGIN_EXCEPTION (or the exception's
    own string `code` attribute). ctx.host calls the host's services.

    Started by a host, it speaks go-plugin's handshake on a Unix socket (TLS
    when the host asks for AutoMTLS). With PLUGHOST_LISTEN=host:port set it
    runs in server mode instead: it serves remote hosts on that TCP address
    until SIGTERM or SIGINT (docs/protocol.md, "Server mode").
    """
    from ._server import run

    run(
        name=name,
        version=version,
        methods=methods,
        batch=batch,
        streams=streams,
        configure=configure,
        app_versions=app_versions,
        max_workers=max_workers,
        idempotent=idempotent,
    )
