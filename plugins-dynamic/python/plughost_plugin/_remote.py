"""Server mode (docs/protocol.md, "Server mode"): with PLUGHOST_LISTEN set,
the plugin is not started by a host but serves remote hosts on a TCP address
until SIGTERM or SIGINT, then exits 0.

No cookie, no version negotiation (the app version is the highest of
app_versions), no parent or stdin watch (nothing owns the process), and no
client may stop it (Shutdown: PERMISSION_DENIED). Every setting is checked
before serving, so a misconfigured server exits 1 with one line that names
the variable, not a traceback.
"""

import ipaddress
import os
import re
import signal
import sys
import threading

from ._process import Lifetime, fatal, log, max_message_bytes, wait_forever

ENV_LISTEN = "PLUGHOST_LISTEN"
ENV_TLS_CERT = "PLUGHOST_TLS_CERT"
ENV_TLS_KEY = "PLUGHOST_TLS_KEY"
ENV_TLS_CLIENT_CA = "PLUGHOST_TLS_CLIENT_CA"
ENV_INSECURE = "PLUGHOST_INSECURE"
LISTENING_PREFIX = "PLUGHOST_LISTENING"
# What SIGTERM/SIGINT give RPCs in flight (Channel calls are cancelled at once).
STOP_GRACE_SECONDS = 5.0

_BRACKETED = re.compile(r"^\[([^\]]+)\]:(\d+)$")
_PLAIN = re.compile(r"^([^:\[\]]+):(\d+)$")


class Refused(Exception):
    """Server mode cannot start; the message is the whole explanation."""


def is_loopback(host):
    """127.0.0.0/8, ::1 (also IPv4-mapped) and localhost: only this machine reaches them."""
    if host.lower() == "localhost":
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False  # a host name: it may resolve anywhere
    mapped = getattr(address, "ipv4_mapped", None)
    return address.is_loopback or (mapped is not None and mapped.is_loopback)


def format_address(host, port):
    """host:port, with brackets around an IPv6 literal."""
    return "[%s]:%d" % (host, port) if ":" in host else "%s:%d" % (host, port)


def parse_listen(value):
    """PLUGHOST_LISTEN -> (host, port); raises Refused."""
    match = _BRACKETED.match(value) or _PLAIN.match(value)
    if match is None:
        raise Refused("%s: want host:port (an IPv6 address in brackets: [::1]:0), got %r" % (ENV_LISTEN, value))
    host, port = match.group(1), int(match.group(2))
    if value.startswith("["):
        try:
            ipaddress.IPv6Address(host)
        except ValueError:
            raise Refused("%s: %r in brackets is not an IPv6 address" % (ENV_LISTEN, host)) from None
    if port > 65535:
        raise Refused("%s: port %s is not between 0 and 65535" % (ENV_LISTEN, match.group(2)))
    return host, port


def _read(env, variable):
    path = env[variable]
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError as exc:
        raise Refused("cannot read %s (%s): %s" % (variable, path, exc.strerror or exc)) from None


class Settings:
    """Server mode's environment, checked. tls is None for plaintext, else
    (cert PEM, key PEM, client CA PEM or None)."""

    def __init__(self, env):
        self.host, self.port = parse_listen(env.get(ENV_LISTEN, ""))
        insecure = env.get(ENV_INSECURE, "")
        if insecure not in ("", "0", "1"):
            raise Refused("%s must be 1 (or unset), got %r" % (ENV_INSECURE, insecure))
        address = format_address(self.host, self.port)
        tls_set = [v for v in (ENV_TLS_CERT, ENV_TLS_KEY, ENV_TLS_CLIENT_CA) if env.get(v)]
        if insecure == "1":
            if tls_set:
                raise Refused(
                    "%s=1 asks for plaintext, but %s ask for TLS: set one or the other"
                    % (ENV_INSECURE, " and ".join(tls_set))
                )
            if not is_loopback(self.host):
                raise Refused(
                    "%s=1 serves plaintext, which is allowed on a loopback address only (127.0.0.0/8, ::1, "
                    "localhost), and %s is %s: serve TLS instead (%s, %s)"
                    % (ENV_INSECURE, ENV_LISTEN, address, ENV_TLS_CERT, ENV_TLS_KEY)
                )
            self.tls = None
            return
        missing = [v for v in (ENV_TLS_CERT, ENV_TLS_KEY) if not env.get(v)]
        if missing:
            raise Refused(
                "no TLS configuration (%s not set): set %s and %s to PEM files (and %s for mutual TLS), "
                "or %s=1 to serve plaintext on a loopback address"
                % (" and ".join(missing), ENV_TLS_CERT, ENV_TLS_KEY, ENV_TLS_CLIENT_CA, ENV_INSECURE)
            )
        cert = _read(env, ENV_TLS_CERT)
        key = _read(env, ENV_TLS_KEY)
        client_ca = _read(env, ENV_TLS_CLIENT_CA) if env.get(ENV_TLS_CLIENT_CA) else None
        from ._tls import TlsError, check_server_files

        names = {
            "cert": "%s (%s)" % (ENV_TLS_CERT, env[ENV_TLS_CERT]),
            "key": "%s (%s)" % (ENV_TLS_KEY, env[ENV_TLS_KEY]),
            "client_ca": "%s (%s)" % (ENV_TLS_CLIENT_CA, env.get(ENV_TLS_CLIENT_CA)),
        }
        try:
            check_server_files(cert, key, client_ca, names)
        except TlsError as exc:
            raise Refused(str(exc)) from None
        self.tls = (cert, key, client_ca)


def run_remote(plugin, make_server):
    """Serves `plugin` on PLUGHOST_LISTEN; never returns.
    make_server(grpc, lifetime, allow_shutdown) builds the gRPC server."""
    plugin.registry.shared = True
    try:
        settings = Settings(os.environ)
    except Refused as exc:
        fatal('plugin "%s": server mode (%s): %s' % (plugin.name, ENV_LISTEN, exc))
    plugin.max_message_bytes = max_message_bytes()

    import grpc

    lifetime = Lifetime()
    server = make_server(grpc, lifetime, False)
    wanted = format_address(settings.host, settings.port)
    try:
        if settings.tls is None:
            port = server.add_insecure_port(wanted)
        else:
            from ._tls import server_mode_credentials

            port = server.add_secure_port(wanted, server_mode_credentials(grpc, *settings.tls))
    except RuntimeError as exc:
        log("error", "bind failed", error=str(exc))
        port = 0
    if not port:
        fatal('plugin "%s": server mode: cannot listen on %s' % (plugin.name, wanted))
    server.start()
    lifetime.server = server

    def stop(signum, frame):
        # Not in the handler itself: exiting takes a while and the handler
        # interrupts the main thread wherever it is.
        lifetime.exit_soon(0, signal.Signals(signum).name, STOP_GRACE_SECONDS)

    # Signal handlers are the main thread's only; serve() from another thread stops by other means.
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)

    # The one line the SDK writes on stdout, as the handshake is when a host starts it.
    mode = "plaintext" if settings.tls is None else "tls"
    sys.stdout.write("%s %s %s\n" % (LISTENING_PREFIX, format_address(settings.host, port), mode))
    sys.stdout.flush()
    wait_forever()
