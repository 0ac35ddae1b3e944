/*
 * plughost.h — declare a plughost native plugin in C.
 *
 *   static const plughost_method methods[] = {
 *     { "crc32", crc32_method },
 *   };
 *   PLUGHOST_PLUGIN("crc32", "1.0.0", methods, NULL)
 *
 * One macro writes the plugin's descriptor into an ELF note (Mach-O: a
 * __DATA section) so the host can verify the file before any plugin code
 * runs, and registers the methods with Node-API. The byte layout is
 * specified in docs/native-descriptor.md; change both together.
 */
#ifndef PLUGHOST_H
#define PLUGHOST_H

/* Node 20 crashes (instead of refusing) on a plugin that declares Node-API
 * 10 or more, so the version a plugin targets must be chosen, not inherited
 * from whatever headers happen to be installed. */
#ifndef NAPI_VERSION
#error "plughost: define NAPI_VERSION (e.g. -DNAPI_VERSION=8) to pin the Node-API version"
#endif

/* Stamped by the build pipeline; the host refuses a plugin from another build. */
#ifndef PLUGHOST_BUILD_ID
#error "plughost: PLUGHOST_BUILD_ID is not defined; build with plughost's binding.gyp include or CMake helper"
#endif

#include <node_api.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* Version of the plugin API this header implements. A host accepts a plugin
 * whose major equals its own and whose minor is not newer. */
#ifndef PLUGHOST_API_MAJOR
#define PLUGHOST_API_MAJOR 1
#endif
#ifndef PLUGHOST_API_MINOR
#define PLUGHOST_API_MINOR 0
#endif

#define PLUGHOST_DESCRIPTOR_VERSION 1
#define PLUGHOST_NOTE_OWNER "plughost"
#define PLUGHOST_NOTE_TYPE_DESCRIPTOR 0x50480001u
/* The property under which the loaded module re-exports its descriptor, so
 * the host can check that what it loaded is what it verified. */
#define PLUGHOST_EXPORT_KEY "__plughost"

#define PLUGHOST_NAME_MAX 64
#define PLUGHOST_VERSION_MAX 32
#define PLUGHOST_BUILD_ID_MAX 64

typedef struct plughost_descriptor {
  char magic[8]; /* "PLUGHOST", no terminator */
  uint16_t descriptor_version;
  uint16_t api_major;
  uint16_t api_minor;
  uint16_t napi_version;
  uint32_t flags; /* reserved, 0 */
  char name[PLUGHOST_NAME_MAX];         /* NUL-terminated, zero-padded */
  char version[PLUGHOST_VERSION_MAX];   /* NUL-terminated, zero-padded */
  char build_id[PLUGHOST_BUILD_ID_MAX]; /* NUL-terminated, zero-padded */
} plughost_descriptor;

/* An ELF note record: header, owner name padded to 4, then the descriptor. */
typedef struct plughost_note {
  uint32_t namesz;
  uint32_t descsz;
  uint32_t type;
  char owner[12];
  plughost_descriptor desc;
} plughost_note;

typedef struct plughost_method {
  const char* name;
  napi_callback fn;
} plughost_method;

/* Optional per-plugin setup, run after the methods are defined. Return NULL
 * after throwing to fail the load; the host reports it as PLUGHOST_INIT_FAILED. */
typedef napi_value (*plughost_init_fn)(napi_env env, napi_value exports);

#ifdef __cplusplus
#define PLUGHOST_STATIC_ASSERT(cond, msg) static_assert(cond, msg)
#define PLUGHOST_EXTERN_C extern "C"
#else
#define PLUGHOST_STATIC_ASSERT(cond, msg) _Static_assert(cond, msg)
#define PLUGHOST_EXTERN_C
#endif

PLUGHOST_STATIC_ASSERT(sizeof(plughost_descriptor) == 180, "descriptor layout changed: update docs/native-descriptor.md");
PLUGHOST_STATIC_ASSERT(offsetof(plughost_note, desc) == 24, "note layout changed");

