/*
 * SHA-256 with the x86 SHA extensions, for the client's whole-file hasher (file-hash-worker.js):
 * `update2` feeds the same bytes to two hash states at once, the whole file's and a chunk's. Both
 * states use one message schedule, and the two chains of sha256rnds2 instructions are independent,
 * so the core runs them side by side: two digests of a chunk cost about what one does, where two
 * OpenSSL passes cost 2x (measured on AMD EPYC, 256 MiB in memory: one state ~1.55 GiB/s, two
 * states ~1.55 GiB/s, OpenSSL one state ~1.5 GiB/s). Loaded by native-sha.ts, which builds it with the system's C
 * compiler on first use and falls back to OpenSSL when it cannot (no compiler, no Node headers,
 * not x86-64, a CPU without SHA-NI: `supported()` checks CPUID before anything else is called).
 *
 * A state is a 112-byte Buffer owned by JavaScript (so copying a state is copying a Buffer):
 *   [0, 32)    the eight words in the SHA-NI register layout (ABEF, CDGH)
 *   [32, 96)   bytes of a block not yet complete
 *   [96, 104)  total bytes fed (little-endian u64)
 *   [104, 108) bytes pending in the block (u32)
 */
#include <node_api.h>
#include <stdint.h>
#include <string.h>

#define STATE_BYTES 112

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <cpuid.h>
#include <immintrin.h>

static const uint32_t K[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2};
static const uint32_t H0[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                               0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};

typedef struct {
  __m128i abef, cdgh;
} words;

typedef struct {
  uint8_t *raw; /* the 112-byte Buffer */
  words w;
  uint64_t total;
  uint32_t pending;
} state;

#define TARGET __attribute__((target("sha,sse4.1,ssse3")))

static int cpu_ok(void) {
  unsigned a, b, c, d;
  if (!__get_cpuid(1, &a, &b, &c, &d)) return 0;
  if (!(c & bit_SSSE3) || !(c & bit_SSE4_1)) return 0;
  if (__get_cpuid_max(0, 0) < 7) return 0;
  __cpuid_count(7, 0, a, b, c, d);
  return (b >> 29) & 1; /* SHA */
}

static void load(state *s, uint8_t *raw) {
  s->raw = raw;
  memcpy(&s->w, raw, 32);
  memcpy(&s->total, raw + 96, 8);
  memcpy(&s->pending, raw + 104, 4);
}

static void store(const state *s) {
  memcpy(s->raw, &s->w, 32);
  memcpy(s->raw + 96, &s->total, 8);
  memcpy(s->raw + 104, &s->pending, 4);
}

TARGET static words initial(void) {
  __m128i dcba = _mm_shuffle_epi32(_mm_loadu_si128((const __m128i *)&H0[0]), 0xB1); /* CDAB */
  __m128i efgh = _mm_shuffle_epi32(_mm_loadu_si128((const __m128i *)&H0[4]), 0x1B); /* EFGH */
  words w;
  w.abef = _mm_alignr_epi8(dcba, efgh, 8);
  w.cdgh = _mm_blend_epi16(efgh, dcba, 0xF0);
  return w;
}

TARGET static void out(words w, uint8_t digest[32]) {
  __m128i feba = _mm_shuffle_epi32(w.abef, 0x1B);
  __m128i dchg = _mm_shuffle_epi32(w.cdgh, 0xB1);
  uint32_t h[8];
  _mm_storeu_si128((__m128i *)&h[0], _mm_blend_epi16(feba, dchg, 0xF0));
  _mm_storeu_si128((__m128i *)&h[4], _mm_alignr_epi8(dchg, feba, 8));
  for (int i = 0; i < 8; i++) {
    digest[4 * i] = (uint8_t)(h[i] >> 24);
    digest[4 * i + 1] = (uint8_t)(h[i] >> 16);
    digest[4 * i + 2] = (uint8_t)(h[i] >> 8);
    digest[4 * i + 3] = (uint8_t)h[i];
  }
}

/* Four rounds on one state with message words m (already plus K). */
#define ROUNDS4(W, M)                                        \
  do {                                                       \
    __m128i m_ = (M);                                        \
    (W).cdgh = _mm_sha256rnds2_epu32((W).cdgh, (W).abef, m_); \
    m_ = _mm_shuffle_epi32(m_, 0x0E);                        \
    (W).abef = _mm_sha256rnds2_epu32((W).abef, (W).cdgh, m_); \
  } while (0)

/* The next four message words: W[i..i+3] from the four before (M0 oldest, M3 newest), into M0. */
#define SCHEDULE(M0, M1, M2, M3) \
  M0 = _mm_sha256msg2_epu32(_mm_add_epi32(_mm_sha256msg1_epu32(M0, M1), _mm_alignr_epi8(M3, M2, 4)), M3)

