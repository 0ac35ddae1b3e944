"""The go-plugin side of a plugin: handshake, the gRPC server, lifetime.

docs/protocol.md is the contract. In order: validate the method table, check
the cookie, negotiate the app version, import grpc (the slow part, ~30 ms),
listen on a Unix socket in PLUGIN_UNIX_SOCKET_DIR, print the handshake line,
then serve until Shutdown, stdin EOF, or the parent process going away.
"""

import os
import sys
import threading
import time

from . import _wire
from ._channel import Channel, Pool
from ._plugin import Context, Plugin

COOKIE_KEY = "PLUGHOST_PLUGIN_COOKIE"
COOKIE_VALUE = "7c1f3e0a-plughost-dynamic-v1"
ENV_PROTOCOL_VERSIONS = "PLUGIN_PROTOCOL_VERSIONS"
ENV_SOCKET_DIR = "PLUGIN_UNIX_SOCKET_DIR"
ENV_PARENT_PID = "PLUGHOST_PARENT_PID"
ENV_MAX_MESSAGE_BYTES = "PLUGHOST_MAX_MESSAGE_BYTES"
DEFAULT_MAX_MESSAGE_BYTES = 16 * 1024 * 1024
CORE_PROTOCOL_VERSION = 1
HEALTH_SERVICES = ("plugin", "")
SERVING = 1
PARENT_POLL_SECONDS = 0.5
CLOSE_GRACE_SECONDS = 0.1
MIN_MESSAGE_BYTES = 1024
# Unix socket paths are limited to sizeof(sun_path) - 1 bytes on Linux.
MAX_SOCKET_PATH = 107

_log_lock = threading.Lock()


def log(level, message, exc=None, **fields):
    """One hclog-style JSON line on stderr (the host parses those)."""
    import json  # here, not at the top: start-up time
    import traceback

    t = time.time()
    entry = {
        "@level": level,
        "@message": message,
        "@timestamp": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + ".%06dZ" % int((t % 1) * 1e6),
    }
    entry.update(fields)
    if exc is not None:
        entry["traceback"] = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    line = json.dumps(entry, default=str, ensure_ascii=False, separators=(",", ":")) + "\n"
    with _log_lock:
        try:
            sys.stderr.write(line)
            sys.stderr.flush()
        except (OSError, ValueError):
            pass


def _fatal(message):
    """Refuses to start: a message on stderr, exit status 1, nothing on stdout."""
    try:
        sys.stderr.write(message.rstrip("\n") + "\n")
        sys.stderr.flush()
    finally:
        os._exit(1)


def negotiate(offered, supported):
    """The highest version in both the host's comma-separated list and ours, or None."""
    host = set()
    for part in (offered or "").split(","):
        part = part.strip()
        if part.isdigit() and part.isascii() and int(part) > 0:
            host.add(int(part))
    common = host.intersection(int(v) for v in supported)
    return max(common) if common else None


def _max_message_bytes():
    raw = os.environ.get(ENV_MAX_MESSAGE_BYTES, "").strip()
    if not raw:
        return DEFAULT_MAX_MESSAGE_BYTES
    if not (raw.isdigit() and raw.isascii()) or not MIN_MESSAGE_BYTES <= int(raw) <= 2**31 - 1:
        log(
            "warn",
            "ignoring %s=%r (want an integer from %d to 2**31-1)" % (ENV_MAX_MESSAGE_BYTES, raw, MIN_MESSAGE_BYTES),
            using=DEFAULT_MAX_MESSAGE_BYTES,
        )
        return DEFAULT_MAX_MESSAGE_BYTES
    return int(raw)


class Lifetime:
    """Exits the process once, for whichever reason comes first.

    Long-lived RPCs (Channel, StreamStdio, Health.Watch) register a closer;
    on exit they are ended cleanly (calls cancelled, OK status) before the
    server stops, like the TypeScript SDK does.
    """

    def __init__(self):
        self.server = None
        self.socket_path = None
        self.made_dir = None  # a socket directory we created (no PLUGIN_UNIX_SOCKET_DIR)
        self._lock = threading.Lock()
        self._exiting = False
        self._open = set()

    def track(self, closer):
        """Registers closer() to run at exit; returns a function that unregisters it."""
        with self._lock:
            exiting = self._exiting
            if not exiting:
                self._open.add(closer)
        if exiting:
            closer()
            return lambda: None
        return lambda: self._open.discard(closer)

    def exit_soon(self, code, reason):
        threading.Thread(target=self.exit, args=(code, reason), name="plughost-exit", daemon=True).start()

    def exit(self, code, reason):
        with self._lock:
            if self._exiting:
                return
            self._exiting = True
            closers = list(self._open)
            self._open.clear()
        try:
            log("debug", "plugin exiting", reason=reason)
            for closer in closers:
                try:
                    closer()
                except Exception:  # noqa: B902
                    pass
            if self.server is not None:
                # A moment for the ended streams' statuses to go out, then abort the rest.
                self.server.stop(CLOSE_GRACE_SECONDS).wait(CLOSE_GRACE_SECONDS + 0.4)
            if self.socket_path is not None:
                try:
                    os.unlink(self.socket_path)
                except OSError:
                    pass
            if self.made_dir is not None:
                try:
                    os.rmdir(self.made_dir)
                except OSError:
                    pass
            for stream in (sys.stdout, sys.stderr):
                try:
                    stream.flush()
                except (OSError, ValueError):
                    pass
        finally:
            # os._exit: interpreter teardown with live gRPC threads can hang.
            os._exit(code)


