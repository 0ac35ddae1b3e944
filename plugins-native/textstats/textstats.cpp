// textstats: byte, line and word counts and the most frequent words of a
// UTF-8 text. The example plughost C++ (node-addon-api) plugin.
//
//   stats(text: Uint8Array, options?: { topK?: number })
//     -> { bytes, lines, words, top: [word, count][] }
//   statsBytes(text: Uint8Array) -> Uint8Array   (canonical JSON, topK 10)
//   fail(message: string) -> never               (test hook, see Fail)
//
// Counting follows `wc` in the C locale: lines are '\n' bytes, words are
// maximal runs of bytes other than ASCII space, \t, \n, \v, \f, \r. For
// `top`, each word is ASCII-lowercased and trimmed of ASCII punctuation;
// ties are broken by the word's bytes (memcmp order).
#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "plughost.hpp"

namespace {

constexpr const char* kInvalidArgument = "PLUGHOST_INVALID_ARGUMENT";
constexpr size_t kDefaultTopK = 10;
constexpr size_t kMaxTopK = 10000;

// plughost::Callback rethrows a Napi::Error as itself, code included.
[[noreturn]] void ThrowInvalid(Napi::Env env, const std::string& message) {
  Napi::Error error = Napi::Error::New(env, message);
  error.Set("code", Napi::String::New(env, kInvalidArgument));
  throw error;
}

bool IsSpace(uint8_t c) { return c == ' ' || (c >= '\t' && c <= '\r'); }

// C-locale ispunct(), without depending on the process locale.
bool IsPunct(uint8_t c) {
  return (c >= 0x21 && c <= 0x2f) || (c >= 0x3a && c <= 0x40) || (c >= 0x5b && c <= 0x60) ||
         (c >= 0x7b && c <= 0x7e);
}

// Length of the well-formed UTF-8 sequence at p (p[0] >= 0x80), or 0 for a
// stray continuation byte, overlong form, surrogate, code point above
// U+10FFFF or truncated sequence.
size_t Utf8SequenceLength(const uint8_t* p, size_t avail) {
  const uint8_t c = p[0];
  size_t len;
  uint8_t lo = 0x80, hi = 0xbf;  // the second byte's range excludes the invalid forms
  if (c >= 0xc2 && c <= 0xdf) {
    len = 2;
  } else if (c >= 0xe0 && c <= 0xef) {
    len = 3;
    if (c == 0xe0) lo = 0xa0;       // overlong
    else if (c == 0xed) hi = 0x9f;  // surrogates
  } else if (c >= 0xf0 && c <= 0xf4) {
    len = 4;
    if (c == 0xf0) lo = 0x90;       // overlong
    else if (c == 0xf4) hi = 0x8f;  // above U+10FFFF
  } else {
    return 0;
  }
  if (avail < len || p[1] < lo || p[1] > hi) return 0;
  for (size_t i = 2; i < len; i++) {
    if ((p[i] & 0xc0) != 0x80) return 0;
  }
  return len;
}

using Entry = std::pair<std::string_view, size_t>;

struct TextStats {
  size_t bytes = 0, lines = 0, words = 0;
  std::unique_ptr<char[]> folded;  // lowercased copy of the input; `top` points into it
  std::vector<Entry> top;
};

// One pass: validates UTF-8, counts, and folds case into a single buffer so
// the word map can key on string_views instead of allocating per word.
TextStats Compute(Napi::Env env, const uint8_t* p, size_t n, size_t top_k) {
  TextStats s;
  s.bytes = n;
  s.folded.reset(new char[n + 1]);
  char* folded = s.folded.get();
  std::unordered_map<std::string_view, size_t> counts;

  size_t start = 0;
  bool in_word = false;
  auto end_word = [&](size_t end) {
    s.words++;
    in_word = false;
    size_t b = start, e = end;
    while (b < e && IsPunct(p[b])) b++;
    while (e > b && IsPunct(p[e - 1])) e--;
    if (b < e) counts[std::string_view(folded + b, e - b)]++;
  };

  for (size_t i = 0; i < n;) {
    const uint8_t c = p[i];
    if (c < 0x80) {
      if (IsSpace(c)) {
        if (c == '\n') s.lines++;
        if (in_word) end_word(i);
      } else {
        if (!in_word) {
          start = i;
          in_word = true;
        }
        folded[i] = static_cast<char>(c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c);
      }
      i++;
    } else {
      const size_t len = Utf8SequenceLength(p + i, n - i);
      if (len == 0) ThrowInvalid(env, "text is not valid UTF-8 (at byte " + std::to_string(i) + ")");
      if (!in_word) {
        start = i;
        in_word = true;
      }
      std::memcpy(folded + i, p + i, len);
      i += len;
    }
  }
  if (in_word) end_word(n);

  s.top.assign(counts.begin(), counts.end());
  const size_t k = std::min(top_k, s.top.size());
  std::partial_sort(s.top.begin(), s.top.begin() + k, s.top.end(), [](const Entry& a, const Entry& b) {
    // string_view compares as unsigned char, i.e. memcmp order.
    return a.second != b.second ? a.second > b.second : a.first < b.first;
  });
  s.top.erase(s.top.begin() + k, s.top.end());
  return s;
}

Napi::Uint8Array TextArg(const Napi::CallbackInfo& info) {
  if (info.Length() < 1 || !info[0].IsTypedArray() ||
      info[0].As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array) {
    ThrowInvalid(info.Env(), "text must be a Uint8Array");
  }
  return info[0].As<Napi::Uint8Array>();
}

size_t TopKArg(const Napi::CallbackInfo& info) {
  if (info.Length() < 2 || info[1].IsUndefined()) return kDefaultTopK;
  if (!info[1].IsObject()) ThrowInvalid(info.Env(), "options must be an object");
  const Napi::Value value = info[1].As<Napi::Object>().Get("topK");
  if (value.IsUndefined()) return kDefaultTopK;
  const double k = value.IsNumber() ? value.As<Napi::Number>().DoubleValue() : -1;
  if (!(k >= 0 && k <= kMaxTopK) || k != std::floor(k)) {
    ThrowInvalid(info.Env(), "options.topK must be an integer from 0 to " + std::to_string(kMaxTopK));
  }
  return static_cast<size_t>(k);
}

Napi::Value Stats(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Uint8Array text = TextArg(info);
  // Read options before taking the data pointer: a topK getter could detach the buffer.
  const size_t top_k = TopKArg(info);
  const TextStats s = Compute(env, text.Data(), text.ByteLength(), top_k);

  Napi::Array top = Napi::Array::New(env, s.top.size());
  for (uint32_t i = 0; i < s.top.size(); i++) {
    Napi::Array pair = Napi::Array::New(env, 2);
    pair.Set(0u, Napi::String::New(env, s.top[i].first.data(), s.top[i].first.size()));
    pair.Set(1u, Napi::Number::New(env, static_cast<double>(s.top[i].second)));
    top.Set(i, pair);
  }
  Napi::Object result = Napi::Object::New(env);
  result.Set("bytes", Napi::Number::New(env, static_cast<double>(s.bytes)));
  result.Set("lines", Napi::Number::New(env, static_cast<double>(s.lines)));
  result.Set("words", Napi::Number::New(env, static_cast<double>(s.words)));
  result.Set("top", top);
  return result;
}

void AppendNumber(std::string& out, size_t value) {
  char buf[24];
  out.append(buf, std::to_chars(buf, buf + sizeof buf, value).ptr);
}

// The escapes JSON.stringify uses, so the output is byte-identical to it.
void AppendJsonString(std::string& out, std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  out += '"';
  for (const char ch : s) {
    switch (ch) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (static_cast<uint8_t>(ch) < 0x20) {
          out += "\\u00";
          out += kHex[static_cast<uint8_t>(ch) >> 4];
          out += kHex[static_cast<uint8_t>(ch) & 0xf];
        } else {
          out += ch;
        }
    }
  }
  out += '"';
}