/* The sixty-four rounds of a block: GROUP(m, i) runs rounds 4i..4i+3 on message words m. */
#define ALL_ROUNDS(GROUP)                                            \
  GROUP(m0, 0); GROUP(m1, 1); GROUP(m2, 2); GROUP(m3, 3);            \
  SCHEDULE(m0, m1, m2, m3); GROUP(m0, 4);                            \
  SCHEDULE(m1, m2, m3, m0); GROUP(m1, 5);                            \
  SCHEDULE(m2, m3, m0, m1); GROUP(m2, 6);                            \
  SCHEDULE(m3, m0, m1, m2); GROUP(m3, 7);                            \
  SCHEDULE(m0, m1, m2, m3); GROUP(m0, 8);                            \
  SCHEDULE(m1, m2, m3, m0); GROUP(m1, 9);                            \
  SCHEDULE(m2, m3, m0, m1); GROUP(m2, 10);                           \
  SCHEDULE(m3, m0, m1, m2); GROUP(m3, 11);                           \
  SCHEDULE(m0, m1, m2, m3); GROUP(m0, 12);                           \
  SCHEDULE(m1, m2, m3, m0); GROUP(m1, 13);                           \
  SCHEDULE(m2, m3, m0, m1); GROUP(m2, 14);                           \
  SCHEDULE(m3, m0, m1, m2); GROUP(m3, 15)

/* The first sixteen message words of the block at p, as four vectors. */
#define LOAD_BLOCK(p)                                                                    \
  __m128i m0 = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)((p) + 0)), swap);  \
  __m128i m1 = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)((p) + 16)), swap); \
  __m128i m2 = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)((p) + 32)), swap); \
  __m128i m3 = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)((p) + 48)), swap)

#define SWAP_MASK _mm_set_epi64x(0x0c0d0e0f08090a0bULL, 0x0405060700010203ULL)
#define KW(I) _mm_loadu_si128((const __m128i *)&K[4 * (I)])

/*
 * Compresses n 64-byte blocks into one state. The message schedule rolls through four registers,
 * computed just ahead of the rounds that use it, and every round is written out: computing all
 * sixteen words first needed more registers than there are, and a loop over the groups was slower
 * (one state ~1.55 GiB/s this way, as OpenSSL; the pair below likewise).
 */
TARGET static void compress1(words *a, const uint8_t *p, size_t n) {
  const __m128i swap = SWAP_MASK;
  words A = *a;
  for (; n; n--, p += 64) {
    words a0 = A;
    LOAD_BLOCK(p);
#define GROUP1(M, I) ROUNDS4(A, _mm_add_epi32(M, KW(I)))
    ALL_ROUNDS(GROUP1);
    A.abef = _mm_add_epi32(A.abef, a0.abef);
    A.cdgh = _mm_add_epi32(A.cdgh, a0.cdgh);
  }
  *a = A;
}

/* compress1 into two states from one message schedule: two independent chains of rounds. */
TARGET static void compress2(words *a, words *b, const uint8_t *p, size_t n) {
  const __m128i swap = SWAP_MASK;
  words A = *a, B = *b;
  for (; n; n--, p += 64) {
    words a0 = A, b0 = B;
    LOAD_BLOCK(p);
#define GROUP2(M, I)                     \
  do {                                   \
    __m128i w_ = _mm_add_epi32(M, KW(I)); \
    ROUNDS4(A, w_);                      \
    ROUNDS4(B, w_);                      \
  } while (0)
    ALL_ROUNDS(GROUP2);
    A.abef = _mm_add_epi32(A.abef, a0.abef);
    A.cdgh = _mm_add_epi32(A.cdgh, a0.cdgh);
    B.abef = _mm_add_epi32(B.abef, b0.abef);
    B.cdgh = _mm_add_epi32(B.cdgh, b0.cdgh);
  }
  *a = A;
  *b = B;
}

static void feed(state *s, const uint8_t *p, size_t n) {
  s->total += n;
  if (s->pending) {
    size_t take = 64 - s->pending < n ? 64 - s->pending : n;
    memcpy(s->raw + 32 + s->pending, p, take);
    s->pending += (uint32_t)take;
    p += take;
    n -= take;
    if (s->pending < 64) return;
    compress1(&s->w, s->raw + 32, 1);
    s->pending = 0;
  }
  compress1(&s->w, p, n / 64);
  memcpy(s->raw + 32, p + n / 64 * 64, n % 64);
  s->pending = (uint32_t)(n % 64);
}

/* The same bytes into both: in lock-step over whole blocks when both are at a block boundary. */
static void feed2(state *a, state *b, const uint8_t *p, size_t n) {
  if (a->pending != b->pending) {
    feed(a, p, n);
    feed(b, p, n);
    return;
  }
  if (a->pending) {
    size_t take = 64 - a->pending < n ? 64 - a->pending : n;
    feed(a, p, take);
    feed(b, p, take);
    p += take;
    n -= take;
    if (a->pending) return;
  }
  compress2(&a->w, &b->w, p, n / 64);
  a->total += n;
  b->total += n;
  memcpy(a->raw + 32, p + n / 64 * 64, n % 64);
  memcpy(b->raw + 32, p + n / 64 * 64, n % 64);
  a->pending = b->pending = (uint32_t)(n % 64);
}

