/*
 * crc32 — CRC-32/ISO-HDLC (zlib, gzip, PNG; the `crc-32` npm package):
 * reflected polynomial 0xEDB88320, register starts at 0xFFFFFFFF and is
 * inverted at the end. Results are unsigned 32-bit JS numbers.
 *
 *   crc32(data, seed?)          one message; seed continues a previous result
 *   crc32Batch(packed, offsets) many messages in one call (Uint32Array out)
 *   crc32Batch(messages)        same, from an array of views
 *
 * The engines all compute the same raw register update (no inversion): the
 * CRC32 instructions on AArch64 builds that target them; elsewhere slice-by-8
 * tables, which x86-64 CPUs with PCLMULQDQ (and VPCLMULQDQ + AVX-512)
 * replace by carry-less multiply folding for all but short inputs.
 */
#include "plughost.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>

#define POLY 0xEDB88320u
#define INVALID "PLUGHOST_INVALID_ARGUMENT"

#if defined(__aarch64__) && defined(__ARM_FEATURE_CRC32) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#include <arm_acle.h>

/* The raw register update; callers apply the initial and final inversion. */
static uint32_t crc_update(uint32_t c, const uint8_t* p, size_t n) {
  for (; n >= 8; p += 8, n -= 8) {
    uint64_t w;
    memcpy(&w, p, 8);
    c = __crc32d(c, w);
  }
  while (n--) c = __crc32b(c, *p++);
  return c;
}

static void setup(void) {}

#else
/* table[k][b]: the register contribution of byte b followed by k zero bytes. */
static uint32_t table[8][256];

