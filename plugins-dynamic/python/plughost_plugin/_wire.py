"""The protobuf wire format of the few messages the SDK exchanges.

Hand-written on purpose: these are a dozen small proto3 messages made of
varints, strings, bytes and sub-messages, so a codec is short, needs no
generated code or protoc, does not import google.protobuf (faster start-up,
no gencode/runtime version coupling), and hands payloads over as plain
``bytes``. Field numbers follow proto/plughost/v1/plugin.proto,
proto/plugin/*.proto and proto/grpc/health/v1/health.proto. tests/test_wire.py
checks edge cases on its own; test/dynamic/python-sdk.test.ts and
test/dynamic/python-server-mode.test.ts check this module against protobufjs
(the host's codec) through tests/wire_cases.py.

Decoding follows protobuf's rules: unknown fields are skipped, the last
occurrence of a singular field wins, a oneof keeps the last member seen.
Encoding omits proto3 defaults, except that a oneof member or a sub-message
that is set is always written (that is how the receiver sees it is set).
"""

__all__ = [
    "DecodeError",
    "decode_frame",
    "decode_call_request",
    "decode_batch_request",
    "decode_describe_request",
    "decode_host_services",
    "decode_configure_request",
    "decode_health_check_request",
    "decode_result",
    "encode_frame_result",
    "encode_frame_batch_result",
    "encode_frame_data",
    "encode_frame_end",
    "encode_frame_credit",
    "encode_frame_host_call",
    "encode_frame_host_cancel",
    "encode_result",
    "encode_batch_response",
    "encode_describe_response",
    "encode_configure_response",
    "encode_health_check_response",
    "FRAME_CALL",
    "FRAME_BATCH",
    "FRAME_OPEN",
    "FRAME_DATA",
    "FRAME_END",
    "FRAME_CANCEL",
    "FRAME_CREDIT",
    "FRAME_HOST_RESULT",
]


class DecodeError(ValueError):
    """The bytes are not a valid encoding of the expected message."""


# Wire types.
_VARINT, _I64, _LEN, _I32 = 0, 1, 2, 5

# Frame oneof members (field numbers in plughost.v1.Frame).
FRAME_CALL = 2
FRAME_RESULT = 3
FRAME_BATCH = 4
FRAME_BATCH_RESULT = 5
FRAME_OPEN = 6
FRAME_DATA = 7
FRAME_END = 8
FRAME_CANCEL = 9
FRAME_CREDIT = 10
# Host calls (docs/protocol.md, "Host calls"): the plugin calls the host.
FRAME_HOST_CALL = 11
FRAME_HOST_RESULT = 12
FRAME_HOST_CANCEL = 13

# ---------------------------------------------------------------------------
# Primitives

_SMALL = [bytes((i,)) for i in range(128)]


def _varint(n):
    """The varint encoding of a non-negative int below 2**64."""
    if n < 128:
        return _SMALL[n]
    out = bytearray()
    while n >= 128:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def _read_varint(buf, pos, end):
    if pos >= end:
        raise DecodeError("truncated varint")
    b = buf[pos]
    if b < 128:
        return b, pos + 1
    value = b & 0x7F
    shift = 7
    pos += 1
    while True:
        if pos >= end:
            raise DecodeError("truncated varint")
        b = buf[pos]
        pos += 1
        value |= (b & 0x7F) << shift
        if b < 128:
            return value & 0xFFFFFFFFFFFFFFFF, pos
        shift += 7
        if shift >= 70:
            raise DecodeError("varint longer than 10 bytes")


