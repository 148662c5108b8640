// Event-driven matrix products for spike inputs: when most entries of A are zero (a LIF layer fires 1-20% of the
// time), C = A B adds the rows of B picked by A's nonzeros instead of multiplying every entry. `density` measures
// how sparse A is, so the caller can choose per call between this and the dense oneDNN product.
#include "common.h"
#include <algorithm>
#include <cstring>
#include <omp.h>
#include <vector>

namespace gs {
namespace {

typedef float v16 __attribute__((vector_size(64)));  // 16 floats: one AVX-512 register

// density(a, samples): the fraction of nonzero entries; with samples > 0, estimated from that many evenly spaced
// entries (a quick look that rules out dense inputs without reading them all).
Napi::Value Density(const Napi::CallbackInfo& info) {
  const int64_t n = info[0].As<Napi::TypedArray>().ElementLength();
  const float* a = f32(info, 0, n);
  const int64_t samples = num(info, 1);
  if (n == 0) return Napi::Number::New(info.Env(), 0.0);
  if (samples > 0 && samples < n) {
    int64_t nz = 0;
    for (int64_t i = 0; i < samples; ++i) nz += a[i * n / samples] != 0.f;
    return Napi::Number::New(info.Env(), static_cast<double>(nz) / samples);
  }
  int64_t nz = 0;
#pragma omp parallel for simd reduction(+ : nz) schedule(static) if (n > (1 << 16))
  for (int64_t i = 0; i < n; ++i) nz += a[i] != 0.f;
  return Napi::Number::New(info.Env(), static_cast<double>(nz) / n);
}

// sparseMatMul(a, b, c, M, K, N, transposeB): c[M, N] = a[M, K] b, b stored [K, N] or, transposed, [N, K].
Napi::Value SparseMatMul(const Napi::CallbackInfo& info) {
  const int64_t M = num(info, 3), K = num(info, 4), N = num(info, 5);
  const bool tB = info[6].ToBoolean();
  const float* a = f32(info, 0, M * K);
  const float* b = f32(info, 1, K * N);
  float* c = f32(info, 2, M * N);
  // B as rows of length N (a transposed B is copied once: K*N work against M*K*N).
  std::vector<float> bt;
  if (tB) {
    bt.resize(static_cast<size_t>(K * N));
#pragma omp parallel for schedule(static)
    for (int64_t k = 0; k < K; ++k)
      for (int64_t n = 0; n < N; ++n) bt[k * N + n] = b[n * K + k];
    b = bt.data();
  }
  // Row blocks of A, each turned into lists of nonzeros; then C in column strips of 64 floats held in four vector
  // registers while every listed row of B is added in: B's strip (K x 64 floats) stays in L2 across the block.
  constexpr int64_t kRows = 64, kStrip = 64;
  const int64_t blocks = (M + kRows - 1) / kRows;
#pragma omp parallel
  {
    std::vector<int32_t> idx(static_cast<size_t>(kRows * K));
    std::vector<float> val(static_cast<size_t>(kRows * K));
    std::vector<int64_t> count(kRows);
#pragma omp for schedule(dynamic, 2)
    for (int64_t blk = 0; blk < blocks; ++blk) {
      const int64_t r0 = blk * kRows, r1 = std::min(M, r0 + kRows);
      bool ones = true;  // all nonzeros are 1 (spikes): adds only
      for (int64_t r = r0; r < r1; ++r) {
        const float* ar = a + r * K;
        int32_t* ix = idx.data() + (r - r0) * K;
        float* vx = val.data() + (r - r0) * K;
        int64_t nz = 0;
        for (int64_t k = 0; k < K; ++k)
          if (ar[k] != 0.f) ix[nz] = static_cast<int32_t>(k), vx[nz] = ar[k], ones &= ar[k] == 1.f, ++nz;
        count[r - r0] = nz;
      }
      int64_t n0 = 0;
      for (; n0 + kStrip <= N; n0 += kStrip) {
        for (int64_t r = r0; r < r1; ++r) {
          const int32_t* ix = idx.data() + (r - r0) * K;
          const float* vx = val.data() + (r - r0) * K;
          v16 s0 = {}, s1 = {}, s2 = {}, s3 = {};
          const int64_t nz = count[r - r0];
          for (int64_t t = 0; t < nz; ++t) {
            const float* br = b + static_cast<int64_t>(ix[t]) * N + n0;
            v16 b0, b1, b2, b3;
            std::memcpy(&b0, br, 64), std::memcpy(&b1, br + 16, 64), std::memcpy(&b2, br + 32, 64), std::memcpy(&b3, br + 48, 64);
            if (ones) {
              s0 += b0, s1 += b1, s2 += b2, s3 += b3;
            } else {
              const float v = vx[t];
              s0 += v * b0, s1 += v * b1, s2 += v * b2, s3 += v * b3;
            }
          }
          float* cr = c + r * N + n0;
          std::memcpy(cr, &s0, 64), std::memcpy(cr + 16, &s1, 64), std::memcpy(cr + 32, &s2, 64), std::memcpy(cr + 48, &s3, 64);
        }
      }
      if (n0 < N) {  // the last columns, fewer than a strip
        for (int64_t r = r0; r < r1; ++r) {
          float* cr = c + r * N;
          for (int64_t n = n0; n < N; ++n) cr[n] = 0.f;
          const int32_t* ix = idx.data() + (r - r0) * K;
          const float* vx = val.data() + (r - r0) * K;
          for (int64_t t = 0; t < count[r - r0]; ++t) {
            const float* br = b + static_cast<int64_t>(ix[t]) * N;
            for (int64_t n = n0; n < N; ++n) cr[n] += vx[t] * br[n];
          }
        }
      }
    }
  }
  return info.Env().Undefined();
}

// sparseMatMulTA(a, b, c, R, P, Q): c[P, Q] = a^T b with a [R, P] dense and b [R, Q] mostly zeros (a weight
// gradient dY^T X whose X is spikes). Each thread streams its rows once, adding a's row into row j of a private
// [Q, P] sum for every nonzero b[r, j]; the sums are added and transposed at the end.
Napi::Value SparseMatMulTA(const Napi::CallbackInfo& info) {
  const int64_t R = num(info, 3), P = num(info, 4), Q = num(info, 5);
  const float* a = f32(info, 0, R * P);
  const float* b = f32(info, 1, R * Q);
  float* c = f32(info, 2, P * Q);
  const int nt = omp_get_max_threads();
  std::vector<float> part(static_cast<size_t>(nt) * Q * P, 0.f);
#pragma omp parallel
  {
    const int t = omp_get_thread_num(), T = omp_get_num_threads();
    float* mine = part.data() + static_cast<size_t>(t) * Q * P;
    const int64_t r0 = R * t / T, r1 = R * (t + 1) / T;
    for (int64_t r = r0; r < r1; ++r) {
      const float* br = b + r * Q;
      const float* ar = a + r * P;
      for (int64_t j = 0; j < Q; ++j) {
        const float v = br[j];
        if (v == 0.f) continue;
        float* row = mine + j * P;
        if (v == 1.f) {
          for (int64_t i = 0; i < P; ++i) row[i] += ar[i];
        } else {
          for (int64_t i = 0; i < P; ++i) row[i] += v * ar[i];
        }
      }
    }
  }
#pragma omp parallel for schedule(static)
  for (int64_t p = 0; p < P; ++p)
    for (int64_t q = 0; q < Q; ++q) {
      float v = 0.f;
      for (int t = 0; t < nt; ++t) v += part[(static_cast<size_t>(t) * Q + q) * P + p];
      c[p * Q + q] = v;
    }
  return info.Env().Undefined();
}

}  // namespace

void initSparse(Napi::Env env, Napi::Object exports) {
  exports.Set("density", Napi::Function::New(env, Density));
  exports.Set("sparseMatMul", Napi::Function::New(env, SparseMatMul));
  exports.Set("sparseMatMulTA", Napi::Function::New(env, SparseMatMulTA));
}

}  // namespace gs