static inline uint32_t load32le(const uint8_t* p) {
  /* Byte-wise so it is right on any endianness; compilers emit one load. */
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint32_t crc_table(uint32_t c, const uint8_t* p, size_t n) {
  for (; n >= 8; p += 8, n -= 8) {
    uint32_t lo = c ^ load32le(p), hi = load32le(p + 4);
    c = table[7][lo & 0xff] ^ table[6][(lo >> 8) & 0xff] ^ table[5][(lo >> 16) & 0xff] ^ table[4][lo >> 24] ^
        table[3][hi & 0xff] ^ table[2][(hi >> 8) & 0xff] ^ table[1][(hi >> 16) & 0xff] ^ table[0][hi >> 24];
  }
  while (n--) c = table[0][(c ^ *p++) & 0xff] ^ (c >> 8);
  return c;
}

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define HAVE_CLMUL 1
#define TARGET_CLMUL __attribute__((target("pclmul,sse4.1")))
#define TARGET_VCLMUL __attribute__((target("avx512f,vpclmulqdq,pclmul,sse4.1")))

/* 0: tables only; 1: PCLMULQDQ on 128-bit lanes; 2: also VPCLMULQDQ on 512-bit ones. */
static int clmul_level;
/* Folding constants for moving a 128-bit block forward by 2048, 512 and 128
 * bits: [0] multiplies its low qword, [1] its high qword. */
static uint64_t k2048[2], k512[2], k128[2];

/* x^n mod P, reflected (bit 31 holds x^0), so multiplying by x is a right shift. */
static uint32_t xpow_mod(unsigned n) {
  uint32_t r = 0x80000000u;
  while (n--) r = (r & 1) ? (r >> 1) ^ POLY : r >> 1;
  return r;
}

/*
 * A 128-bit reflected block X (bit i is x^(127-i)) is H*x^64 + L, where H is
 * the low qword. Moving X forward by D bits means H*x^(64+D) + L*x^D, and
 * since only the remainder mod P matters each power can be swapped for a
 * 32-bit constant. PCLMULQDQ on reflected operands yields the product times
 * x, and a 32-bit constant in the low half of a qword reads as itself times
 * x^32; together x^33, which the exponents below take back out.
 */
static void fold_constants(void) {
  k2048[0] = xpow_mod(2048 + 31);
  k2048[1] = xpow_mod(2048 - 33);
  k512[0] = xpow_mod(512 + 31);
  k512[1] = xpow_mod(512 - 33);
  k128[0] = xpow_mod(128 + 31);
  k128[1] = xpow_mod(128 - 33);
}

#define LOAD(p) _mm_loadu_si128((const __m128i*)(p))
#define CONSTANTS(k) _mm_set_epi64x((long long)(k)[1], (long long)(k)[0])

TARGET_CLMUL static inline __m128i fold(__m128i x, __m128i k, __m128i next) {
  __m128i h = _mm_clmulepi64_si128(x, k, 0x00), l = _mm_clmulepi64_si128(x, k, 0x11);
  return _mm_xor_si128(_mm_xor_si128(h, l), next);
}

/* Four lanes holding the 64 bytes before p (four chains hide the multiply
 * latency); folds in the rest and reduces to the register. */
TARGET_CLMUL static uint32_t clmul_lanes(__m128i x0, __m128i x1, __m128i x2, __m128i x3, const uint8_t* p, size_t n) {
  const __m128i k4 = CONSTANTS(k512), k1 = CONSTANTS(k128);
  for (; n >= 64; p += 64, n -= 64) {
    x0 = fold(x0, k4, LOAD(p));
    x1 = fold(x1, k4, LOAD(p + 16));
    x2 = fold(x2, k4, LOAD(p + 32));
    x3 = fold(x3, k4, LOAD(p + 48));
  }
  x0 = fold(fold(fold(x0, k1, x1), k1, x2), k1, x3);
  for (; n >= 16; p += 16, n -= 16) x0 = fold(x0, k1, LOAD(p));
  /* X is congruent to everything read so far, so the CRC of its 16 bytes
   * from a zero register is the register we want; no Barrett step needed. */
  uint8_t last[16];
  _mm_storeu_si128((__m128i*)last, x0);
  return crc_table(crc_table(0, last, 16), p, n);
}

/* n >= 64. A register value is the same as XORing it into the first four bytes. */
TARGET_CLMUL static uint32_t crc_clmul(uint32_t c, const uint8_t* p, size_t n) {
  __m128i x0 = _mm_xor_si128(LOAD(p), _mm_cvtsi32_si128((int)c));
  return clmul_lanes(x0, LOAD(p + 16), LOAD(p + 32), LOAD(p + 48), p + 64, n - 64);
}

#define WLOAD(p) _mm512_loadu_si512((const void*)(p))

TARGET_VCLMUL static inline __m512i wfold(__m512i y, __m512i k, __m512i next) {
  __m512i h = _mm512_clmulepi64_epi128(y, k, 0x00), l = _mm512_clmulepi64_epi128(y, k, 0x11);
  return _mm512_ternarylogic_epi64(h, l, next, 0x96); /* h ^ l ^ next */
}

/* n >= 256. The same folding, four 128-bit blocks per instruction. */
TARGET_VCLMUL static uint32_t crc_vclmul(uint32_t c, const uint8_t* p, size_t n) {
  const __m512i k16 = _mm512_broadcast_i32x4(CONSTANTS(k2048)), k4 = _mm512_broadcast_i32x4(CONSTANTS(k512));
  __m512i y0 = _mm512_xor_si512(WLOAD(p), _mm512_maskz_set1_epi32(1, (int)c));
  __m512i y1 = WLOAD(p + 64), y2 = WLOAD(p + 128), y3 = WLOAD(p + 192);
  for (p += 256, n -= 256; n >= 256; p += 256, n -= 256) {
    y0 = wfold(y0, k16, WLOAD(p));
    y1 = wfold(y1, k16, WLOAD(p + 64));
    y2 = wfold(y2, k16, WLOAD(p + 128));
    y3 = wfold(y3, k16, WLOAD(p + 192));
  }
  /* Folded together by 512 bits, the 512-bit lanes leave exactly the state
   * of the four 128-bit lanes over the last 64 bytes read. */
  y0 = wfold(wfold(wfold(y0, k4, y1), k4, y2), k4, y3);
  return clmul_lanes(_mm512_castsi512_si128(y0), _mm512_extracti32x4_epi32(y0, 1), _mm512_extracti32x4_epi32(y0, 2),
                     _mm512_extracti32x4_epi32(y0, 3), p, n);
}
#endif

/* The raw register update; callers apply the initial and final inversion. */
static inline uint32_t crc_update(uint32_t c, const uint8_t* p, size_t n) {
#if defined(HAVE_CLMUL)
  /* Below 64 bytes the fold setup and final 16-byte reduction cost more than they save. */
  if (n >= 64 && clmul_level) return n >= 256 && clmul_level > 1 ? crc_vclmul(c, p, n) : crc_clmul(c, p, n);
#endif
  return crc_table(c, p, n);
}

static void setup(void) {
  for (uint32_t i = 0; i < 256; i++) {
    uint32_t c = i;
    for (int b = 0; b < 8; b++) c = (c & 1) ? (c >> 1) ^ POLY : c >> 1;
    table[0][i] = c;
  }
  for (int k = 1; k < 8; k++)
    for (int i = 0; i < 256; i++) table[k][i] = (table[k - 1][i] >> 8) ^ table[0][table[k - 1][i] & 0xff];
#if defined(HAVE_CLMUL)
  fold_constants();
  __builtin_cpu_init();
  if (__builtin_cpu_supports("pclmul") && __builtin_cpu_supports("sse4.1"))
    clmul_level = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("vpclmulqdq") ? 2 : 1;
#endif
}
#endif

/* ---- JavaScript glue ---------------------------------------------------- */

static napi_value invalid(napi_env env, const char* message) { return plughost_throw(env, INVALID, message); }

/* A Node-API call failed: keep its exception if it set one, else say so. */
static napi_value napi_failed(napi_env env) {
  bool pending = false;
  napi_is_exception_pending(env, &pending);
  if (!pending) napi_throw_error(env, NULL, "crc32: a Node-API call failed unexpectedly");
  return NULL;
}

#define TRY(call)                                  \
  do {                                             \
    if ((call) != napi_ok) return napi_failed(env); \
  } while (0)

typedef struct {
  const uint8_t* p;
  size_t n; /* bytes */
  napi_typedarray_type type;
} view;

/* False, without throwing, for anything that is not a TypedArray (Buffer is
 * a Uint8Array). One call instead of is_typedarray + info: this runs per
 * message in the array form of crc32Batch. */
static bool get_view(napi_env env, napi_value v, view* out) {
  size_t length;
  void* data;
  if (napi_get_typedarray_info(env, v, &out->type, &length, &data, NULL, NULL) != napi_ok) return false;
  size_t size = 8; /* float64, bigint64, biguint64 */
  switch (out->type) {
    case napi_int8_array: case napi_uint8_array: case napi_uint8_clamped_array: size = 1; break;
    case napi_int16_array: case napi_uint16_array: size = 2; break;
    case napi_int32_array: case napi_uint32_array: case napi_float32_array: size = 4; break;
    default: break;
  }
  out->p = data; /* already adjusted by the view's byteOffset */
  out->n = length * size;
  return true;
}

/* Accepts our own unsigned results and the signed ones `crc-32` returns;
 * anything else (fractions, NaN, out of range) would be silently wrong. */
static bool get_seed(napi_env env, napi_value v, uint32_t* seed) {
  napi_valuetype t;
  double d;
  if (napi_typeof(env, v, &t) != napi_ok) return false;
  if (t == napi_undefined) return *seed = 0, true;
  if (t != napi_number || napi_get_value_double(env, v, &d) != napi_ok) return false;
  if (!(d >= -2147483648.0 && d < 4294967296.0) || d != (double)(int64_t)d) return false;
  *seed = (uint32_t)(int64_t)d;
  return true;
}

static napi_value new_u32_array(napi_env env, size_t n, uint32_t** out) {
  napi_value buffer, array;
  void* data;
  if (napi_create_arraybuffer(env, n * sizeof(uint32_t), &data, &buffer) != napi_ok) return NULL;
  if (napi_create_typedarray(env, napi_uint32_array, n, buffer, 0, &array) != napi_ok) return NULL;
  *out = data;
  return array;
}

static napi_value crc32_method(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2], result;
  view data;
  uint32_t seed;
  TRY(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (!get_view(env, argv[0], &data)) return invalid(env, "crc32(data, seed?): data must be a TypedArray or Buffer");
  if (!get_seed(env, argv[1], &seed))
    return invalid(env, "crc32(data, seed?): seed must be an integer CRC from -2^31 to 2^32-1, or omitted");
  TRY(napi_create_uint32(env, ~crc_update(~seed, data.p, data.n), &result));
  return result;
}

static napi_value batch_packed(napi_env env, napi_value packed_v, napi_value offsets_v) {
  view packed, offsets;
  char message[160];
  uint32_t* out;
  if (!get_view(env, packed_v, &packed) || packed.type != napi_uint8_array)
    return invalid(env, "crc32Batch(packed, offsets): packed must be a Uint8Array or Buffer "
                        "(or call crc32Batch(messages) with an array of TypedArrays)");
  if (!get_view(env, offsets_v, &offsets) || offsets.type != napi_uint32_array)
    return invalid(env, "crc32Batch(packed, offsets): offsets must be a Uint32Array");
  size_t count = offsets.n / sizeof(uint32_t);
  if (count == 0)
    return invalid(env, "crc32Batch(packed, offsets): offsets is empty; n messages need n + 1 offsets");
  const uint32_t* o = (const uint32_t*)offsets.p; /* a Uint32Array's data is 4-byte aligned */
  if (o[0] > packed.n) {
    snprintf(message, sizeof message, "crc32Batch(packed, offsets): offsets[0] = %u is beyond packed.length = %zu",
             o[0], packed.n);
    return invalid(env, message);
  }
  napi_value result = new_u32_array(env, count - 1, &out);
  if (!result) return napi_failed(env);
  /* Validation rides along with the work: one pass over the offsets. */
  for (size_t i = 1; i < count; i++) {
    if (o[i] < o[i - 1]) {
      snprintf(message, sizeof message, "crc32Batch(packed, offsets): offsets[%zu] = %u is less than offsets[%zu] = %u",
               i, o[i], i - 1, o[i - 1]);
      return invalid(env, message);
    }
    if (o[i] > packed.n) {
      snprintf(message, sizeof message, "crc32Batch(packed, offsets): offsets[%zu] = %u is beyond packed.length = %zu",
               i, o[i], packed.n);
      return invalid(env, message);
    }
    out[i - 1] = ~crc_update(0xFFFFFFFFu, packed.p + o[i - 1], o[i] - o[i - 1]);
  }
  return result;
}

static napi_value batch_list(napi_env env, napi_value list, napi_value extra) {
  napi_valuetype extra_type;
  uint32_t count, *out;
  char message[120];
  TRY(napi_typeof(env, extra, &extra_type));
  if (extra_type != napi_undefined)
    return invalid(env, "crc32Batch(messages): takes no second argument (offsets go with a packed Uint8Array)");
  TRY(napi_get_array_length(env, list, &count));
  napi_value result = new_u32_array(env, count, &out);
  if (!result) return napi_failed(env);
  for (uint32_t i = 0; i < count; i++) {
    napi_value item;
    view v;
    /* Each view is used before the next element is read: an element getter
     * that runs JS cannot leave us holding a stale pointer. */
    TRY(napi_get_element(env, list, i, &item));
    if (!get_view(env, item, &v)) {
      snprintf(message, sizeof message, "crc32Batch(messages): messages[%u] is not a TypedArray or Buffer", i);
      return invalid(env, message);
    }
    out[i] = ~crc_update(0xFFFFFFFFu, v.p, v.n);
  }
  return result;
}

static napi_value crc32_batch_method(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  bool is_array;
  TRY(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  TRY(napi_is_array(env, argv[0], &is_array));
  return is_array ? batch_list(env, argv[0], argv[1]) : batch_packed(env, argv[0], argv[1]);
}

/* Every load (main thread and each worker) runs init; the tables are shared. */
static pthread_once_t setup_once = PTHREAD_ONCE_INIT;

static napi_value init(napi_env env, napi_value exports) {
  (void)env;
  pthread_once(&setup_once, setup);
  return exports;
}

static const plughost_method methods[] = {
    {"crc32", crc32_method},
    {"crc32Batch", crc32_batch_method},
};

PLUGHOST_PLUGIN("crc32", "1.0.0", methods, init)