// The portable bytes-in/bytes-out form, shared with the subprocess plugins:
// {"bytes":N,"lines":N,"words":N,"top":[["word",N],...]} with no whitespace.
Napi::Value StatsBytes(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Uint8Array text = TextArg(info);
  const TextStats s = Compute(env, text.Data(), text.ByteLength(), kDefaultTopK);

  std::string json = "{\"bytes\":";
  AppendNumber(json, s.bytes);
  json += ",\"lines\":";
  AppendNumber(json, s.lines);
  json += ",\"words\":";
  AppendNumber(json, s.words);
  json += ",\"top\":[";
  for (size_t i = 0; i < s.top.size(); i++) {
    if (i) json += ',';
    json += '[';
    AppendJsonString(json, s.top[i].first);
    json += ',';
    AppendNumber(json, s.top[i].second);
    json += ']';
  }
  json += "]}";

  Napi::ArrayBuffer buffer = Napi::ArrayBuffer::New(env, json.size());
  std::memcpy(buffer.Data(), json.data(), json.size());
  return Napi::Uint8Array::New(env, json.size(), buffer, 0);
}

// Test hook, not a feature: throws a plain C++ exception (not a Napi::Error)
// so the tests can prove plughost's guard layer turns it into a JS Error with
// code PLUGHOST_PLUGIN_EXCEPTION instead of letting it unwind into Node.
Napi::Value Fail(const Napi::CallbackInfo& info) {
  if (info.Length() < 1 || !info[0].IsString()) ThrowInvalid(info.Env(), "message must be a string");
  throw std::runtime_error(info[0].As<Napi::String>().Utf8Value());
}

}  // namespace

static const plughost_method methods[] = {
    PLUGHOST_METHOD("stats", Stats),
    PLUGHOST_METHOD("statsBytes", StatsBytes),
    PLUGHOST_METHOD("fail", Fail),
};

PLUGHOST_PLUGIN("textstats", "1.0.0", methods, nullptr)