def _fields(buf):
    """Yields (field_number, wire_type, value) for each field in buf.

    value is an int for VARINT, a bytes slice for LEN, None for fixed-width
    fields (no message here uses them; they are skipped).
    """
    pos = 0
    end = len(buf)
    while pos < end:
        key = buf[pos]
        if key < 128:
            pos += 1
        else:
            key, pos = _read_varint(buf, pos, end)
        field = key >> 3
        wt = key & 7
        if field == 0:
            raise DecodeError("field number 0")
        if wt == _LEN:
            n = buf[pos] if pos < end else 128
            if n < 128:
                pos += 1
            else:
                n, pos = _read_varint(buf, pos, end)
            stop = pos + n
            if stop > end:
                raise DecodeError("truncated length-delimited field")
            yield field, wt, buf[pos:stop]
            pos = stop
        elif wt == _VARINT:
            value, pos = _read_varint(buf, pos, end)
            yield field, wt, value
        elif wt == _I64:
            pos += 8
            if pos > end:
                raise DecodeError("truncated fixed64")
        elif wt == _I32:
            pos += 4
            if pos > end:
                raise DecodeError("truncated fixed32")
        else:
            # Groups (3, 4) are proto2-only and unused here; 6 and 7 are invalid.
            raise DecodeError("unsupported wire type %d" % wt)


def _str(raw):
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise DecodeError("string field is not valid UTF-8") from None


def _len_field(tag, payload):
    """A length-delimited field: tag byte(s), length, payload."""
    return tag + _varint(len(payload)) + payload


# Field tags (field_number << 3 | wire_type) as bytes.
_T1_VARINT = b"\x08"
_T1_LEN = b"\x0a"
_T2_VARINT = b"\x10"
_T2_LEN = b"\x12"
_T3_LEN = b"\x1a"
_T3_VARINT = b"\x18"
_T4_LEN = b"\x22"
_T5_LEN = b"\x2a"
_T5_VARINT = b"\x28"
_T7_LEN = b"\x3a"
_T8_LEN = b"\x42"
_T10_LEN = b"\x52"
_T11_LEN = b"\x5a"
_T13_LEN = b"\x6a"

# ---------------------------------------------------------------------------
# Decoding (messages the host sends)


def decode_frame(buf):
    """plughost.v1.Frame -> (id, kind, a, b).

    kind is the field number of the oneof member (FRAME_*), or 0 if none:
      FRAME_CALL:   a = method (str), b = payload (bytes)
      FRAME_BATCH:  a = method (str), b = payloads (list of bytes)
      FRAME_OPEN:   a = method (str), b = window (int: the bytes the host
                    grants before any credit frame; None if absent or 0 =
                    no flow control)
      FRAME_DATA:   a = message (bytes)
      FRAME_CREDIT: a = bytes granted (int)
      FRAME_END, FRAME_CANCEL: no values (the host's end carries no error;
                    a cancel's reason is informational)
      FRAME_HOST_RESULT: a = payload (bytes), b = error: (code, message) if
                    the Result has its error set (even an empty one), else None
    Members the host never sends (result, batch_result, host_call,
    host_cancel) decode as kind 0.
    """
    frame_id = 0
    kind = 0
    member = None
    for field, wt, value in _fields(buf):
        if field == 1 and wt == _VARINT:
            frame_id = value & 0xFFFFFFFF
        elif wt == _LEN and 2 <= field <= 13:
            # Every member counts here, also those we ignore: the last one wins.
            kind = field
            member = value
    if kind == FRAME_CALL:
        method, payload = decode_call_request(member)
        return frame_id, kind, method, payload
    if kind == FRAME_BATCH:
        method, payloads = decode_batch_request(member)
        return frame_id, kind, method, payloads
    if kind == FRAME_OPEN:
        method, window = _decode_stream_open(member)
        return frame_id, kind, method, window or None
    if kind == FRAME_CREDIT:
        granted = 0
        for field, wt, value in _fields(member):
            if field == 1 and wt == _VARINT:
                granted = value & 0xFFFFFFFF
        return frame_id, kind, granted, None
    if kind == FRAME_DATA:
        return frame_id, kind, member, None
    if kind in (FRAME_END, FRAME_CANCEL):
        for _ in _fields(member):  # validate only
            pass
        return frame_id, kind, None, None
    if kind == FRAME_HOST_RESULT:
        payload, error = decode_result(member)
        return frame_id, kind, payload, error
    return frame_id, 0, None, None


