"""PluginError and the error codes the SDK itself uses.

A module of its own so that both the method side (_plugin.py) and host calls
(_host.py) can raise coded errors without importing each other. The codes are
the TypeScript SDK's (src/sdk/plugin-error.ts).
"""

UNKNOWN_METHOD = "PLUGHOST_UNKNOWN_METHOD"
PLUGIN_EXCEPTION = "PLUGHOST_PLUGIN_EXCEPTION"
MESSAGE_TOO_LARGE = "PLUGHOST_MESSAGE_TOO_LARGE"
CANCELLED = "PLUGHOST_CANCELLED"
DEADLINE_EXCEEDED = "PLUGHOST_DEADLINE_EXCEEDED"
HOST_SERVICE_NOT_FOUND = "PLUGHOST_HOST_SERVICE_NOT_FOUND"
HOST_SERVICE_FAILED = "PLUGHOST_HOST_SERVICE_FAILED"
HOST_CALLS_UNAVAILABLE = "PLUGHOST_HOST_CALLS_UNAVAILABLE"


class PluginError(Exception):
    """An error with a stable code.

    Raised by a method to fail with that code (the host reports it as-is):
        raise PluginError("PLUGHOST_INVALID_ARGUMENT", "text is not valid UTF-8")
    and raised by ctx.host.call() when a host call fails (.code says why).
    """

    def __init__(self, code, message=""):
        super().__init__(code, message)
        self.code = code
        self.message = message

    def __str__(self):
        return "%s: %s" % (self.code, self.message)
