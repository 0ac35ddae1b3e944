"""The gRPC services every plugin serves (docs/protocol.md §2 and §3), the
same whether a host started it or it serves remote hosts.

gRPC is wired with generic handlers and no serializers, so the handlers see
raw bytes and _wire.py does the protobuf.
"""

import threading

from . import _wire
from ._channel import Channel
from ._plugin import Context

HEALTH_SERVICES = ("plugin", "")
SERVING = 1
NOT_SERVING = 2
SERVICE_UNKNOWN = 3

# Server mode: a remote client must not stop a server other hosts share.
SHUTDOWN_REFUSED = (
    "this plugin serves remote hosts (PLUGHOST_LISTEN) and takes Shutdown from no client; stop it with SIGTERM"
)


def handlers(grpc, plugin, pool, lifetime, allow_shutdown):
    """The generic handlers for grpc.server(). allow_shutdown False (server
    mode): GRPCController/Shutdown answers PERMISSION_DENIED."""
    unary = grpc.unary_unary_rpc_method_handler
    unary_stream = grpc.unary_stream_rpc_method_handler

    def rpc_ctx(method, context):
        # No Channel: ctx.host.call() fails with PLUGHOST_HOST_CALLS_UNAVAILABLE.
        ctx = Context(method)
        context.add_callback(ctx.cancelled.set)
        return ctx

    # -- plughost.v1.Plugin --------------------------------------------------

    def describe(request, context):
        plugin.registry.described(_wire.decode_host_services(request))
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
        if not allow_shutdown:
            # Server mode: many hosts share this server, none may reconfigure it for the others.
            context.abort(grpc.StatusCode.PERMISSION_DENIED, "this plugin serves remote hosts (PLUGHOST_LISTEN): its configuration is its own")
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

    def status():
        # NOT_SERVING once stopping: a remote host's balancer moves away.
        return NOT_SERVING if lifetime.exiting else SERVING

    def health_check(request, context):
        service = _wire.decode_health_check_request(request)
        if service not in HEALTH_SERVICES:
            context.abort(grpc.StatusCode.NOT_FOUND, "unknown service %r" % service)
        return _wire.encode_health_check_response(status())

    def health_watch(request, context):
        service = _wire.decode_health_check_request(request)
        known = service in HEALTH_SERVICES
        yield _wire.encode_health_check_response(status() if known else SERVICE_UNKNOWN)
        if _wait_until_done(context, lifetime) and known:
            yield _wire.encode_health_check_response(NOT_SERVING)

    # -- plugin.GRPCController / plugin.GRPCStdio ------------------------------

    def shutdown(request, context):
        if not allow_shutdown:
            context.abort(grpc.StatusCode.PERMISSION_DENIED, SHUTDOWN_REFUSED)
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
    """Blocks until the RPC ends or the plugin exits (then the RPC ends with
    OK); True if it was the plugin exiting."""
    done = threading.Event()
    if not context.add_callback(done.set):
        return False
    untrack = lifetime.track(done.set)
    done.wait()
    untrack()
    return lifetime.exiting and context.is_active()
