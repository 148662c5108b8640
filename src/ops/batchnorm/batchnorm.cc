// Batch norm kernels over a channels-last [M, C] view: train-mode forward and backward (the JS reference:
// src/ops/batchnorm/cpu.ts), statistics in double, optionally fused with the ReLU after it; and tfjs's eval-mode
// FusedBatchNorm.
#include "common.h"
#include <cmath>
#include <cstring>
#include <omp.h>
#include <vector>

namespace gs {
namespace {

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

// tfjs's Relu and its gradient dy * step(y): NaN stays NaN, -0 becomes +0 (and 0 * negative dy gives -0, as there).
inline float relu(float v) { return v <= 0.f ? 0.f : v; }
// step(y) from y's bits, integer selects only: GCC (trapping math) vectorizes no float compare-and-select here.
inline float reluGrad(float dy, float y) {
  uint32_t b;
  std::memcpy(&b, &y, 4);
  const uint32_t nan = (b & 0x7fffffffu) > 0x7f800000u ? ~0u : 0u;
  const uint32_t one = static_cast<int32_t>(b) > 0 ? 0x3f800000u : 0u;  // y > 0 (y is not NaN here)
  const uint32_t s = (nan & b) | (~nan & one);
  float step;
  std::memcpy(&step, &s, 4);
  return dy * step;
}

// batchNormTrain(x, gamma, beta, y, mean, variance, M, C, eps, relu): relu = true applies ReLU to y in the same pass.
Napi::Value BatchNormTrain(const Napi::CallbackInfo& info) {
  int64_t M = num(info, 6), C = num(info, 7);
  double eps = dbl(info, 8);
  const bool withRelu = flag(info, 9);
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
    if (withRelu)
      for (int64_t c = 0; c < C; ++c) o[c] = relu(o[c]);
  }
  return info.Env().Undefined();
}

// The backward pass; grad(i) is the gradient reaching the BN's output at element i (dy, or dy through the ReLU).
template <typename Grad>
void bnBackward(Grad grad, const float* x, const float* gamma, const float* mean, const float* var, float* dx,
                float* dgamma, float* dbeta, int64_t M, int64_t C, double eps) {
  std::vector<double> invstd(C);
  for (int64_t c = 0; c < C; ++c) invstd[c] = 1.0 / std::sqrt(static_cast<double>(var[c]) + eps);
  std::vector<double> sums;  // [dbeta | dgamma]
  reduceRows(M, C, sums, 2, [&](int64_t m, double* acc) {
    const float* r = x + m * C;
#pragma omp simd
    for (int64_t c = 0; c < C; ++c) {
      const float g = grad(m * C + c);
      acc[c] += g;
      acc[C + c] += g * ((r[c] - static_cast<double>(mean[c])) * invstd[c]);
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
    const float* r = x + m * C;
    float* o = dx + m * C;
#pragma omp simd
    for (int64_t c = 0; c < C; ++c)
      o[c] = static_cast<float>(a[c] * grad(m * C + c) - b[c] * (r[c] - static_cast<double>(mean[c])) - k[c]);
  }
}

// batchNormGrad(dy, x, gamma, mean, variance, dx, dgamma, dbeta, M, C, eps, y): with y (the output of a forward
// with ReLU) the incoming gradient first goes through the ReLU's, dy * step(y), on the fly.
Napi::Value BatchNormGrad(const Napi::CallbackInfo& info) {
  int64_t M = num(info, 8), C = num(info, 9);
  double eps = dbl(info, 10);
  const float* ry = optF32(info, 11, M * C);
  const float* dy = f32(info, 0, M * C);
  const float* x = f32(info, 1, M * C);
  const float* gamma = f32(info, 2, C);
  const float* mean = f32(info, 3, C);
  const float* var = f32(info, 4, C);
  float* dx = f32(info, 5, M * C);
  float* dgamma = f32(info, 6, C);
  float* dbeta = f32(info, 7, C);
  if (ry)
    bnBackward([=](int64_t i) { return reluGrad(dy[i], ry[i]); }, x, gamma, mean, var, dx, dgamma, dbeta, M, C, eps);
  else
    bnBackward([=](int64_t i) { return dy[i]; }, x, gamma, mean, var, dx, dgamma, dbeta, M, C, eps);
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

}  // namespace

static void initBatchNorm(Napi::Env env, Napi::Object exports) {
  exports.Set("batchNormTrain", Napi::Function::New(env, BatchNormTrain));
  exports.Set("batchNormGrad", Napi::Function::New(env, BatchNormGrad));
  exports.Set("batchNormInfer", Napi::Function::New(env, BatchNormInfer));
}

static const Register registered(initBatchNorm);

}  // namespace gs