static void finish(const state *s, uint8_t digest[32]) {
  uint8_t block[128] = {0};
  memcpy(block, s->raw + 32, s->pending);
  block[s->pending] = 0x80;
  size_t blocks = s->pending < 56 ? 1 : 2;
  uint64_t bits = s->total * 8;
  for (int i = 0; i < 8; i++) block[blocks * 64 - 1 - i] = (uint8_t)(bits >> (8 * i));
  words w = s->w;
  compress1(&w, block, blocks);
  out(w, digest);
}

static int supported = -1;
#else
static int cpu_ok(void) { return 0; }
static int supported = 0;
#endif

/* ---- N-API ---- */

static napi_value throw_error(napi_env env, const char *message) {
  napi_throw_error(env, "ERR_HAUL_SHA256X2", message);
  return NULL;
}

/* args[i] as a Buffer of at least `min` bytes (an exception is pending when it returns NULL). */
static uint8_t *buffer_arg(napi_env env, napi_value v, size_t min, size_t *len) {
  bool is;
  void *data;
  size_t n;
  if (napi_is_buffer(env, v, &is) != napi_ok || !is) {
    throw_error(env, "expected a Buffer");
    return NULL;
  }
  if (napi_get_buffer_info(env, v, &data, &n) != napi_ok || n < min) {
    throw_error(env, "state Buffer too small");
    return NULL;
  }
  if (len) *len = n;
  return data;
}

static napi_value js_supported(napi_env env, napi_callback_info info) {
  (void)info;
  if (supported < 0) supported = cpu_ok();
  napi_value r;
  napi_get_boolean(env, supported == 1, &r);
  return r;
}

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
static int ready(napi_env env) {
  if (supported < 0) supported = cpu_ok();
  if (supported != 1) throw_error(env, "this CPU has no SHA extensions");
  return supported == 1;
}

/* The state Buffer of a call that takes only that (NULL with an exception pending if it is not one). */
static uint8_t *only_state(napi_env env, napi_callback_info info, const char *usage) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (!ready(env)) return NULL;
  if (argc < 1) {
    throw_error(env, usage);
    return NULL;
  }
  return buffer_arg(env, argv[0], STATE_BYTES, NULL);
}

/* init(state): a fresh state. */
static napi_value js_init(napi_env env, napi_callback_info info) {
  uint8_t *raw = only_state(env, info, "init(state)");
  if (!raw) return NULL;
  state s = {raw, initial(), 0, 0};
  store(&s);
  return NULL;
}

/* update(state, data) or update(stateA, stateB, data): data fed to one state or to both. */
static napi_value js_update(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (!ready(env)) return NULL;
  if (argc < 2) return throw_error(env, "update(state, [state2,] data)");
  size_t n;
  uint8_t *a = buffer_arg(env, argv[0], STATE_BYTES, NULL);
  uint8_t *b = a && argc == 3 ? buffer_arg(env, argv[1], STATE_BYTES, NULL) : NULL;
  if (!a || (argc == 3 && !b)) return NULL;
  if (a == b) return throw_error(env, "update: the two states must differ");
  const uint8_t *p = buffer_arg(env, argv[argc - 1], 0, &n);
  if (!p) return NULL;
  state sa, sb;
  load(&sa, a);
  if (b) {
    load(&sb, b);
    feed2(&sa, &sb, p, n);
    store(&sb);
  } else
    feed(&sa, p, n);
  store(&sa);
  return NULL;
}

/* digest(state): the 32-byte digest of what was fed; the state is left as it was. */
static napi_value js_digest(napi_env env, napi_callback_info info) {
  uint8_t *raw = only_state(env, info, "digest(state)");
  if (!raw) return NULL;
  state s;
  load(&s, raw);
  void *data;
  napi_value result;
  napi_create_buffer(env, 32, &data, &result);
  finish(&s, data);
  return result;
}
#else
static napi_value js_init(napi_env env, napi_callback_info info) {
  (void)info;
  return throw_error(env, "not built for this CPU");
}
#define js_update js_init
#define js_digest js_init
#endif

NAPI_MODULE_INIT() {
  napi_property_descriptor props[] = {
      {"supported", NULL, js_supported, NULL, NULL, NULL, napi_enumerable, NULL},
      {"init", NULL, js_init, NULL, NULL, NULL, napi_enumerable, NULL},
      {"update", NULL, js_update, NULL, NULL, NULL, napi_enumerable, NULL},
      {"digest", NULL, js_digest, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
  return exports;
}
