"""plughost_plugin: write a plughost dynamic plugin in Python.

    from plughost_plugin import serve, PluginError

    def shout(payload, ctx):
        return payload.upper()

    serve(name="example", version="1.0.0", methods={"shout": shout})

The plugin runs as a subprocess of the host and serves gRPC on a Unix socket
with hashicorp/go-plugin's handshake (docs/protocol.md). Needs only the
``grpc`` package (Debian: python3-grpcio); ``import plughost_plugin`` itself
is cheap: grpc is imported by serve() after the host checks pass.
"""

from ._plugin import Context, PluginError, serve

__all__ = ["serve", "PluginError", "Context"]
__version__ = "0.1.0"