#if defined(__APPLE__)
#define PLUGHOST_NOTE_SECTION __attribute__((section("__DATA,__plughost"), used, aligned(4)))
#else
/* GCC and Clang leave the type of ".note.*" sections to the assembler, which
 * makes them SHT_NOTE; the linker then maps them into a PT_NOTE segment. */
#define PLUGHOST_NOTE_SECTION __attribute__((section(".note.plughost"), used, aligned(4)))
#endif

#define PLUGHOST_DESCRIPTOR(NAME, VERSION)                                                   \
  PLUGHOST_STATIC_ASSERT(sizeof(NAME) <= PLUGHOST_NAME_MAX, "plugin name too long");         \
  PLUGHOST_STATIC_ASSERT(sizeof(VERSION) <= PLUGHOST_VERSION_MAX, "plugin version too long"); \
  PLUGHOST_STATIC_ASSERT(sizeof(PLUGHOST_BUILD_ID) <= PLUGHOST_BUILD_ID_MAX, "build ID too long"); \
  PLUGHOST_NOTE_SECTION const plughost_note plughost_note_descriptor = {                     \
      sizeof(PLUGHOST_NOTE_OWNER),                                                           \
      sizeof(plughost_descriptor),                                                           \
      PLUGHOST_NOTE_TYPE_DESCRIPTOR,                                                         \
      PLUGHOST_NOTE_OWNER,                                                                   \
      {{'P', 'L', 'U', 'G', 'H', 'O', 'S', 'T'},                                             \
       PLUGHOST_DESCRIPTOR_VERSION,                                                          \
       PLUGHOST_API_MAJOR,                                                                   \
       PLUGHOST_API_MINOR,                                                                   \
       PLUGHOST_DESCRIPTOR_NAPI_VERSION,                                                     \
       0,                                                                                    \
       NAME,                                                                                 \
       VERSION,                                                                              \
       PLUGHOST_BUILD_ID}};

/* What the descriptor declares may differ from NAPI_VERSION only in test
 * fixtures that must lie about it. */
#ifndef PLUGHOST_DESCRIPTOR_NAPI_VERSION
#define PLUGHOST_DESCRIPTOR_NAPI_VERSION NAPI_VERSION
#endif

static inline napi_value plughost_register(napi_env env, napi_value exports, const plughost_descriptor* desc,
                                           const plughost_method* methods, size_t count, plughost_init_fn init) {
  napi_value descriptor_bytes;
  void* copy;
  if (napi_create_buffer_copy(env, sizeof(*desc), desc, &copy, &descriptor_bytes) != napi_ok) return NULL;
  /* Not enumerable: the descriptor is metadata, not a method. */
  napi_property_descriptor meta = {PLUGHOST_EXPORT_KEY, NULL, NULL, NULL, NULL, descriptor_bytes, napi_default, NULL};
  if (napi_define_properties(env, exports, 1, &meta) != napi_ok) return NULL;
  for (size_t i = 0; i < count; i++) {
    napi_value fn;
    if (napi_create_function(env, methods[i].name, NAPI_AUTO_LENGTH, methods[i].fn, NULL, &fn) != napi_ok) return NULL;
    napi_property_descriptor prop = {methods[i].name, NULL, NULL, NULL, NULL, fn, napi_enumerable, NULL};
    if (napi_define_properties(env, exports, 1, &prop) != napi_ok) return NULL;
  }
  return init ? init(env, exports) : exports;
}

/* Throw a JS Error carrying a stable `code`, for methods written in C. */
static inline napi_value plughost_throw(napi_env env, const char* code, const char* message) {
  napi_throw_error(env, code, message);
  return NULL;
}

#define PLUGHOST_PLUGIN(NAME, VERSION, METHODS, INIT)                                         \
  PLUGHOST_DESCRIPTOR(NAME, VERSION)                                                          \
  NAPI_MODULE_INIT() {                                                                        \
    return plughost_register(env, exports, &plughost_note_descriptor.desc, (METHODS),         \
                             sizeof(METHODS) / sizeof((METHODS)[0]), (INIT));                 \
  }

#endif /* PLUGHOST_H */