def decode_result(buf):
    """plughost.v1.Result -> (payload, error); error is (code, message) or None."""
    payload = b""
    error = None
    for field, wt, value in _fields(buf):
        if wt == _LEN:
            if field == 1:
                payload = value
            elif field == 2:
                error = _decode_error(value)
    return payload, error


def _decode_error(buf):
    """plughost.v1.Error -> (code, message)."""
    code = ""
    message = ""
    for field, wt, value in _fields(buf):
        if wt == _LEN:
            if field == 1:
                code = _str(value)
            elif field == 2:
                message = _str(value)
    return code, message


def decode_call_request(buf):
    """plughost.v1.CallRequest -> (method, payload)."""
    method = ""
    payload = b""
    for field, wt, value in _fields(buf):
        if wt == _LEN:
            if field == 1:
                method = _str(value)
            elif field == 2:
                payload = value
    return method, payload


def decode_batch_request(buf):
    """plughost.v1.BatchRequest -> (method, [payload, ...])."""
    method = ""
    payloads = []
    for field, wt, value in _fields(buf):
        if wt == _LEN:
            if field == 1:
                method = _str(value)
            elif field == 2:
                payloads.append(value)
    return method, payloads


def _decode_stream_open(buf):
    """plughost.v1.StreamOpen -> (method, window)."""
    method = ""
    window = 0
    for field, wt, value in _fields(buf):
        if field == 1 and wt == _LEN:
            method = _str(value)
        elif field == 2 and wt == _VARINT:
            window = value & 0xFFFFFFFF
    return method, window


def _decode_string_field1(buf):
    result = ""
    for field, wt, value in _fields(buf):
        if field == 1 and wt == _LEN:
            result = _str(value)
    return result


def decode_describe_request(buf):
    """plughost.v1.DescribeRequest -> protocol_version."""
    version = 0
    for field, wt, value in _fields(buf):
        if field == 1 and wt == _VARINT:
            version = value & 0xFFFFFFFF
    return version


def decode_host_services(buf):
    """plughost.v1.DescribeRequest -> host_services (list of str, in order).

    Separate from decode_describe_request (which keeps returning the version
    alone) so that older callers of that function see no change.
    """
    services = []
    for field, wt, value in _fields(buf):
        if field == 2 and wt == _LEN:
            services.append(_str(value))
    return services


def decode_configure_request(buf):
    """plughost.v1.ConfigureRequest -> config (bytes)."""
    config = b""
    for field, wt, value in _fields(buf):
        if field == 1 and wt == _LEN:
            config = value
    return config


def decode_health_check_request(buf):
    """grpc.health.v1.HealthCheckRequest -> service (str)."""
    return _decode_string_field1(buf)


# ---------------------------------------------------------------------------
# Encoding (messages the plugin sends)


def _encode_error(code, message):
    out = b""
    if code:
        out += _len_field(_T1_LEN, code.encode("utf-8"))
    if message:
        out += _len_field(_T2_LEN, message.encode("utf-8"))
    return out


def encode_result(payload=b"", error=None):
    """plughost.v1.Result. error is None or (code, message)."""
    if error is not None:
        return _len_field(_T2_LEN, _encode_error(*error))
    if payload:
        return _len_field(_T1_LEN, payload)
    return b""


def encode_batch_response(results):
    """plughost.v1.BatchResponse from already-encoded Result messages."""
    return b"".join([_len_field(_T1_LEN, r) for r in results])


def _frame_head(frame_id):
    return _T1_VARINT + _varint(frame_id) if frame_id else b""


