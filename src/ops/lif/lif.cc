// The multi-step LIF neuron's kernels (the JS reference and its semantics: src/snn/lif.ts): forward and backward,
// one pass over time each instead of a chain of element-wise ops. Built with -ffp-contract=off so float rounding
// matches the JS reference op for op.
#include "common.h"
#include <cmath>
#include <cstring>
#include <string>

namespace gs {
namespace {

constexpr int64_t kBlock = 1024;  // neurons per work item: contiguous, so the inner loops vectorize

// Surrogate gradients by id, the same ids and formulas as src/snn/surrogate.ts (SURROGATE_IDS):
//   kSigmoid: alpha sigmoid(alpha u) (1 - sigmoid(alpha u));  kAtan: alpha / 2 / (1 + (pi/2 alpha u)^2).
enum SurrogateId : int64_t { kSigmoid = 0, kAtan = 1 };

// One block of neurons over all T steps; the membrane h is written only when kH (a gradient will read it).
template <bool kH, bool kPow2>
inline void lifBlock(const float* x, float* s, float* h, int64_t T, int64_t M, int64_t m0, int64_t len, float inv,
                     double tau, float fth) {
  float v[kBlock] = {0};
  for (int64_t t = 0; t < T; ++t) {
    const float* xt = x + t * M + m0;
    float* st = s + t * M + m0;
    for (int64_t i = 0; i < len; ++i) {
      float hv = kPow2 ? v[i] + (xt[i] - v[i]) * inv
                       : v[i] + static_cast<float>(static_cast<float>(xt[i] - v[i]) / tau);
      if (kH) h[t * M + m0 + i] = hv;
      st[i] = hv >= fth ? 1.f : 0.f;
      v[i] = hv >= fth ? 0.f : hv;  // hard reset, as the reference (not hv * (1 - s): inf * 0)
    }
  }
}

// The float threshold with the same decisions as comparing a float membrane against the double one.
inline float floatThreshold(double vth) {
  float fth = static_cast<float>(vth);
  if (static_cast<double>(fth) < vth) fth = std::nextafter(fth, INFINITY);
  return fth;
}

// lif(x, spikes, h or null, T, M, tau, vThreshold)
Napi::Value Lif(const Napi::CallbackInfo& info) {
  int64_t T = num(info, 3), M = num(info, 4);
  // Same rounding as the JS reference (float32 ops, tau and threshold in double): identical spike decisions.
  double tau = dbl(info, 5), vth = dbl(info, 6);
  // Dividing by a power of two is exact, so multiplying by its inverse rounds the same and is much cheaper.
  int exponent;
  const bool pow2 = std::frexp(tau, &exponent) == 0.5 && exponent > -120 && exponent < 120;
  const float inv = static_cast<float>(1.0 / tau);
  const float* x = f32(info, 0, T * M);
  float* s = f32(info, 1, T * M);
  float* h = info[2].IsNull() ? nullptr : f32(info, 2, T * M);
  const float fth = floatThreshold(vth);
#pragma omp parallel for schedule(static)
  for (int64_t m0 = 0; m0 < M; m0 += kBlock) {
    int64_t len = M - m0 < kBlock ? M - m0 : kBlock;
    if (h && pow2) lifBlock<true, true>(x, s, h, T, M, m0, len, inv, tau, fth);
    else if (h) lifBlock<true, false>(x, s, h, T, M, m0, len, inv, tau, fth);
    else if (pow2) lifBlock<false, true>(x, s, h, T, M, m0, len, inv, tau, fth);
    else lifBlock<false, false>(x, s, h, T, M, m0, len, inv, tau, fth);
  }
  return info.Env().Undefined();
}

// exp(x) for x <= 0 in float, vectorizable (libm's expf is not): 2^k * e^r with |r| <= ln2/2 and a degree-6
// Taylor polynomial, relative error below 2e-7.
inline float expNeg(float x) {
  x = x < -87.f ? -87.f : x;
  // Round to nearest even by the 1.5 * 2^23 shift: the same k as nearbyint for |x| < 2^22, and it vectorizes.
  const float k = (x * 1.44269504f + 12582912.f) - 12582912.f;
  const float r = (x - k * 0.693145752f) - k * 1.42860677e-6f;
  float p = 1.f / 720;
  p = p * r + 1.f / 120;
  p = p * r + 1.f / 24;
  p = p * r + 1.f / 6;
  p = p * r + 0.5f;
  p = p * r + 1.f;
  p = p * r + 1.f;
  int32_t bits = (static_cast<int32_t>(k) + 127) << 23;
  float scale;
  std::memcpy(&scale, &bits, sizeof scale);
  return p * scale;
}

// One block of neurons backwards over all T steps. kS: the spikes are given; else recomputed from h against fth,
// the forward's own decision (so the gradient need not keep them).
template <bool kSigmoidSg, bool kS>
inline void gradBlock(const float* dy, const float* h, const float* s, float* dx, int64_t T, int64_t M, int64_t m0,
                      int64_t len, float vth, float fth, float a, float k) {
  const float keep = 1.f - k, atanK = static_cast<float>(M_PI / 2) * a, halfA = a / 2;
  float gv[kBlock] = {0};
  for (int64_t t = T - 1; t >= 0; --t) {
    const int64_t o = t * M + m0;
    for (int64_t i = 0; i < len; ++i) {
      const float u = h[o + i] - vth;
      float sg;
      if (kSigmoidSg) {
        const float e = expNeg(-a * std::fabs(u)), d = 1.f + e;
        sg = a * e / (d * d);
      } else {
        const float z = atanK * u;
        sg = halfA / (1.f + z * z);
      }
      const float si = kS ? s[o + i] : (h[o + i] >= fth ? 1.f : 0.f);
      const float gh = dy[o + i] * sg + gv[i] * (1.f - si);
      dx[o + i] = gh * k;
      gv[i] = gh * keep;
    }
  }
}

// lifGrad(dy, h, spikes or null, dx, T, M, tau, vThreshold, surrogate id (SurrogateId below), alpha)
// In float (the JS reference works in double; they agree to float rounding). The sigmoid's derivative is written
// as a e / (1 + e)^2 with e = exp(-a|u|): symmetric in u, no cancellation, no overflow.
Napi::Value LifGrad(const Napi::CallbackInfo& info) {
  int64_t T = num(info, 4), M = num(info, 5);
  const float tau = static_cast<float>(dbl(info, 6)), vth = static_cast<float>(dbl(info, 7));
  const float fth = floatThreshold(dbl(info, 7));
  const int64_t kind = num(info, 8);
  if (kind != kSigmoid && kind != kAtan)
    throw Napi::RangeError::New(info.Env(), "unknown surrogate id " + std::to_string(kind));
  const float a = static_cast<float>(dbl(info, 9));
  const float* dy = f32(info, 0, T * M);
  const float* h = f32(info, 1, T * M);
  const float* s = optF32(info, 2, T * M);
  float* dx = f32(info, 3, T * M);
  const float k = 1.f / tau;
#pragma omp parallel for schedule(static)
  for (int64_t m0 = 0; m0 < M; m0 += kBlock) {
    const int64_t len = M - m0 < kBlock ? M - m0 : kBlock;
    if (kind == kSigmoid && s) gradBlock<true, true>(dy, h, s, dx, T, M, m0, len, vth, fth, a, k);
    else if (kind == kSigmoid) gradBlock<true, false>(dy, h, s, dx, T, M, m0, len, vth, fth, a, k);
    else if (s) gradBlock<false, true>(dy, h, s, dx, T, M, m0, len, vth, fth, a, k);
    else gradBlock<false, false>(dy, h, s, dx, T, M, m0, len, vth, fth, a, k);
  }
  return info.Env().Undefined();
}

}  // namespace

static void initLif(Napi::Env env, Napi::Object exports) {
  exports.Set("lif", Napi::Function::New(env, Lif));
  exports.Set("lifGrad", Napi::Function::New(env, LifGrad));
}

static const Register registered(initLif);

}  // namespace gs
