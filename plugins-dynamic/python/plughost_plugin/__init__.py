"""plughost_plugin: write a plughost dynamic plugin in Python.

    from plughost_plugin import serve, PluginError

    def shout(payload, ctx):
        return payload.upper()

    serve(name="example", version="1.0.0", methods={"shout": shout})

The plugin runs as a subprocess of the host and serves gRPC on a Unix socket
with hashicorp/go-plugin's handshake (docs/protocol.md), or, with
PLUGHOST_LISTEN=host:port, serves remote hosts on TCP (server mode). Needs
only the ``grpc`` package (Debian: python3-grpcio), and ``cryptography``
(python3-cryptography) for TLS; ``import plughost_plugin`` itself is cheap:
grpc is imported by serve() after the host checks pass.

A method calls the host's services with ``ctx.host.call(service, payload)``;
code outside a method uses ``plughost_plugin.host`` (the newest open Channel).
"""

from ._host import REGISTRY as _REGISTRY
from ._host import HostServices
from ._plugin import Context, PluginError, serve

# The host's services for calls made outside a method (a background thread):
# they go over the most recently opened Channel that is still open.
host = _REGISTRY.plugin

__all__ = ["serve", "PluginError", "Context", "HostServices", "host"]
__version__ = "0.1.0"
