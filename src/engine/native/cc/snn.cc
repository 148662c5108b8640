// Fused spiking-network kernels: multi-step LIF forward/backward (one pass over time instead of a chain of
// element-wise ops) and batch-norm training forward/backward over [M, C] (channels last), statistics in double.
// Built with -ffp-contract=off so float rounding matches the JS reference op for op.
#include "common.h"
#include <cmath>
#include <cstring>
#include <omp.h>
#include <vector>

namespace gs {
namespace {

constexpr int64_t kBlock = 1024;  // neurons per work item: contiguous, so the inner loops vectorize

// lif(x, spikes, h, T, M, tau, vThreshold)
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
  float* h = f32(info, 2, T * M);
  // The float threshold with the same decisions as comparing against the double one.
  float fth = static_cast<float>(vth);
  if (static_cast<double>(fth) < vth) fth = std::nextafter(fth, INFINITY);
#pragma omp parallel for schedule(static)
  for (int64_t m0 = 0; m0 < M; m0 += kBlock) {
    int64_t len = M - m0 < kBlock ? M - m0 : kBlock;
    float v[kBlock] = {0};
    for (int64_t t = 0; t < T; ++t) {
      const float* xt = x + t * M + m0;
      float* st = s + t * M + m0;
      float* ht = h + t * M + m0;
      if (pow2) {
        for (int64_t i = 0; i < len; ++i) {
          float hv = v[i] + (xt[i] - v[i]) * inv;
          float sv = hv >= fth ? 1.f : 0.f;
          ht[i] = hv;
          st[i] = sv;
          v[i] = hv >= fth ? 0.f : hv;  // hard reset, as the reference (not hv * (1 - s): inf * 0)
        }
      } else {
        for (int64_t i = 0; i < len; ++i) {
          float hv = v[i] + static_cast<float>(static_cast<float>(xt[i] - v[i]) / tau);
          float sv = hv >= fth ? 1.f : 0.f;
          ht[i] = hv;
          st[i] = sv;
          v[i] = hv >= fth ? 0.f : hv;  // hard reset, as the reference (not hv * (1 - s): inf * 0)
        }
      }
    }
  }
  return info.Env().Undefined();
}

// exp(x) for x <= 0 in float, vectorizable (libm's expf is not): 2^k * e^r with |r| <= ln2/2 and a degree-6
// Taylor polynomial, relative error below 2e-7.
inline float expNeg(float x) {
  x = x < -87.f ? -87.f : x;
  const float k = std::nearbyint(x * 1.44269504f);
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

// lifGrad(dy, h, spikes, dx, T, M, tau, vThreshold, surrogate (0 sigmoid, 1 atan), alpha)
// In float (the JS reference works in double; they agree to float rounding). The sigmoid's derivative is written
// as a e / (1 + e)^2 with e = exp(-a|u|): symmetric in u, no cancellation, no overflow.
Napi::Value LifGrad(const Napi::CallbackInfo& info) {
  int64_t T = num(info, 4), M = num(info, 5);
  const float tau = static_cast<float>(dbl(info, 6)), vth = static_cast<float>(dbl(info, 7));
  const int64_t kind = num(info, 8);
  const float a = static_cast<float>(dbl(info, 9));
  const float* dy = f32(info, 0, T * M);
  const float* h = f32(info, 1, T * M);
  const float* s = f32(info, 2, T * M);
  float* dx = f32(info, 3, T * M);
  const float k = 1.f / tau, keep = 1.f - k, atanK = static_cast<float>(M_PI / 2) * a, halfA = a / 2;
#pragma omp parallel for schedule(static)
  for (int64_t m0 = 0; m0 < M; m0 += kBlock) {
    const int64_t len = M - m0 < kBlock ? M - m0 : kBlock;
    float gv[kBlock] = {0};
    for (int64_t t = T - 1; t >= 0; --t) {
      const int64_t o = t * M + m0;
      if (kind == 0) {
        for (int64_t i = 0; i < len; ++i) {
          const float u = h[o + i] - vth;
          const float e = expNeg(-a * std::fabs(u)), d = 1.f + e;
          const float gh = dy[o + i] * (a * e / (d * d)) + gv[i] * (1.f - s[o + i]);
          dx[o + i] = gh * k;
          gv[i] = gh * keep;
        }
      } else {
        for (int64_t i = 0; i < len; ++i) {
          const float z = atanK * (h[o + i] - vth);
          const float gh = dy[o + i] * (halfA / (1.f + z * z)) + gv[i] * (1.f - s[o + i]);
          dx[o + i] = gh * k;
          gv[i] = gh * keep;
        }
      }
    }
  }
  return info.Env().Undefined();
}

// Per-thread partial sums over row ranges, combined in double.
template <typename RowFn>
void reduceRows(int64_t M, int64_t C, std::vector<double>& out, int nOut, RowFn fn) {
  int nt = omp_get_max_threads();
  std::vector<double> part(static_cast<size_t>(nt) * nOut * C, 0.0);
#pragma omp parallel
  {
    double* mine = part.data() + static_cast<size_t>(omp_get_thread_num()) * nOut * C;
#pragma omp for schedule(static)
    for (int64_t m = 0; m < M; ++m) fn(m, mine);
  }
  out.assign(static_cast<size_t>(nOut) * C, 0.0);
  for (int t = 0; t < nt; ++t)
    for (int64_t i = 0; i < nOut * C; ++i) out[i] += part[static_cast<size_t>(t) * nOut * C + i];
}

// batchNormTrain(x, gamma, beta, y, mean, variance, M, C, eps)
Napi::Value BatchNormTrain(const Napi::CallbackInfo& info) {
  int64_t M = num(info, 6), C = num(info, 7);
  double eps = dbl(info, 8);
  const float* x = f32(info, 0, M * C);
  const float* gamma = f32(info, 1, C);
  const float* beta = f32(info, 2, C);
  float* y = f32(info, 3, M * C);
  float* mean = f32(info, 4, C);
  float* var = f32(info, 5, C);
  std::vector<double> sum, sq;
  reduceRows(M, C, sum, 1, [&](int64_t m, double* acc) {
    const float* r = x + m * C;
    for (int64_t c = 0; c < C; ++c) acc[c] += r[c];
  });
  std::vector<double> mu(C);  // the float32 mean, widened: the reference centres on the stored mean
  for (int64_t c = 0; c < C; ++c) mu[c] = static_cast<float>(M ? sum[c] / M : 0.0);
  // Second pass around the mean: no cancellation, unlike E[x^2] - E[x]^2.
  reduceRows(M, C, sq, 1, [&](int64_t m, double* acc) {
    const float* r = x + m * C;
    for (int64_t c = 0; c < C; ++c) {
      double d = r[c] - mu[c];
      acc[c] += d * d;
    }
  });
  std::vector<float> scale(C);
  for (int64_t c = 0; c < C; ++c) {
    double v = M ? sq[c] / M : 0.0;
    mean[c] = static_cast<float>(mu[c]);
    var[c] = static_cast<float>(v);
    scale[c] = static_cast<float>(gamma[c] / std::sqrt(v + eps));
  }
  // Centre first: x*scale + (beta - mean*scale) would cancel badly when |mean| >> std.
#pragma omp parallel for schedule(static)
  for (int64_t m = 0; m < M; ++m) {
    const float* r = x + m * C;
    float* o = y + m * C;
    for (int64_t c = 0; c < C; ++c) o[c] = (r[c] - mean[c]) * scale[c] + beta[c];
  }
  return info.Env().Undefined();
}

// batchNormGrad(dy, x, gamma, mean, variance, dx, dgamma, dbeta, M, C, eps)
Napi::Value BatchNormGrad(const Napi::CallbackInfo& info) {
  int64_t M = num(info, 8), C = num(info, 9);
  double eps = dbl(info, 10);
  const float* dy = f32(info, 0, M * C);
  const float* x = f32(info, 1, M * C);
  const float* gamma = f32(info, 2, C);
  const float* mean = f32(info, 3, C);
  const float* var = f32(info, 4, C);
  float* dx = f32(info, 5, M * C);
  float* dgamma = f32(info, 6, C);
  float* dbeta = f32(info, 7, C);
  std::vector<double> invstd(C);
  for (int64_t c = 0; c < C; ++c) invstd[c] = 1.0 / std::sqrt(static_cast<double>(var[c]) + eps);
  std::vector<double> sums;  // [dbeta | dgamma]
  reduceRows(M, C, sums, 2, [&](int64_t m, double* acc) {
    const float* g = dy + m * C;
    const float* r = x + m * C;
    for (int64_t c = 0; c < C; ++c) {
      acc[c] += g[c];
      acc[C + c] += g[c] * ((r[c] - static_cast<double>(mean[c])) * invstd[c]);
    }
  });
  // dx = gamma*invstd/M * (M*dy - dbeta - xhat*dgamma) = a*dy - b*(x - mean) - k, per channel, in double: dx sums
  // to zero over the rows in exact arithmetic (a bias feeding the BN gets no gradient), and float coefficients would
  // leave a residue there of about 1e-6 of the weight gradients' scale.
  std::vector<double> a(C), b(C), k(C);
  for (int64_t c = 0; c < C; ++c) {
    double db = sums[c], dg = sums[C + c];
    dbeta[c] = static_cast<float>(db);
    dgamma[c] = static_cast<float>(dg);
    double f = M ? gamma[c] * invstd[c] / M : 0.0;
    a[c] = f * M;
    b[c] = f * dg * invstd[c];
    k[c] = f * db;
  }
#pragma omp parallel for schedule(static)
  for (int64_t m = 0; m < M; ++m) {
    const float* g = dy + m * C;
    const float* r = x + m * C;
    float* o = dx + m * C;
    for (int64_t c = 0; c < C; ++c) o[c] = static_cast<float>(a[c] * g[c] - b[c] * (r[c] - static_cast<double>(mean[c])) - k[c]);
  }
  return info.Env().Undefined();
}

// batchNormInfer(x, mean, variance, offset, scale, y, M, C, eps): y = offset + (x - mean) * scale / sqrt(var + eps)
// per channel (last axis), in double like tfjs's FusedBatchNorm kernel (scale / sqrt precomputed per channel: the
// results agree with it to double precision before the final rounding to float).
Napi::Value BatchNormInfer(const Napi::CallbackInfo& info) {
  const int64_t M = num(info, 6), C = num(info, 7);
  const double eps = dbl(info, 8);
  const float* x = f32(info, 0, M * C);
  const float* mean = f32(info, 1, C);
  const float* var = f32(info, 2, C);
  const float* off = f32(info, 3, C);
  const float* sc = f32(info, 4, C);
  float* y = f32(info, 5, M * C);
  std::vector<double> k(C);
  for (int64_t c = 0; c < C; ++c) k[c] = sc[c] / std::sqrt(static_cast<double>(var[c]) + eps);
#pragma omp parallel for schedule(static) if (M * C > (1 << 15))
  for (int64_t m = 0; m < M; ++m) {
    const float* r = x + m * C;
    float* o = y + m * C;
    for (int64_t c = 0; c < C; ++c)
      o[c] = static_cast<float>(off[c] + (static_cast<double>(r[c]) - mean[c]) * k[c]);
  }
  return info.Env().Undefined();
}

// adamw(p, g, m, v, p2, m2, v2, scalars): the fused AdamW update of kernels/adamw.ts, op for op in float (so equal
// to the tfjs op sequence bit for bit). scalars: decay, beta1, 1-beta1, beta2, 1-beta2, bc2Sqrt, eps, stepSize.
Napi::Value AdamW(const Napi::CallbackInfo& info) {
  const int64_t n = info[0].As<Napi::TypedArray>().ElementLength();
  const float* p = f32(info, 0, n);
  const float* g = f32(info, 1, n);
  const float* m = f32(info, 2, n);
  const float* v = f32(info, 3, n);
  float* p2 = f32(info, 4, n);
  float* m2 = f32(info, 5, n);
  float* v2 = f32(info, 6, n);
  const float* s = f32(info, 7, 8);
  const float decay = s[0], b1 = s[1], c1 = s[2], b2 = s[3], c2 = s[4], bc = s[5], eps = s[6], step = s[7];
#pragma omp parallel for simd schedule(static) if (n > (1 << 15))
  for (int64_t i = 0; i < n; ++i) {
    const float decayed = p[i] * decay;
    const float mi = m[i] * b1 + g[i] * c1;
    const float vi = v[i] * b2 + (g[i] * g[i]) * c2;
    const float denom = std::sqrt(vi) / bc + eps;
    p2[i] = decayed - (mi / denom) * step;
    m2[i] = mi;
    v2[i] = vi;
  }
  return info.Env().Undefined();
}

}  // namespace

void initSnn(Napi::Env env, Napi::Object exports) {
  exports.Set("lif", Napi::Function::New(env, Lif));
  exports.Set("lifGrad", Napi::Function::New(env, LifGrad));
  exports.Set("batchNormTrain", Napi::Function::New(env, BatchNormTrain));
  exports.Set("batchNormGrad", Napi::Function::New(env, BatchNormGrad));
  exports.Set("batchNormInfer", Napi::Function::New(env, BatchNormInfer));
  exports.Set("adamw", Napi::Function::New(env, AdamW));
}

}  // namespace gs
