#!/usr/bin/python3
"""textstats, the example Python dynamic plugin.

    statsBytes(text) -> canonical JSON, byte for byte what the native
                        plugins-native/textstats statsBytes returns:
                        {"bytes":N,"lines":N,"words":N,"top":[["word",N],...]}
    echo(payload)    -> payload
    upper (STREAM)   -> each message ASCII-uppercased

Counting follows `wc` in the C locale: lines are b"\\n" bytes, words are
maximal runs of bytes other than ASCII space, \\t, \\n, \\v, \\f, \\r (exactly
what bytes.split() splits on). For `top`, each word is ASCII-lowercased and
trimmed of ASCII punctuation; the 10 most frequent, ties broken by the
word's bytes. Text that is not UTF-8 fails with PLUGHOST_INVALID_ARGUMENT.

Run by a plughost host as: /usr/bin/python3 plugins-dynamic/textstats-py/textstats.py
"""

import os
import re
import sys
from collections import Counter
from heapq import nsmallest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "python"))

from plughost_plugin import PluginError, serve  # noqa: E402

TOP_K = 10
# C-locale ispunct(): the printable ASCII bytes that are not letters or digits.
PUNCT = bytes(c for c in range(0x21, 0x7F) if not chr(c).isalnum())
# JSON.stringify's escapes (what the native plugin writes); other bytes, UTF-8
# included, are copied as they are.
_JSON_ESCAPES = {ord('"'): b'\\"', ord("\\"): b"\\\\", 8: b"\\b", 12: b"\\f", 10: b"\\n", 13: b"\\r", 9: b"\\t"}
_NEEDS_ESCAPE = re.compile(rb'["\\\x00-\x1f]')


def _escape_byte(match):
    c = match.group()[0]
    return _JSON_ESCAPES.get(c) or b"\\u%04x" % c


def json_string(word):
    return b'"' + _NEEDS_ESCAPE.sub(_escape_byte, word) + b'"'


def stats_bytes(text, ctx=None):
    try:
        text.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise PluginError("PLUGHOST_INVALID_ARGUMENT", "text is not valid UTF-8 (at byte %d)" % exc.start) from None
    words = text.lower().split()
    counts = Counter(word.strip(PUNCT) for word in words)
    counts.pop(b"", None)
    top = nsmallest(TOP_K, counts.items(), key=lambda item: (-item[1], item[0]))
    return b'{"bytes":%d,"lines":%d,"words":%d,"top":[%s]}' % (
        len(text),
        text.count(b"\n"),
        len(words),
        b",".join(b"[%s,%d]" % (json_string(word), n) for word, n in top),
    )


def stats_bytes_batch(texts, ctx):
    results = []
    for text in texts:
        try:
            results.append(stats_bytes(text))
        except PluginError as exc:
            results.append(exc)  # fails this item only
    return results


def echo(payload, ctx):
    return payload


def upper(messages, ctx):
    for message in messages:
        yield message.upper()


if __name__ == "__main__":
    serve(
        name="textstats-py",
        version="1.0.0",
        methods={"statsBytes": stats_bytes, "echo": echo},
        batch={"statsBytes": stats_bytes_batch},
        streams={"upper": upper},
        app_versions=[1],
    )
