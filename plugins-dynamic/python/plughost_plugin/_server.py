"""Start-up: the go-plugin side of a plugin started by a host (handshake,
the gRPC server on a Unix socket, lifetime), or server mode (_remote.py)
when PLUGHOST_LISTEN is set.

docs/protocol.md is the contract. In order: validate the method table, check
the cookie, negotiate the app version, import grpc (the slow part, ~30 ms),
listen on a Unix socket in PLUGIN_UNIX_SOCKET_DIR (TLS when the host set
PLUGIN_CLIENT_CERT: go-plugin's AutoMTLS), print the handshake line, then
serve until Shutdown, stdin EOF, or the parent process going away.
"""

import os
import sys
import threading
import time

from ._channel import Pool
from ._plugin import Plugin
from ._process import DEFAULT_MAX_MESSAGE_BYTES, Lifetime, fatal, log, max_message_bytes, wait_forever
from ._services import handlers

COOKIE_KEY = "PLUGHOST_PLUGIN_COOKIE"
COOKIE_VALUE = "7c1f3e0a-plughost-dynamic-v1"
ENV_PROTOCOL_VERSIONS = "PLUGIN_PROTOCOL_VERSIONS"
ENV_SOCKET_DIR = "PLUGIN_UNIX_SOCKET_DIR"
ENV_PARENT_PID = "PLUGHOST_PARENT_PID"
ENV_CLIENT_CERT = "PLUGIN_CLIENT_CERT"
ENV_LISTEN = "PLUGHOST_LISTEN"
CORE_PROTOCOL_VERSION = 1
PARENT_POLL_SECONDS = 0.5
# Unix socket paths are limited to sizeof(sun_path) - 1 bytes on Linux.
MAX_SOCKET_PATH = 107


def negotiate(offered, supported):
    """The highest version in both the host's comma-separated list and ours, or None."""
    host = set()
    for part in (offered or "").split(","):
        part = part.strip()
        if part.isdigit() and part.isascii() and int(part) > 0:
            host.add(int(part))
    common = host.intersection(int(v) for v in supported)
    return max(common) if common else None


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


def run(name, version, methods, batch, streams, configure, app_versions, max_workers, idempotent=None):
    # Programming errors in the method table surface before anything else.
    plugin = Plugin(name, version, methods, batch, streams, configure, DEFAULT_MAX_MESSAGE_BYTES, log, idempotent)
    app_versions = list(app_versions)
    if not app_versions or not all(type(v) is int and v > 0 for v in app_versions):
        raise TypeError("serve(): app_versions must be a non-empty list of positive ints")
    if type(max_workers) is not int or max_workers < 1:
        raise TypeError("serve(): max_workers must be a positive int")

    def make_server(grpc, lifetime, allow_shutdown):
        from concurrent import futures

        # Every open stream RPC (a Channel, a health Watch) holds one of these
        # threads for its whole life. A host has one Channel; in server mode
        # each remote host keeps several, so there are many more threads, and
        # past them a new RPC is refused (RESOURCE_EXHAUSTED) instead of
        # waiting, unanswered, for a thread.
        threads = max_workers + (16 if allow_shutdown else 512)
        return grpc.server(
            futures.ThreadPoolExecutor(max_workers=threads, thread_name_prefix="plughost-grpc"),
            handlers=handlers(grpc, plugin, Pool(max_workers), lifetime, allow_shutdown),
            maximum_concurrent_rpcs=None if allow_shutdown else threads - 8,
            options=[
                ("grpc.max_receive_message_length", plugin.max_message_bytes),
                ("grpc.max_send_message_length", plugin.max_message_bytes),
            ],
        )

    if os.environ.get(ENV_LISTEN):
        from ._remote import run_remote

        run_remote(plugin, make_server)
    _run_hosted(plugin, app_versions, make_server)


def _run_hosted(plugin, app_versions, make_server):
    """Serves the host that started this process; never returns."""
    name = plugin.name
    if os.environ.get(COOKIE_KEY) != COOKIE_VALUE:
        fatal(
            "%s is a plughost plugin: it is started by a plughost host, not run directly "
            "(%s is missing or wrong; or set %s=host:port to serve remote hosts)."
            % (sys.argv[0] or name, COOKIE_KEY, ENV_LISTEN)
        )
    app = negotiate(os.environ.get(ENV_PROTOCOL_VERSIONS), app_versions)
    if app is None:
        fatal(
            "plugin %r speaks app protocol versions %s; the host offers %r (%s): no common version."
            % (name, ",".join(str(v) for v in app_versions), os.environ.get(ENV_PROTOCOL_VERSIONS, ""), ENV_PROTOCOL_VERSIONS)
        )
    plugin.max_message_bytes = max_message_bytes()

    socket_dir = os.environ.get(ENV_SOCKET_DIR) or None
    made_dir = None
    if socket_dir is None:
        import tempfile

        socket_dir = made_dir = tempfile.mkdtemp(prefix="plughost-")
    # Named by pid: unique even if the host shares one directory between plugins.
    socket_path = os.path.join(os.path.abspath(socket_dir), "plugin-%d.sock" % os.getpid())
    if len(os.fsencode(socket_path)) > MAX_SOCKET_PATH:
        fatal("socket path %s is longer than %d bytes; use a shorter %s" % (socket_path, MAX_SOCKET_PATH, ENV_SOCKET_DIR))
    try:
        os.unlink(socket_path)
    except FileNotFoundError:
        pass
    except OSError as exc:
        fatal("cannot use socket path %s: %s" % (socket_path, exc))

    import grpc

    credentials = None
    server_cert = None
    client_cert = os.environ.get(ENV_CLIENT_CERT)
    if client_cert:
        from ._tls import TlsError, auto_mtls

        try:
            credentials, server_cert = auto_mtls(grpc, client_cert)
        except TlsError as exc:
            fatal("plugin %r: cannot set up AutoMTLS with %s: %s" % (name, ENV_CLIENT_CERT, exc))

    lifetime = Lifetime()
    server = make_server(grpc, lifetime, True)
    target = "unix:" + socket_path
    try:
        if credentials is None:
            bound = server.add_insecure_port(target)
        else:
            bound = server.add_secure_port(target, credentials)
    except RuntimeError as exc:
        bound = 0
        log("error", "bind failed", error=str(exc))
    if not bound:
        fatal("cannot listen on unix socket %s" % socket_path)
    server.start()
    lifetime.server = server
    lifetime.socket_path = socket_path
    lifetime.made_dir = made_dir

    # go-plugin eats SIGINT (a terminal's Ctrl-C reaches the whole process
    # group); the host decides when the plugin stops.
    import signal

    if threading.current_thread() is threading.main_thread():  # signal handlers are the main thread's only
        signal.signal(signal.SIGINT, signal.SIG_IGN)

    line = "%d|%d|unix|%s|grpc" % (CORE_PROTOCOL_VERSION, app, socket_path)
    if server_cert is not None:
        line += "|" + server_cert
    sys.stdout.write(line + "\n")
    sys.stdout.flush()

    if _stdin_is_pipe():
        threading.Thread(target=_watch_stdin, args=(lifetime,), name="plughost-stdin", daemon=True).start()
    parent = os.environ.get(ENV_PARENT_PID, "").strip()
    if parent.isdigit() and parent.isascii() and int(parent) > 0:
        threading.Thread(
            target=_watch_parent, args=(lifetime, int(parent)), name="plughost-parent", daemon=True
        ).start()
    wait_forever()


__all__ = ["run", "log", "negotiate"]