def encode_frame_result(frame_id, payload=b"", error=None):
    """A Frame carrying a Result (payload, or error = (code, message))."""
    if error is None and payload:
        # Written in one join so a large payload is copied once.
        n = len(payload)
        inner_head = _T1_LEN + _varint(n)
        return b"".join((_frame_head(frame_id), _T3_LEN, _varint(len(inner_head) + n), inner_head, payload))
    return _frame_head(frame_id) + _len_field(_T3_LEN, encode_result(payload, error))


def encode_frame_batch_result(frame_id, results):
    """A Frame carrying a BatchResponse from already-encoded Result messages."""
    return _frame_head(frame_id) + _len_field(_T5_LEN, encode_batch_response(results))


def encode_frame_data(frame_id, data):
    """A Frame carrying one message of a stream (written even when empty)."""
    return b"".join((_frame_head(frame_id), _T7_LEN, _varint(len(data)), data))


def encode_frame_end(frame_id, error=None):
    """A Frame ending the plugin's side of a stream; error = (code, message) if it failed."""
    inner = b"" if error is None else _len_field(_T1_LEN, _encode_error(*error))
    return _frame_head(frame_id) + _len_field(_T8_LEN, inner)


def encode_frame_credit(frame_id, granted):
    """A Frame granting the host `granted` more bytes of a stream's data (flow control)."""
    inner = _T1_VARINT + _varint(granted) if granted else b""
    return _frame_head(frame_id) + _len_field(_T10_LEN, inner)


def encode_frame_host_call(frame_id, service, payload, timeout_ms):
    """A Frame calling host service `service` (HostCall; timeout_ms 0: the host's default)."""
    head = _len_field(_T1_LEN, service.encode("utf-8")) if service else b""
    tail = _T3_VARINT + _varint(timeout_ms) if timeout_ms else b""
    if payload:
        # Written in one join so a large payload is copied once.
        payload_head = _T2_LEN + _varint(len(payload))
        n = len(head) + len(payload_head) + len(payload) + len(tail)
        return b"".join((_frame_head(frame_id), _T11_LEN, _varint(n), head, payload_head, payload, tail))
    return _frame_head(frame_id) + _len_field(_T11_LEN, head + tail)


def encode_frame_host_cancel(frame_id, reason=""):
    """A Frame giving up on the plugin's host call `frame_id` (Cancel{reason})."""
    inner = _len_field(_T1_LEN, reason.encode("utf-8")) if reason else b""
    return _frame_head(frame_id) + _len_field(_T13_LEN, inner)


def encode_describe_response(name, version, methods, capabilities, protocol_version):
    """plughost.v1.DescribeResponse.

    methods: [(name, kind)] or [(name, kind, idempotent)]; kind 0 UNARY / 1
    STREAM, idempotent a bool (MethodInfo.idempotent; left out when false).
    """
    parts = []
    if name:
        parts.append(_len_field(_T1_LEN, name.encode("utf-8")))
    if version:
        parts.append(_len_field(_T2_LEN, version.encode("utf-8")))
    for method in methods:
        method_name, kind = method[0], method[1]
        idempotent = len(method) > 2 and method[2]
        info = _len_field(_T1_LEN, method_name.encode("utf-8")) if method_name else b""
        if kind:
            info += _T2_VARINT + _varint(kind)
        if idempotent:
            info += _T3_VARINT + b"\x01"
        parts.append(_len_field(_T3_LEN, info))
    for capability in capabilities:
        parts.append(_len_field(_T4_LEN, capability.encode("utf-8")))
    if protocol_version:
        parts.append(_T5_VARINT + _varint(protocol_version))
    return b"".join(parts)


def encode_configure_response(error=None):
    """plughost.v1.ConfigureResponse; error = (code, message) if the config was rejected."""
    return b"" if error is None else _len_field(_T1_LEN, _encode_error(*error))


def encode_health_check_response(status):
    """grpc.health.v1.HealthCheckResponse (1 SERVING, 2 NOT_SERVING, 3 SERVICE_UNKNOWN)."""
    return _T1_VARINT + _varint(status) if status else b""
