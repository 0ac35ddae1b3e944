"""plughost.v1.Plugin/Channel: many concurrent calls on one stream.

A reader thread decodes the host's frames and starts calls: unary calls and
batches run on a shared thread pool, each STREAM call on its own thread.
Finished frames go into one queue that the gRPC handler thread drains into
the response stream, so results go out in whatever order calls finish.

Flow control (docs/protocol.md, "Flow control"): when the host's `open`
carries a window, a STREAM call's output waits for the host's credit (so the
response queue holds at most a window per stream) and the plugin grants the
host's messages back as the method takes them from its input iterator (so
the inbox holds at most a window plus one message).

The table of open calls is keyed by frame id. A call leaves it when its last
frame is queued or when the host cancels it; anything a call produces after
that is dropped, so a cancelled call sends nothing more and an id the host
reuses never receives a stale frame.

The plugin's own host calls (docs/protocol.md, "Host calls") travel on the
same stream: a HostLine (_host.py) numbers them in an id space of their own,
the reader thread hands it their host_result frames, and its host_call and
host_cancel frames join the same output queue.
"""

import queue
import threading

from . import _wire
from ._host import HostLine
from ._plugin import Context, as_bytes

_EOF = object()

# The window the plugin grants the host per stream, and each message's cost
# beyond its length: the same numbers as src/protocol/flow.ts.
STREAM_WINDOW_BYTES = 4 * 1024 * 1024
STREAM_MESSAGE_OVERHEAD = 64


class Pool:
    """A minimal thread pool: threads start on demand up to max_workers and
    stay; a task must not raise (every task here catches its own errors)."""

    def __init__(self, max_workers):
        self._queue = queue.SimpleQueue()
        self._idle = threading.Semaphore(0)
        self._max = max_workers
        self._threads = 0
        self._lock = threading.Lock()

    def submit(self, fn, *args):
        self._queue.put((fn, args))
        if self._idle.acquire(False):
            return
        with self._lock:
            if self._threads >= self._max:
                return
            self._threads += 1
            n = self._threads
        threading.Thread(target=self._work, name="plughost-call-%d" % n, daemon=True).start()

    def _work(self):
        get = self._queue.get
        release = self._idle.release
        while True:
            fn, args = get()
            try:
                fn(*args)
            except BaseException:  # noqa: B902 - keep the worker alive
                pass
            del fn, args
            release()


class _Credit:
    """What the host lets a stream send: send while above zero, subtract each message's cost."""

    __slots__ = ("_available", "_cond", "closed")

    def __init__(self, initial):
        self._available = initial
        self._cond = threading.Condition(threading.Lock())
        self.closed = False

    def grant(self, n):
        with self._cond:
            self._available += n
            self._cond.notify_all()

    def take(self, length):
        """Waits for credit; False if the call ended first."""
        with self._cond:
            while self._available <= 0 and not self.closed:
                self._cond.wait()
            if self.closed:
                return False
            self._available -= length + STREAM_MESSAGE_OVERHEAD
            return True

    def close(self):
        with self._cond:
            self.closed = True
            self._cond.notify_all()


class _Call:
    __slots__ = ("id", "ctx", "inbox", "credit")

    def __init__(self, frame_id, method, stream, window, route):
        self.id = frame_id
        # ctx.host goes over this call's Channel (route() returns its HostLine).
        self.ctx = Context(method, route)
        # A STREAM call's incoming messages, ended by _EOF.
        self.inbox = queue.SimpleQueue() if stream else None
        # Set when the host speaks flow control (its open carried a window).
        self.credit = _Credit(window) if stream and window else None

    def over(self):
        self.ctx.cancelled.set()
        if self.inbox is not None:
            self.inbox.put(_EOF)
        if self.credit is not None:
            self.credit.close()


