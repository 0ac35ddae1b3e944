"""Runs plughost_plugin._wire on cases given as JSON on stdin; prints the
results as JSON. test/dynamic/python-sdk.test.ts (and, for host calls,
test/dynamic/python-server-mode.test.ts) feeds it messages encoded by
protobufjs (the host's codec) and checks what comes back against protobufjs.

stdin:  {"decode": [{"type": "Frame", "hex": "..."}, ...],
         "encode": [{"fn": "encode_frame_result", "args": [...]}, ...]}
        (a bytes argument is {"hex": "..."}; an (code, message) error is a list)
stdout: {"decoded": [...], "encoded": ["hex", ...]}
"""

import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from plughost_plugin import _wire  # noqa: E402

DECODERS = {
    "Frame": _wire.decode_frame,
    "CallRequest": _wire.decode_call_request,
    "BatchRequest": _wire.decode_batch_request,
    "DescribeRequest": _wire.decode_describe_request,
    # The same message, its host_services (decode_describe_request returns the version only).
    "DescribeRequestHostServices": _wire.decode_host_services,
    "Result": _wire.decode_result,
    "ConfigureRequest": _wire.decode_configure_request,
    "HealthCheckRequest": _wire.decode_health_check_request,
}


def to_json(value):
    if isinstance(value, (bytes, bytearray, memoryview)):
        return {"hex": bytes(value).hex()}
    if isinstance(value, (list, tuple)):
        return [to_json(v) for v in value]
    return value


def from_json(value):
    if isinstance(value, dict) and set(value) == {"hex"}:
        return bytes.fromhex(value["hex"])
    if isinstance(value, list):
        return [from_json(v) for v in value]
    return value


def main():
    cases = json.load(sys.stdin)
    decoded = []
    for case in cases.get("decode", []):
        try:
            decoded.append(to_json(DECODERS[case["type"]](bytes.fromhex(case["hex"]))))
        except _wire.DecodeError as exc:
            decoded.append({"error": str(exc)})
    encoded = []
    for case in cases.get("encode", []):
        args = from_json(case["args"])
        if case["fn"] in ("encode_result", "encode_frame_result", "encode_frame_end", "encode_configure_response"):
            # The trailing error argument is a (code, message) pair or null.
            if args and isinstance(args[-1], list):
                args[-1] = tuple(args[-1])
        if case["fn"] == "encode_describe_response":
            args[2] = [tuple(m) for m in args[2]]
        encoded.append(getattr(_wire, case["fn"])(*args).hex())
    json.dump({"decoded": decoded, "encoded": encoded}, sys.stdout)


if __name__ == "__main__":
    main()