def _stdin_is_pipe():
    import stat

    try:
        mode = os.fstat(0).st_mode
    except OSError:
        return False  # no stdin at all
    return stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode)


def _watch_stdin(lifetime):
    """The host holds our stdin pipe open; EOF means it closed it or died."""
    try:
        while os.read(0, 65536):
            pass  # the host writes nothing; drained and discarded
    except OSError:
        pass
    lifetime.exit(0, "stdin reached EOF")


def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        pass  # EPERM: it exists
    return True


def _watch_parent(lifetime, parent_pid):
    # Normally the host is our parent: re-parenting means it died. If a
    # wrapper (a shell, a launcher) sits between them, also watch that the
    # host itself stays alive.
    initial = os.getppid()
    while True:
        time.sleep(PARENT_POLL_SECONDS)
        if os.getppid() != initial:
            lifetime.exit(0, "the parent process %d is gone" % initial)
        if initial != parent_pid and not _alive(parent_pid):
            lifetime.exit(0, "the host process %d is gone" % parent_pid)


def run(name, version, methods, batch, streams, configure, app_versions, max_workers):
    # Programming errors in the method table surface before anything else.
    plugin = Plugin(name, version, methods, batch, streams, configure, DEFAULT_MAX_MESSAGE_BYTES, log)
    app_versions = list(app_versions)
    if not app_versions or not all(type(v) is int and v > 0 for v in app_versions):
        raise TypeError("serve(): app_versions must be a non-empty list of positive ints")
    if type(max_workers) is not int or max_workers < 1:
        raise TypeError("serve(): max_workers must be a positive int")

    if os.environ.get(COOKIE_KEY) != COOKIE_VALUE:
        _fatal(
            "%s is a plughost plugin: it is started by a plughost host, not run directly "
            "(%s is missing or wrong)." % (sys.argv[0] or name, COOKIE_KEY)
        )
    app = negotiate(os.environ.get(ENV_PROTOCOL_VERSIONS), app_versions)
    if app is None:
        _fatal(
            "plugin %r speaks app protocol versions %s; the host offers %r (%s): no common version."
            % (name, ",".join(str(v) for v in app_versions), os.environ.get(ENV_PROTOCOL_VERSIONS, ""), ENV_PROTOCOL_VERSIONS)
        )
    plugin.max_message_bytes = _max_message_bytes()

    socket_dir = os.environ.get(ENV_SOCKET_DIR) or None
    made_dir = None
    if socket_dir is None:
        import tempfile

        socket_dir = made_dir = tempfile.mkdtemp(prefix="plughost-")
    # Named by pid: unique even if the host shares one directory between plugins.
    socket_path = os.path.join(os.path.abspath(socket_dir), "plugin-%d.sock" % os.getpid())
    if len(os.fsencode(socket_path)) > MAX_SOCKET_PATH:
        _fatal("socket path %s is longer than %d bytes; use a shorter %s" % (socket_path, MAX_SOCKET_PATH, ENV_SOCKET_DIR))
    try:
        os.unlink(socket_path)
    except FileNotFoundError:
        pass
    except OSError as exc:
        _fatal("cannot use socket path %s: %s" % (socket_path, exc))

    import grpc
    from concurrent import futures

    lifetime = Lifetime()
    pool = Pool(max_workers)
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=max_workers + 16, thread_name_prefix="plughost-grpc"),
        handlers=_handlers(grpc, plugin, pool, lifetime),
        options=[
            ("grpc.max_receive_message_length", plugin.max_message_bytes),
            ("grpc.max_send_message_length", plugin.max_message_bytes),
        ],
    )
    try:
        bound = server.add_insecure_port("unix:" + socket_path)
    except RuntimeError as exc:
        bound = 0
        log("error", "bind failed", error=str(exc))
    if not bound:
        _fatal("cannot listen on unix socket %s" % socket_path)
    server.start()
    lifetime.server = server
    lifetime.socket_path = socket_path
    lifetime.made_dir = made_dir

    # go-plugin eats SIGINT (a terminal's Ctrl-C reaches the whole process
    # group); the host decides when the plugin stops.
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)

    sys.stdout.write("%d|%d|unix|%s|grpc\n" % (CORE_PROTOCOL_VERSION, app, socket_path))
    sys.stdout.flush()

    if _stdin_is_pipe():
        threading.Thread(target=_watch_stdin, args=(lifetime,), name="plughost-stdin", daemon=True).start()
    parent = os.environ.get(ENV_PARENT_PID, "").strip()
    if parent.isdigit() and parent.isascii() and int(parent) > 0:
        threading.Thread(
            target=_watch_parent, args=(lifetime, int(parent)), name="plughost-parent", daemon=True
        ).start()

    # Everything else happens on other threads; exits go through os._exit.
    forever = threading.Event()
    while True:
        forever.wait(3600)


