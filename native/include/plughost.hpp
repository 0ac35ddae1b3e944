// plughost.hpp — declare a plughost native plugin in C++ with node-addon-api.
//
//   Napi::Value Count(const Napi::CallbackInfo& info) { ... }
//   static const plughost_method methods[] = {
//     PLUGHOST_METHOD("count", Count),
//   };
//   PLUGHOST_PLUGIN("textstats", "1.0.0", methods, nullptr)
//
// Every method goes through plughost::guard, so no C++ exception ever
// unwinds into Node: a Napi::Error is rethrown as itself, anything else
// becomes a JS Error with code PLUGHOST_PLUGIN_EXCEPTION.
#ifndef PLUGHOST_HPP
#define PLUGHOST_HPP

#ifndef NAPI_CPP_EXCEPTIONS
#error "plughost.hpp needs C++ exceptions: build with -fexceptions and NAPI_CPP_EXCEPTIONS (see plugins-native/textstats)"
#endif

#include <napi.h>

#include <exception>

#include "plughost.h"

namespace plughost {

using Method = Napi::Value (*)(const Napi::CallbackInfo&);

inline constexpr const char* kPluginExceptionCode = "PLUGHOST_PLUGIN_EXCEPTION";

inline void ThrowWithCode(Napi::Env env, const char* code, const char* message) {
  Napi::Error error = Napi::Error::New(env, message);
  error.Set("code", Napi::String::New(env, code));
  error.ThrowAsJavaScriptException();
}

// Runs `body` and converts whatever it throws into a pending JS exception.
template <typename Body>
napi_value Guard(napi_env env, Body&& body) noexcept {
  try {
    return body();
  } catch (const Napi::Error& e) {
    e.ThrowAsJavaScriptException();
  } catch (const std::exception& e) {
    try {
      ThrowWithCode(Napi::Env(env), kPluginExceptionCode, e.what());
    } catch (...) {
      // Creating the error failed (e.g. an exception is already pending); the
      // pending one is reported instead.
    }
  } catch (...) {
    try {
      ThrowWithCode(Napi::Env(env), kPluginExceptionCode, "plugin threw a non-standard C++ exception");
    } catch (...) {
    }
  }
  return nullptr;
}

// A plain napi_callback for method M, so C and C++ plugins share one registration path.
template <Method M>
napi_value Callback(napi_env env, napi_callback_info cbinfo) noexcept {
  return Guard(env, [&]() -> napi_value {
    Napi::CallbackInfo info(env, cbinfo);
    return M(info);
  });
}

using Init = void (*)(Napi::Env env, Napi::Object exports);

// Adapts a C++ init hook to plughost_init_fn; a throw fails the load.
template <Init I>
napi_value InitCallback(napi_env env, napi_value exports) noexcept {
  return Guard(env, [&]() -> napi_value {
    I(Napi::Env(env), Napi::Object(env, exports));
    return exports;
  });
}

}  // namespace plughost

#define PLUGHOST_METHOD(NAME, FN) \
  plughost_method { NAME, &::plughost::Callback<FN> }

#define PLUGHOST_INIT(FN) (&::plughost::InitCallback<FN>)

#endif  // PLUGHOST_HPP
