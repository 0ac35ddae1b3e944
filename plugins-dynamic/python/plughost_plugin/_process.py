"""What both ways of running a plugin (started by a host, or server mode)
share about the process: log lines on stderr, refusing to start, the message
limit, and exiting exactly once.
"""

import os
import sys
import threading
import time

ENV_MAX_MESSAGE_BYTES = "PLUGHOST_MAX_MESSAGE_BYTES"
DEFAULT_MAX_MESSAGE_BYTES = 16 * 1024 * 1024
MIN_MESSAGE_BYTES = 1024
# What an exit gives RPCs in flight before the server drops them.
CLOSE_GRACE_SECONDS = 0.1

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


def fatal(message):
    """Refuses to start: one message on stderr (no traceback), exit status 1, nothing on stdout."""
    try:
        sys.stderr.write(message.rstrip("\n") + "\n")
        sys.stderr.flush()
    finally:
        os._exit(1)


def max_message_bytes():
    """PLUGHOST_MAX_MESSAGE_BYTES, or the default (with a warning) when it is unusable."""
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
    server stops, like the TypeScript SDK does. `exiting` turns health to
    NOT_SERVING for the time that takes.
    """

    def __init__(self):
        self.server = None
        self.socket_path = None
        self.made_dir = None  # a socket directory we created (no PLUGIN_UNIX_SOCKET_DIR)
        self._lock = threading.Lock()
        self._exiting = False
        self._open = set()

    @property
    def exiting(self):
        return self._exiting

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

    def exit_soon(self, code, reason, grace=CLOSE_GRACE_SECONDS):
        threading.Thread(target=self.exit, args=(code, reason, grace), name="plughost-exit", daemon=True).start()

    def exit(self, code, reason, grace=CLOSE_GRACE_SECONDS):
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
                # A moment for the ended streams' statuses (and RPCs in flight)
                # to go out, then abort the rest.
                self.server.stop(grace).wait(grace + 0.4)
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


def wait_forever():
    """The main thread's part once serving: everything else happens on other
    threads, and exits go through os._exit.

    Python runs signal handlers on the main thread only, when it next runs
    bytecode; a signal the kernel delivers to one of gRPC's threads does not
    wake a main thread blocked on a lock. So it blocks reading a pipe that is
    also the signal wakeup fd: every signal writes a byte to it, the read
    returns, and the handler (server mode's SIGTERM/SIGINT) runs at once.
    """
    import signal

    r, w = os.pipe()
    os.set_blocking(w, False)
    try:
        signal.set_wakeup_fd(w)
    except ValueError:  # serve() called from another thread: no handlers of ours run anyway
        forever = threading.Event()
        while True:
            forever.wait(3600)
    while True:
        os.read(r, 512)
