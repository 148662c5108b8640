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

// One vector register: 16 floats with AVX-512, else 8 (AVX2). A strip of C is four of them, held in registers while
// rows of B are added in: with 16 floats per vector on AVX2 the four sums and four loads took all 16 ymm registers
// and spilled (the event-driven product ran 2-3x slower than oneDNN at 10% nonzeros instead of faster).
#ifdef __AVX512F__
typedef float vec __attribute__((vector_size(64)));
#else
typedef float vec __attribute__((vector_size(32)));
#endif
constexpr int64_t kLanes = sizeof(vec) / sizeof(float);

// Below these fractions of nonzeros the event-driven kernels beat oneDNN's dense ones; where the two cross depends
// on the vector width (an event adds a row of B or of the filter, while oneDNN's GEMM gains more from wider vectors),
// so one row per ISA, picked at run time. Measured on 2 cores with `npm run bench:spikes` at spikformer-4-384's
// shapes (sparse time / dense time at the given rate):
//   AVX-512: X W^T [16384 x 384] x [384 x 1536]: 0.4 at 10%, 0.75 at 20%, 1.9 at 30%. dY^T X: 0.55 at 10%, ~1 at 20%.
//            conv 96->192 at 32x32 (batch 256 = 64 images x T 4): 0.27 at 3%, 0.7 at 7%, 1.4 at 15% against the
//            direct kernel; against Winograd (conv2d.cc; Zen 4, `bench:spikes --batch 16 --reps 5 --only conv`, CPU
//            time) 0.55 at 3%, 0.87 at 5%, 1.15 at 7%: crosses at 0.059, its filter gradient 0.067, 192->384 at
//            16x16 0.066 and 0.071, so 0.065.
//   AVX2 (AMD EPYC Zen 3, `bench:spikes --batch 16 --reps 5`, CPU time; each crossover interpolated between rates):
//            X W^T fc2 [4096 x 1536] x [1536 x 384]: 0.54 at 10%, 0.83 at 16%, 1.01 at 20%: crosses at 0.20;
//            proj [4096 x 384] x [384 x 384]: 0.77 at 10%, 0.99 at 14%, 1.18 at 16%: 0.14 (q, k, v, proj and fc1
//            all read 384 features, so 0.15). dY^T X fc2: 0.88 at 10%, 0.96 at 12%, 1.16 at 14%: 0.124.
//            conv 96->192 at 32x32 (batch 64 = 16 images x T 4): 0.67 at 10%, 0.88 at 14%, 1.06 at 16%: 0.154; its
//            filter gradient 0.154; conv 192->384 at 16x16 0.151, its filter gradient 0.153.
struct Thresholds {
  const char* isa;
  double matmul, matmulTA, conv;
};
constexpr Thresholds kAvx512 = {"avx512", 0.2, 0.12, 0.065};
constexpr Thresholds kAvx2 = {"avx2", 0.15, 0.12, 0.15};

// sparseThresholds(): { isa, matmul, matmulTA, conv } for this CPU (anything without AVX-512 takes the AVX2 row: the
// kernels are built for the machine itself, -march=native, so their vectors are no wider than AVX2's there).
Napi::Value SparseThresholds(const Napi::CallbackInfo& info) {
  const Thresholds& t = __builtin_cpu_supports("avx512f") ? kAvx512 : kAvx2;
  Napi::Object o = Napi::Object::New(info.Env());
  o.Set("isa", t.isa);
  o.Set("matmul", t.matmul);
  o.Set("matmulTA", t.matmulTA);
  o.Set("conv", t.conv);
  return o;
}