def _messages(inbox, grant=None):
    """The host's messages; with flow control each is granted back once taken."""
    get = inbox.get
    owed = 0
    threshold = STREAM_WINDOW_BYTES // 4
    while True:
        item = get()
        if item is _EOF:
            inbox.put(_EOF)  # stays ended for anyone else reading
            return
        if grant is not None:
            owed += len(item) + STREAM_MESSAGE_OVERHEAD
            if owed >= threshold:
                grant(owed)
                owed = 0
        yield item


class Channel:
    def __init__(self, plugin, pool, context, lifetime):
        self.plugin = plugin
        self.pool = pool
        self.out = queue.SimpleQueue()
        self.calls = {}
        self.lock = threading.Lock()
        self.over = False
        self.line = HostLine(self._send_host)
        self._route = lambda: self.line
        self._untrack = lambda: None
        if context.add_callback(self._terminated):
            # At exit: cancel the calls, end the stream with OK.
            self._untrack = lifetime.track(self._terminated)
        else:
            self.over = True

    # -- the response stream (runs on the gRPC handler thread) ---------------

    def run(self, requests):
        if self.over:
            return
        # From now on calls made outside a method may use this Channel.
        self.plugin.registry.attach(self.line)
        # The hello: the first frame says this plugin speaks flow control.
        yield _wire.encode_frame_credit(0, STREAM_WINDOW_BYTES)
        threading.Thread(target=self._read, args=(requests,), name="plughost-channel", daemon=True).start()
        get = self.out.get
        while True:
            frame = get()
            if frame is None:
                return
            yield frame

    # -- incoming frames (reader thread) ---------------------------------------

    def _read(self, requests):
        plugin = self.plugin
        try:
            for raw in requests:
                try:
                    frame_id, kind, a, b = _wire.decode_frame(raw)
                except _wire.DecodeError as exc:
                    plugin.log("warn", "ignoring a malformed Channel frame", error=str(exc))
                    continue
                if kind == _wire.FRAME_CALL:
                    call = self._open(frame_id, a, False)
                    if call is None:
                        continue
                    if a in plugin.unary:
                        self.pool.submit(self._run_call, call, b)
                    else:
                        self._finish(call, _wire.encode_frame_result(frame_id, error=plugin.unknown(a, "UNARY")))
                elif kind == _wire.FRAME_DATA:
                    call = self.calls.get(frame_id)
                    if call is not None and call.inbox is not None:
                        call.inbox.put(a)
                elif kind == _wire.FRAME_BATCH:
                    call = self._open(frame_id, a, False)
                    if call is not None:
                        self.pool.submit(self._run_batch, call, b)
                elif kind == _wire.FRAME_OPEN:
                    call = self._open(frame_id, a, True, b or 0)
                    if call is None:
                        continue
                    if a in plugin.streams:
                        threading.Thread(
                            target=self._run_stream, args=(call,), name="plughost-stream-%d" % frame_id, daemon=True
                        ).start()
                    else:
                        self._finish(call, _wire.encode_frame_end(frame_id, plugin.unknown(a, "STREAM")))
                elif kind == _wire.FRAME_END:
                    call = self.calls.get(frame_id)
                    if call is not None and call.inbox is not None:
                        call.inbox.put(_EOF)
                elif kind == _wire.FRAME_CANCEL:
                    self._cancel(frame_id)
                elif kind == _wire.FRAME_CREDIT:
                    call = self.calls.get(frame_id)
                    if call is not None and call.credit is not None:
                        call.credit.grant(a)
                elif kind == _wire.FRAME_HOST_RESULT:
                    # An id of the plugin's host calls, not of self.calls.
                    self.line.answer(frame_id, a, b)
                # Anything else (result frames, no kind) is not for us: ignored.
        except Exception:  # noqa: B902 - grpc.RpcError: the RPC ended
            pass
        finally:
            # The host ended its side (or the RPC is gone): every call on the
            # channel is over (docs/protocol.md), as in the TypeScript SDK.
            self._terminated()

    def _open(self, frame_id, method, stream, window=0):
        with self.lock:
            if self.over or frame_id in self.calls:
                return None  # a duplicate id breaks the protocol: ignore it
            call = self.calls[frame_id] = _Call(frame_id, method, stream, window, self._route)
            if call.credit is not None and method in self.plugin.streams:
                # The host spoke flow control: tell it how much it may send.
                self.out.put(_wire.encode_frame_credit(frame_id, STREAM_WINDOW_BYTES))
            return call

    def _cancel(self, frame_id):
        with self.lock:
            call = self.calls.pop(frame_id, None)
        if call is None:
            return
        call.over()

    def _terminated(self):
        """The channel is over: the host ended or cancelled it, or the plugin is exiting.
        Cancels the calls still open and ends the response stream."""
        with self.lock:
            if self.over:
                return
            self.over = True
            calls = list(self.calls.values())
            self.calls.clear()
        self._untrack()
        # Host calls first: a method waiting on one learns that the Channel
        # ended (PLUGHOST_HOST_CALLS_UNAVAILABLE), not only that it was cancelled.
        self.plugin.registry.detach(self.line)
        self.line.close("the Channel has ended")
        for call in calls:
            call.over()
        self.out.put(None)

    # -- outgoing frames (any thread) ------------------------------------------

    def _send(self, call, frame):
        """Queues a frame that does not end the call; False if the call is gone."""
        with self.lock:
            if self.calls.get(call.id) is not call:
                return False
            self.out.put(frame)
            return True

    def _send_host(self, frame):
        """Queues a frame of a host call; False once the Channel is over."""
        with self.lock:
            if self.over:
                return False
            self.out.put(frame)
            return True

    def _finish(self, call, frame):
        """Queues the call's last frame and closes it."""
        with self.lock:
            if self.calls.get(call.id) is not call:
                return
            del self.calls[call.id]
            self.out.put(frame)
        if call.credit is not None:
            call.credit.close()

    # -- running calls ---------------------------------------------------------

    def _run_call(self, call, payload):
        plugin = self.plugin
        out, error = plugin.run_unary(call.ctx, payload)
        if error is None:
            frame = _wire.encode_frame_result(call.id, out)
            if len(frame) > plugin.max_message_bytes:
                frame = _wire.encode_frame_result(call.id, error=plugin.too_large("the result", len(out)))
        else:
            frame = _wire.encode_frame_result(call.id, error=error)
        self._finish(call, frame)

    def _run_batch(self, call, payloads):
        plugin = self.plugin
        results = plugin.run_batch(call.ctx, payloads)
        # Frame framing around the results: id (<= 6 bytes), tag, length (<= 5 bytes).
        results = plugin.fit_batch(results, 12)
        self._finish(call, _wire.encode_frame_batch_result(call.id, results))

    def _run_stream(self, call):
        plugin = self.plugin
        ctx = call.ctx
        outputs = None
        try:
            grant = None
            if call.credit is not None:
                frame_id = call.id

                def grant(n):
                    self._send(call, _wire.encode_frame_credit(frame_id, n))

            outputs = iter(plugin.streams[ctx.method](_messages(call.inbox, grant), ctx))
            for out in outputs:
                if ctx.cancelled.is_set():
                    return
                data = as_bytes(out)
                frame = _wire.encode_frame_data(call.id, data)
                if len(frame) > plugin.max_message_bytes:
                    error = plugin.too_large("a stream message", len(data))
                    self._finish(call, _wire.encode_frame_end(call.id, error))
                    return
                if call.credit is not None and not call.credit.take(len(data)):
                    return
                if not self._send(call, frame):
                    return
            self._finish(call, _wire.encode_frame_end(call.id))
        except BaseException as exc:  # noqa: B902 - the stream's error
            self._finish(call, _wire.encode_frame_end(call.id, plugin.failed(ctx, exc)))
        finally:
            close = getattr(outputs, "close", None)
            if close is not None:
                try:
                    close()
                except BaseException:  # noqa: B902
                    pass
