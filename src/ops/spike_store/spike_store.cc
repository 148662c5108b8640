// Compact storage for the spike tensors a training step keeps for its backward pass: 0/1 maps as bits (32x smaller
// than float32), small whole counts (a residual stream of summed spikes) as bytes (4x). Packing checks every value
// and reports failure rather than round anything: unpacking gives back the same float32 bits.
#include "common.h"
#include <cstring>
#ifdef __AVX2__
#include <immintrin.h>
#endif

namespace gs {
namespace {

constexpr uint32_t kZero = 0x00000000u, kOne = 0x3f800000u;  // +0.0f and 1.0f (-0.0f is not a spike: it is refused)

inline uint32_t bitsOf(float v) {
  uint32_t u;
  std::memcpy(&u, &v, sizeof u);
  return u;
}

// spikeKind(x, samples): from `samples` evenly spaced entries, 1 when all are 0 or 1, 2 when all are whole numbers
// 0..255 (some above 1), 0 otherwise (not worth a full pass).
Napi::Value SpikeKind(const Napi::CallbackInfo& info) {
  const int64_t n = f32Length(info, 0);
  const float* x = f32(info, 0, n);
  const int64_t samples = n < num(info, 1) ? n : num(info, 1);
  int kind = 1;
  for (int64_t i = 0; i < samples; ++i) {
    const float v = x[i * n / samples];
    const uint32_t u = bitsOf(v);
    if (u == kZero || u == kOne) continue;
    if (!(v >= 2.f && v <= 255.f) || bitsOf(static_cast<float>(static_cast<uint8_t>(v))) != u)
      return Napi::Number::New(info.Env(), 0);
    kind = 2;
  }
  return Napi::Number::New(info.Env(), kind);
}

// spikePackBits(x, bits): bit i%8 of bits[i/8] = x[i] (LSB first); true when every x[i] was +0 or 1 (else bits is
// incomplete and must not be used).
Napi::Value SpikePackBits(const Napi::CallbackInfo& info) {
  const int64_t n = f32Length(info, 0);
  const float* x = f32(info, 0, n);
  uint8_t* bits = u8(info, 1, (n + 7) / 8);
  const int64_t bytes = (n + 7) / 8;
  int bad = 0;
#pragma omp parallel for schedule(static) reduction(| : bad) if (n > (1 << 16))
  for (int64_t b = 0; b < bytes; ++b) {
    const int64_t i0 = b * 8, len = n - i0 < 8 ? n - i0 : 8;
    uint32_t byte = 0;
    for (int64_t j = 0; j < len; ++j) {
      const uint32_t u = bitsOf(x[i0 + j]);
      bad |= u != kZero && u != kOne;
      byte |= static_cast<uint32_t>(u == kOne) << j;
    }
    bits[b] = static_cast<uint8_t>(byte);
  }
  return Napi::Boolean::New(info.Env(), !bad);
}

// spikeUnpackBits(bits, x): x[i] = bit i of bits, as 0 or 1.
Napi::Value SpikeUnpackBits(const Napi::CallbackInfo& info) {
  const int64_t n = f32Length(info, 1);
  const uint8_t* bits = u8(info, 0, (n + 7) / 8);
  float* x = f32(info, 1, n);
  const int64_t whole = n / 8;
#pragma omp parallel for schedule(static) if (n > (1 << 16))
  for (int64_t b = 0; b < whole; ++b) {
    const uint32_t byte = bits[b];
    for (int j = 0; j < 8; ++j) x[b * 8 + j] = static_cast<float>((byte >> j) & 1u);
  }
  for (int64_t i = whole * 8; i < n; ++i) x[i] = static_cast<float>((bits[i / 8] >> (i % 8)) & 1u);
  return info.Env().Undefined();
}

// Packs x[i0, i1) into bytes; true when all were whole numbers 0..255 (the float made back has the same bits).
inline bool packBytes(const float* x, uint8_t* bytes, int64_t i0, int64_t i1) {
  int64_t i = i0;
  bool ok = true;
#ifdef __AVX2__
  // Explicit, as the compiler's vectorized loop ran at a tenth of memory speed.
  const __m256 lo = _mm256_setzero_ps(), hi = _mm256_set1_ps(255.f);
  int bad = 0;
  for (; i + 8 <= i1; i += 8) {
    const __m256 v = _mm256_loadu_ps(x + i);
    const __m256i k = _mm256_cvttps_epi32(_mm256_min_ps(_mm256_max_ps(v, lo), hi));  // NaN -> 0: refused below
    const __m256i same = _mm256_cmpeq_epi32(_mm256_castps_si256(_mm256_cvtepi32_ps(k)), _mm256_castps_si256(v));
    bad |= ~_mm256_movemask_epi8(same);
    const __m128i w = _mm_packus_epi32(_mm256_castsi256_si128(k), _mm256_extracti128_si256(k, 1));
    _mm_storel_epi64(reinterpret_cast<__m128i*>(bytes + i), _mm_packus_epi16(w, w));
  }
  ok = bad == 0;
#endif
  for (; i < i1; ++i) {
    const float v = x[i];
    const uint8_t b = static_cast<uint8_t>(v >= 0.f && v <= 255.f ? v : 0.f);
    ok &= bitsOf(static_cast<float>(b)) == bitsOf(v);
    bytes[i] = b;
  }
  return ok;
}

// spikePackBytes(x, bytes): bytes[i] = x[i]; true when every x[i] was a whole number 0..255 (and not -0).
Napi::Value SpikePackBytes(const Napi::CallbackInfo& info) {
  const int64_t n = f32Length(info, 0);
  const float* x = f32(info, 0, n);
  uint8_t* bytes = u8(info, 1, n);
  constexpr int64_t kChunk = 1 << 14;
  int bad = 0;
#pragma omp parallel for schedule(static) reduction(| : bad) if (n > (1 << 16))
  for (int64_t c = 0; c < n; c += kChunk) bad |= !packBytes(x, bytes, c, c + kChunk < n ? c + kChunk : n);
  return Napi::Boolean::New(info.Env(), !bad);
}

// spikeUnpackBytes(bytes, x): x[i] = bytes[i].
Napi::Value SpikeUnpackBytes(const Napi::CallbackInfo& info) {
  const int64_t n = f32Length(info, 1);
  const uint8_t* bytes = u8(info, 0, n);
  float* x = f32(info, 1, n);
#pragma omp parallel for simd schedule(static) if (n > (1 << 16))
  for (int64_t i = 0; i < n; ++i) x[i] = static_cast<float>(bytes[i]);
  return info.Env().Undefined();
}

}  // namespace

static void initSpikeStore(Napi::Env env, Napi::Object exports) {
  exports.Set("spikeKind", Napi::Function::New(env, SpikeKind));
  exports.Set("spikePackBits", Napi::Function::New(env, SpikePackBits));
  exports.Set("spikeUnpackBits", Napi::Function::New(env, SpikeUnpackBits));
  exports.Set("spikePackBytes", Napi::Function::New(env, SpikePackBytes));
  exports.Set("spikeUnpackBytes", Napi::Function::New(env, SpikeUnpackBytes));
}

static const Register registered(initSpikeStore);

}  // namespace gs