// density(a, samples): the fraction of nonzero entries; with samples > 0, estimated from that many evenly spaced
// entries (a quick look that rules out dense inputs without reading them all).
Napi::Value Density(const Napi::CallbackInfo& info) {
  const int64_t n = f32Length(info, 0);
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

// sparseMatMul(a, b, c, M, K, N, transposeB[, bias]): c[M, N] = a[M, K] b (+ bias[N], added to each finished sum, as
// a separate add would), b stored [K, N] or, transposed, [N, K].
Napi::Value SparseMatMul(const Napi::CallbackInfo& info) {
  const int64_t M = num(info, 3), K = num(info, 4), N = num(info, 5);
  const bool tB = flag(info, 6);
  const float* a = f32(info, 0, M * K);
  const float* b = f32(info, 1, K * N);
  float* c = f32(info, 2, M * N);
  const float* bias = optF32(info, 7, N);
  // B as rows of length N (a transposed B is copied once: K*N work against M*K*N).
  std::vector<float> bt;
  if (tB) {
    bt.resize(static_cast<size_t>(K * N));
#pragma omp parallel for schedule(static)
    for (int64_t k = 0; k < K; ++k)
      for (int64_t n = 0; n < N; ++n) bt[k * N + n] = b[n * K + k];
    b = bt.data();
  }
  // Row blocks of A, each turned into lists of nonzeros; then C in column strips of four vectors held in registers
  // while every listed row of B is added in: B's strip (K x kStrip floats) stays in L2 across the block.
  constexpr int64_t kRows = 64, kStrip = 4 * kLanes;
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
          vec s0 = {}, s1 = {}, s2 = {}, s3 = {};
          const int64_t nz = count[r - r0];
          constexpr size_t kB = sizeof(vec);
          for (int64_t t = 0; t < nz; ++t) {
            const float* br = b + static_cast<int64_t>(ix[t]) * N + n0;
            vec b0, b1, b2, b3;
            std::memcpy(&b0, br, kB), std::memcpy(&b1, br + kLanes, kB);
            std::memcpy(&b2, br + 2 * kLanes, kB), std::memcpy(&b3, br + 3 * kLanes, kB);
            if (ones) {
              s0 += b0, s1 += b1, s2 += b2, s3 += b3;
            } else {
              const float v = vx[t];
              s0 += v * b0, s1 += v * b1, s2 += v * b2, s3 += v * b3;
            }
          }
          float* cr = c + r * N + n0;
          if (bias) {
            vec c0, c1, c2, c3;
            std::memcpy(&c0, bias + n0, kB), std::memcpy(&c1, bias + n0 + kLanes, kB);
            std::memcpy(&c2, bias + n0 + 2 * kLanes, kB), std::memcpy(&c3, bias + n0 + 3 * kLanes, kB);
            s0 += c0, s1 += c1, s2 += c2, s3 += c3;
          }
          std::memcpy(cr, &s0, kB), std::memcpy(cr + kLanes, &s1, kB);
          std::memcpy(cr + 2 * kLanes, &s2, kB), std::memcpy(cr + 3 * kLanes, &s3, kB);
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
          if (bias)
            for (int64_t n = n0; n < N; ++n) cr[n] += bias[n];
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

// Event-driven convolution in tfjs layouts (NHWC input, HWIO filter, so a filter tap's output channels are one
// contiguous row). params as conv.cc: N,H,W,C,O,KH,KW,OH,OW,sh,sw,dh,dw,pt,pb,pl,pr.
struct SpConv {
  int64_t N, H, W, C, O, KH, KW, OH, OW, sh, sw, dh, dw, pt, pl;
  explicit SpConv(const int32_t* p)
      : N(p[0]), H(p[1]), W(p[2]), C(p[3]), O(p[4]), KH(p[5]), KW(p[6]), OH(p[7]), OW(p[8]), sh(p[9]), sw(p[10]),
        dh(p[11]), dw(p[12]), pt(p[13]), pl(p[15]) {}
  // The output coordinate input row iy feeds through filter row ky, or -1.
  int64_t out(int64_t i, int64_t k, int64_t s, int64_t d, int64_t pad, int64_t limit) const {
    const int64_t t = i + pad - k * d;
    if (t < 0 || t % s) return -1;
    return t / s < limit ? t / s : -1;
  }
};

// Calls f(c, v, ky, kx, oy, ox) for every nonzero input x[n, iy, ix, c] and every filter tap it reaches.
template <typename F>
inline void forEachEvent(const SpConv& p, const float* x, int64_t n, std::vector<int32_t>& idx, F f) {
  for (int64_t iy = 0; iy < p.H; ++iy)
    for (int64_t ix = 0; ix < p.W; ++ix) {
      const float* xr = x + ((n * p.H + iy) * p.W + ix) * p.C;
      int64_t nz = 0;
      for (int64_t c = 0; c < p.C; ++c)
        if (xr[c] != 0.f) idx[nz++] = static_cast<int32_t>(c);
      if (!nz) continue;
      for (int64_t ky = 0; ky < p.KH; ++ky) {
        const int64_t oy = p.out(iy, ky, p.sh, p.dh, p.pt, p.OH);
        if (oy < 0) continue;
        for (int64_t kx = 0; kx < p.KW; ++kx) {
          const int64_t ox = p.out(ix, kx, p.sw, p.dw, p.pl, p.OW);
          if (ox < 0) continue;
          for (int64_t t = 0; t < nz; ++t) f(idx[t], xr[idx[t]], ky, kx, oy, ox);
        }
      }
    }
}

// sparseConv2d(x, filter, y, params[, bias[, relu]]): y = conv(x, filter), adding the filter's output row for every
// nonzero input and tap; then the bias (a batch norm folded in, bn_fold.ts) added to each finished sum, and ReLU.
// Threads split the batch: an image's events only reach that image's outputs.
Napi::Value SparseConv2D(const Napi::CallbackInfo& info) {
  SpConv p(ints(info, 3, 17));
  const float* x = f32(info, 0, p.N * p.H * p.W * p.C);
  const float* w = f32(info, 1, p.KH * p.KW * p.C * p.O);
  float* y = f32(info, 2, p.N * p.OH * p.OW * p.O);
  const int64_t O = p.O;
  const float* bias = info.Length() > 4 && info[4].IsTypedArray() ? f32(info, 4, O) : nullptr;
  const bool relu = info.Length() > 5 && info[5].ToBoolean();
#pragma omp parallel
  {
    std::vector<int32_t> idx(p.C);
#pragma omp for schedule(dynamic, 1)
    for (int64_t n = 0; n < p.N; ++n) {
      std::fill(y + n * p.OH * p.OW * O, y + (n + 1) * p.OH * p.OW * O, 0.f);
      forEachEvent(p, x, n, idx, [&](int64_t c, float v, int64_t ky, int64_t kx, int64_t oy, int64_t ox) {
        float* yr = y + ((n * p.OH + oy) * p.OW + ox) * O;
        const float* wr = w + ((ky * p.KW + kx) * p.C + c) * O;
        if (v == 1.f) {
          for (int64_t o = 0; o < O; ++o) yr[o] += wr[o];
        } else {
          for (int64_t o = 0; o < O; ++o) yr[o] += v * wr[o];
        }
      });
      if (!bias && !relu) continue;
      float* yi = y + n * p.OH * p.OW * O;
      for (int64_t i = 0; i < p.OH * p.OW; ++i, yi += O)
        for (int64_t o = 0; o < O; ++o) {
          const float s = bias ? yi[o] + bias[o] : yi[o];
          yi[o] = relu && s < 0.f ? 0.f : s;
        }
    }
  }
  return info.Env().Undefined();
}

// sparseConv2dBackpropFilter(x, dy, dw, params): dw[ky, kx, c, :] += x * dy[n, oy, ox, :] over nonzero inputs;
// per-thread sums, added at the end. Each thread takes a fixed range of images, so the additions happen in the same
// order on every run (a dynamic schedule made training runs differ in the last bits, and resumes diverge).
Napi::Value SparseConv2DBackpropFilter(const Napi::CallbackInfo& info) {
  SpConv p(ints(info, 3, 17));
  const float* x = f32(info, 0, p.N * p.H * p.W * p.C);
  const float* dy = f32(info, 1, p.N * p.OH * p.OW * p.O);
  float* dw = f32(info, 2, p.KH * p.KW * p.C * p.O);
  const int64_t O = p.O, F = p.KH * p.KW * p.C * O;
  const int nt = omp_get_max_threads();
  std::vector<float> part(static_cast<size_t>(nt) * F, 0.f);
#pragma omp parallel
  {
    std::vector<int32_t> idx(p.C);
    const int t = omp_get_thread_num(), T = omp_get_num_threads();
    float* mine = part.data() + static_cast<size_t>(t) * F;
    for (int64_t n = p.N * t / T; n < p.N * (t + 1) / T; ++n)
      forEachEvent(p, x, n, idx, [&](int64_t c, float v, int64_t ky, int64_t kx, int64_t oy, int64_t ox) {
        const float* g = dy + ((n * p.OH + oy) * p.OW + ox) * O;
        float* wr = mine + ((ky * p.KW + kx) * p.C + c) * O;
        if (v == 1.f) {
          for (int64_t o = 0; o < O; ++o) wr[o] += g[o];
        } else {
          for (int64_t o = 0; o < O; ++o) wr[o] += v * g[o];
        }
      });
  }
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < F; ++i) {
    float s = 0.f;
    for (int t = 0; t < nt; ++t) s += part[static_cast<size_t>(t) * F + i];
    dw[i] = s;
  }
  return info.Env().Undefined();
}

}  // namespace

static void initSparse(Napi::Env env, Napi::Object exports) {
  exports.Set("sparseThresholds", Napi::Function::New(env, SparseThresholds));
  exports.Set("density", Napi::Function::New(env, Density));
  exports.Set("sparseMatMul", Napi::Function::New(env, SparseMatMul));
  exports.Set("sparseMatMulTA", Napi::Function::New(env, SparseMatMulTA));
  exports.Set("sparseConv2d", Napi::Function::New(env, SparseConv2D));
  exports.Set("sparseConv2dBackpropFilter", Napi::Function::New(env, SparseConv2DBackpropFilter));
}

static const Register registered(initSparse);

}  // namespace gs