def _handlers(grpc, plugin, pool, lifetime):
    unary = grpc.unary_unary_rpc_method_handler
    unary_stream = grpc.unary_stream_rpc_method_handler

    def rpc_ctx(method, context):
        ctx = Context(method)
        context.add_callback(ctx.cancelled.set)
        return ctx

    # -- plughost.v1.Plugin --------------------------------------------------

    def describe(request, context):
        _wire.decode_describe_request(request)
        return plugin.describe_response

    def call(request, context):
        method, payload = _wire.decode_call_request(request)
        ctx = rpc_ctx(method, context)
        out, error = plugin.run_unary(ctx, payload)
        result = _wire.encode_result(out, error)
        if len(result) > plugin.max_message_bytes:
            result = _wire.encode_result(error=plugin.too_large("the result", len(out)))
        return result

    def batch(request, context):
        method, payloads = _wire.decode_batch_request(request)
        ctx = rpc_ctx(method, context)
        return _wire.encode_batch_response(plugin.fit_batch(plugin.run_batch(ctx, payloads), 0))

    def channel(request_iterator, context):
        return Channel(plugin, pool, context, lifetime).run(request_iterator)

    def configure(request, context):
        return _wire.encode_configure_response(plugin.run_configure(_wire.decode_configure_request(request)))

    plugin_methods = {
        "Describe": unary(describe),
        "Call": unary(call),
        "Batch": unary(batch),
        "Channel": grpc.stream_stream_rpc_method_handler(channel),
    }
    if plugin.configure is not None:
        plugin_methods["Configure"] = unary(configure)

    # -- grpc.health.v1.Health -------------------------------------------------

    def health_check(request, context):
        service = _wire.decode_health_check_request(request)
        if service not in HEALTH_SERVICES:
            context.abort(grpc.StatusCode.NOT_FOUND, "unknown service %r" % service)
        return _wire.encode_health_check_response(SERVING)

    def health_watch(request, context):
        service = _wire.decode_health_check_request(request)
        yield _wire.encode_health_check_response(SERVING if service in HEALTH_SERVICES else 3)
        _wait_until_done(context, lifetime)

    # -- plugin.GRPCController / plugin.GRPCStdio ------------------------------

    def shutdown(request, context):
        # Exit once the reply is out; the timer covers a callback that never runs.
        if not context.add_callback(lambda: lifetime.exit_soon(0, "Shutdown RPC")):
            lifetime.exit_soon(0, "Shutdown RPC")
        timer = threading.Timer(1.0, lifetime.exit, args=(0, "Shutdown RPC"))
        timer.daemon = True
        timer.start()
        return b""

    def stream_stdio(request, context):
        # Kept open, nothing sent: output goes to the real stdout/stderr pipes.
        context.send_initial_metadata(())
        _wait_until_done(context, lifetime)
        return
        yield  # pragma: no cover - makes this a generator

    return [
        grpc.method_handlers_generic_handler("plughost.v1.Plugin", plugin_methods),
        grpc.method_handlers_generic_handler(
            "grpc.health.v1.Health", {"Check": unary(health_check), "Watch": unary_stream(health_watch)}
        ),
        grpc.method_handlers_generic_handler("plugin.GRPCController", {"Shutdown": unary(shutdown)}),
        grpc.method_handlers_generic_handler("plugin.GRPCStdio", {"StreamStdio": unary_stream(stream_stdio)}),
    ]


def _wait_until_done(context, lifetime):
    """Blocks until the RPC ends or the plugin exits (then the RPC ends with OK)."""
    done = threading.Event()
    if context.add_callback(done.set):
        untrack = lifetime.track(done.set)
        done.wait()
        untrack()


__all__ = ["run", "log", "negotiate"]
