// Event-driven matrix products for spike inputs: when most entries of A are zero (a LIF layer fires 1-20% of the
// time), C = A B adds the rows of B picked by A's nonzeros instead of multiplying every entry. `density` measures
// how sparse A is, so the caller can choose per call between this and the dense oneDNN product.
#include "common.h"
#include <algorithm>
#include <cstring>
#include <immintrin.h>
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

// The nonzeros of x[0..n): their indices into idx and values into val (each with room for n + 16 entries: a vector
// store may write past the last one), clearing `ones` if any is not 1. NaN counts as nonzero, as `x != 0` does. The
// scan was most of an event-driven product's time at low rates (a branch per entry); with vectors it is a compare
// per 16 (or 8) entries and a compress or a bit scan per nonzero.
inline int64_t nonzeros(const float* x, int64_t n, int32_t* idx, float* val, bool& ones) {
  int64_t nz = 0, k = 0;
#ifdef __AVX512F__
  const __m512i iota = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
  const __m512 zero = _mm512_setzero_ps(), one = _mm512_set1_ps(1.f);
  for (; k + 16 <= n; k += 16) {
    const __m512 v = _mm512_loadu_ps(x + k);
    const __mmask16 m = _mm512_cmp_ps_mask(v, zero, _CMP_NEQ_UQ);
    if (!m) continue;
    ones &= _mm512_mask_cmp_ps_mask(m, v, one, _CMP_NEQ_UQ) == 0;
    // Compress in registers, then a full store: a compressing store to memory is microcoded and slow on Zen 4.
    _mm512_storeu_si512(idx + nz, _mm512_maskz_compress_epi32(m, _mm512_add_epi32(iota, _mm512_set1_epi32(k))));
    _mm512_storeu_ps(val + nz, _mm512_maskz_compress_ps(m, v));
    nz += __builtin_popcount(m);
  }
#elif defined(__AVX2__)
  const __m256 zero = _mm256_setzero_ps(), one = _mm256_set1_ps(1.f);
  for (; k + 8 <= n; k += 8) {
    const __m256 v = _mm256_loadu_ps(x + k);
    unsigned m = _mm256_movemask_ps(_mm256_cmp_ps(v, zero, _CMP_NEQ_UQ));
    if (!m) continue;
    ones &= (_mm256_movemask_ps(_mm256_cmp_ps(v, one, _CMP_NEQ_UQ)) & m) == 0;
    for (; m; m &= m - 1) {
      const int b = __builtin_ctz(m);
      idx[nz] = static_cast<int32_t>(k + b), val[nz] = x[k + b], ++nz;
    }
  }
#endif
  for (; k < n; ++k)
    if (x[k] != 0.f) idx[nz] = static_cast<int32_t>(k), val[nz] = x[k], ones &= x[k] == 1.f, ++nz;
  return nz;
}

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
// Then (6 Dec 2026) the scans vectorized, B in panels walked kDepth rows at a time, and both conv kernels gathered
// (per output pixel forward, per filter row for the gradient) instead of scattered per input
// (`bench:spikes --batch 16 --reps 5 --rates 0.02,0.05,0.1,0.15,0.2,0.3`, CPU time):
//   AVX-512 (Intel Sapphire Rapids): X W^T fc2 0.54 at 5%, 0.75 at 10%, 0.8-1.1 at 20%: 0.2 kept. conv forward
//            96->192 (Winograd) 0.82 at 5%, 1.12 at 10%; 192->384 0.34, 0.47, 0.78 at 20%: 0.1 between the two.
//            Filter gradient 96->192 0.74 at 5%, 1.16 at 10% (crossing at 0.072-0.081 in two runs); 192->384 0.50,
//            0.84 (0.078-0.128): 0.08.
//   AVX2 (the same machine, the addon built -mno-avx512f and ONEDNN_MAX_CPU_ISA=AVX2: a stand-in for a real AVX2
//            CPU, so the rows stay below its crossovers): X W^T fc2 0.54 at 10%, 0.77 at 20%, 1.0 at 30%; proj 0.84
//            at 20%: 0.2. dY^T X crosses at 0.136: 0.12 kept. conv forward 0.52-0.34 at 10%, 0.65-0.61 at 20%,
//            crossing at 0.29 and above 0.3: 0.25. Filter gradient 0.38-0.43 at 10%, 0.76-0.81 at 20%: 0.2.
//   AVX-512 on AMD (EPYC Zen 4, 6 Dec 2026, `bench:spikes --batch 16 --reps 5`, then --reps 7 at 0.1-0.5): Zen 4
//            runs 512-bit FMAs as two 256-bit halves, so oneDNN's dense products are half as fast per clock as on
//            Sapphire Rapids while the event-driven adds, bound by loads, are not. Crossovers: X W^T fc2 0.29-0.37,
//            proj 0.36-0.46: 0.25. dY^T X 0.165-0.183: 0.15. The convolutions against Winograd (conv2d.cc, the
//            bench's 64-image batch in slices): forward 96->192 0.163, 192->384 0.174: 0.15. Filter gradient 0.122
//            and 0.104: 0.1. (Against the direct kernel, before the slices, they crossed at 0.38-0.50 and 0.27-0.36.)
struct Thresholds {
  const char* isa;
  double matmul, matmulTA, conv, convFilter;
};
constexpr Thresholds kAvx512 = {"avx512", 0.2, 0.12, 0.1, 0.08};
constexpr Thresholds kAvx512Amd = {"avx512-amd", 0.25, 0.15, 0.15, 0.1};
constexpr Thresholds kAvx2 = {"avx2", 0.2, 0.12, 0.25, 0.2};

// sparseThresholds(): { isa, matmul, matmulTA, conv, convFilter } for this CPU (anything without AVX-512 takes the
// AVX2 row: the kernels are built for the machine itself, -march=native, so their vectors are no wider than AVX2's
// there; AMD's AVX-512 takes its own row, measured on Zen 4).
Napi::Value SparseThresholds(const Napi::CallbackInfo& info) {
  const bool avx512 = __builtin_cpu_supports("avx512f");
  const Thresholds& t = !avx512 ? kAvx2 : __builtin_cpu_is("amd") ? kAvx512Amd : kAvx512;
  Napi::Object o = Napi::Object::New(info.Env());
  o.Set("isa", t.isa);
  o.Set("matmul", t.matmul);
  o.Set("matmulTA", t.matmulTA);
  o.Set("conv", t.conv);
  o.Set("convFilter", t.convFilter);
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

// Four vectors of C's columns: the strip of a row held in registers while events add rows of B into it.
constexpr int64_t kStrip = 4 * kLanes;

// B [K, N] (or, transposed, [N, K]) as panels of kStrip columns, each [K, kStrip] contiguous and the last padded with
// zeros: a panel's rows are then 256 contiguous bytes (AVX-512), where B's own rows, N floats apart, mapped a block's
// rows onto a few L1 sets and evicted each other.
// packPanels writes them into `out` (P K kStrip floats, its padding already zero); panels returns a new array.
void packPanels(const float* b, int64_t K, int64_t N, bool tB, float* out) {
  const int64_t P = (N + kStrip - 1) / kStrip;
#pragma omp parallel for schedule(static)
  for (int64_t p = 0; p < P; ++p) {
    const int64_t n0 = p * kStrip, w = std::min(kStrip, N - n0);
    float* panel = out + p * K * kStrip;
    if (!tB) {
      for (int64_t k = 0; k < K; ++k) std::memcpy(panel + k * kStrip, b + k * N + n0, w * sizeof(float));
      continue;
    }
    // Transposed: 32 x 32 tiles, so that neither side is read a column at a time.
    for (int64_t k0 = 0; k0 < K; k0 += 32)
      for (int64_t j = 0; j < w; ++j)
        for (int64_t k = k0; k < std::min(K, k0 + 32); ++k) panel[k * kStrip + j] = b[(n0 + j) * K + k];
  }
}

std::vector<float> panels(const float* b, int64_t K, int64_t N, bool tB) {
  std::vector<float> out(static_cast<size_t>((N + kStrip - 1) / kStrip * K * kStrip), 0.f);
  packPanels(b, K, N, tB, out.data());
  return out;
}

// One row's events with index below kEnd, from position t on, added into the strip s (the kStrip sums of one row of
// C); returns where it stopped. Spikes (ones) only add; other values multiply first.
inline int64_t addEvents(vec* s, const float* panel, const int32_t* ix, const float* vx, int64_t t, int64_t nz,
                         int64_t kEnd, bool ones) {
  constexpr size_t kB = sizeof(vec);
  int64_t stop = t;
  while (stop < nz && ix[stop] < kEnd) ++stop;
  // Two events at a time into two sets of sums: eight independent additions hide the adder's latency.
  vec u[4] = {};
  for (; t + 2 <= stop; t += 2) {
    const float* br = panel + static_cast<int64_t>(ix[t]) * kStrip;
    const float* bq = panel + static_cast<int64_t>(ix[t + 1]) * kStrip;
    const float v = vx[t], w = vx[t + 1];
    for (int i = 0; i < 4; ++i) {
      vec x, y;
      std::memcpy(&x, br + i * kLanes, kB), std::memcpy(&y, bq + i * kLanes, kB);
      s[i] += ones ? x : v * x, u[i] += ones ? y : w * y;
    }
  }
  for (int i = 0; i < 4; ++i) s[i] += u[i];
  for (; t < stop; ++t) {
    const float* br = panel + static_cast<int64_t>(ix[t]) * kStrip;
    const float v = vx[t];
    for (int i = 0; i < 4; ++i) {
      vec x;
      std::memcpy(&x, br + i * kLanes, kB);
      s[i] += ones ? x : v * x;
    }
  }
  return stop;
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
  const std::vector<float> bp = panels(b, K, N, tB);  // K*N work against M*K*N
  // Row blocks of A, each turned into lists of nonzeros; then each strip of C in passes over kDepth rows of B: a
  // panel's kDepth x kStrip floats (32 KB) stay in L1 for the whole block of rows.
  constexpr int64_t kRows = 64, kDepth = 32768 / (kStrip * sizeof(float));
  const int64_t blocks = (M + kRows - 1) / kRows, P = (N + kStrip - 1) / kStrip;
#pragma omp parallel
  {
    std::vector<int32_t> idx(static_cast<size_t>(kRows * K + 16));
    std::vector<float> val(static_cast<size_t>(kRows * K + 16));
    std::vector<int64_t> count(kRows), pos(kRows);
#pragma omp for schedule(dynamic, 2)
    for (int64_t blk = 0; blk < blocks; ++blk) {
      const int64_t r0 = blk * kRows, r1 = std::min(M, r0 + kRows);
      bool ones = true;  // all nonzeros are 1 (spikes): adds only
      for (int64_t r = r0; r < r1; ++r)
        count[r - r0] = nonzeros(a + r * K, K, idx.data() + (r - r0) * K, val.data() + (r - r0) * K, ones);
      for (int64_t p = 0; p < P; ++p) {
        const int64_t n0 = p * kStrip, w = std::min(kStrip, N - n0);
        const float* panel = bp.data() + p * K * kStrip;
        std::fill(pos.begin(), pos.end(), 0);
        for (int64_t k0 = 0; k0 < K; k0 += kDepth) {
          const int64_t kEnd = std::min(K, k0 + kDepth);
          for (int64_t r = r0; r < r1; ++r) {
            float* cr = c + r * N + n0;
            vec s[4] = {};
            if (k0 > 0) std::memcpy(s, cr, w * sizeof(float));  // the sums of the passes before
            const int64_t o = (r - r0) * K;
            pos[r - r0] = addEvents(s, panel, idx.data() + o, val.data() + o, pos[r - r0], count[r - r0], kEnd, ones);
            if (bias && kEnd == K) {
              vec bv[4] = {};
              std::memcpy(bv, bias + n0, w * sizeof(float));
              for (int i = 0; i < 4; ++i) s[i] += bv[i];
            }
            std::memcpy(cr, s, w * sizeof(float));
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
    std::vector<int32_t> idx(static_cast<size_t>(Q + 16));
    std::vector<float> val(static_cast<size_t>(Q + 16));
    for (int64_t r = r0; r < r1; ++r) {
      const float* ar = a + r * P;
      bool ones = true;
      const int64_t nz = nonzeros(b + r * Q, Q, idx.data(), val.data(), ones);
      for (int64_t e = 0; e < nz; ++e) {
        const float v = val[e];
        float* row = mine + static_cast<int64_t>(idx[e]) * P;
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

// One image's nonzeros, pixel by pixel: pixel i's channels and values are entries start[i] .. start[i + 1] of idx
// and val. A thread's lists, reused image after image.
struct ImageEvents {
  std::vector<int32_t> idx;
  std::vector<float> val;
  std::vector<int64_t> start;
  bool ones = true;  // every nonzero is 1
  ImageEvents(int64_t pixels, int64_t C)
      : idx(static_cast<size_t>(pixels * C + 16)), val(static_cast<size_t>(pixels * C + 16)),
        start(static_cast<size_t>(pixels + 1)) {}
  // Lists image n of x [N, pixels, C].
  void list(const float* x, int64_t n, int64_t pixels, int64_t C) {
    ones = true;
    start[0] = 0;
    for (int64_t i = 0; i < pixels; ++i) {
      const int64_t at = start[i];
      start[i + 1] = at + nonzeros(x + (n * pixels + i) * C, C, idx.data() + at, val.data() + at, ones);
    }
  }
};

// sparseConv2d(x, filter, y, params[, bias[, relu]]): y = conv(x, filter), then the bias (a batch norm folded in,
// bn_fold.ts) and ReLU. Gathered per output pixel and filter tap: kStrip of its channels at a time sum in registers the
// filter rows of the tap's input's nonzeros (scattering each event's row into the outputs it reaches read and wrote
// an output row per event). Threads split the batch.
Napi::Value SparseConv2D(const Napi::CallbackInfo& info) {
  SpConv p(ints(info, 3, 17));
  const float* x = f32(info, 0, p.N * p.H * p.W * p.C);
  const float* w = f32(info, 1, p.KH * p.KW * p.C * p.O);
  float* y = f32(info, 2, p.N * p.OH * p.OW * p.O);
  const int64_t O = p.O, C = p.C, pixels = p.H * p.W;
  const float* bias = info.Length() > 4 && info[4].IsTypedArray() ? f32(info, 4, O) : nullptr;
  const bool relu = info.Length() > 5 && info[5].ToBoolean();
  // The filter, HWIO, is a [KH * KW * C, O] matrix: its panels are kStrip output channels wide.
  const std::vector<float> wp = panels(w, p.KH * p.KW * C, O, false);
  const int64_t P = (O + kStrip - 1) / kStrip;
#pragma omp parallel
  {
    ImageEvents ev(pixels, C);
    const std::vector<int64_t>& start = ev.start;
#pragma omp for schedule(dynamic, 1)
    for (int64_t n = 0; n < p.N; ++n) {
      ev.list(x, n, pixels, C);
      float* yn = y + n * p.OH * p.OW * O;
      std::fill(yn, yn + p.OH * p.OW * O, 0.f);
      for (int64_t q = 0; q < P; ++q) {
        const int64_t o0 = q * kStrip, width = std::min(kStrip, O - o0);
        // An output row at a time, tap by tap: the row's strip and the tap's rows of the panel (C x kStrip floats)
        // stay in L1 while every pixel of the row adds its events.
        for (int64_t oy = 0; oy < p.OH; ++oy)
          for (int64_t ky = 0; ky < p.KH; ++ky) {
            const int64_t iy = oy * p.sh - p.pt + ky * p.dh;
            if (iy < 0 || iy >= p.H) continue;
            for (int64_t kx = 0; kx < p.KW; ++kx) {
              const float* tap = wp.data() + (q * p.KH * p.KW + ky * p.KW + kx) * C * kStrip;
              for (int64_t ox = 0; ox < p.OW; ++ox) {
                const int64_t ix = ox * p.sw - p.pl + kx * p.dw;
                if (ix < 0 || ix >= p.W) continue;
                const int64_t i = iy * p.W + ix;
                if (start[i] == start[i + 1]) continue;
                float* yr = yn + (oy * p.OW + ox) * O + o0;
                vec s[4] = {};
                std::memcpy(s, yr, width * sizeof(float));
                addEvents(s, tap, ev.idx.data(), ev.val.data(), start[i], start[i + 1], C, ev.ones);
                std::memcpy(yr, s, width * sizeof(float));
              }
            }
          }
      }
      if (!bias && !relu) continue;
      for (int64_t i = 0; i < p.OH * p.OW; ++i)
        for (int64_t o = 0; o < O; ++o) {
          float* v = yn + i * O + o;
          const float b = bias ? *v + bias[o] : *v;
          *v = relu && b < 0.f ? 0.f : b;
        }
    }
  }
  return info.Env().Undefined();
}

// sparseConv2dBackpropFilter(x, dy, dw, params): dw[ky, kx, c, :] = sum of x * dy[n, oy, ox, :] over nonzero inputs.
// Gathered per filter row: for each tap and input channel, kStrip output channels sum in registers the gradient rows
// of the outputs the channel's nonzeros reach (dy packed in panels, an image at a time), and are added into the
// thread's own dw once per image (scattering each event's gradient row into dw read and wrote a dw row per event).
// Each thread takes a fixed range of images and the per-thread sums are added in thread order, so the additions
// happen in the same order on every run (a dynamic schedule made training runs differ in the last bits, and resumes
// diverge).
Napi::Value SparseConv2DBackpropFilter(const Napi::CallbackInfo& info) {
  SpConv p(ints(info, 3, 17));
  const float* x = f32(info, 0, p.N * p.H * p.W * p.C);
  const float* dy = f32(info, 1, p.N * p.OH * p.OW * p.O);
  float* dw = f32(info, 2, p.KH * p.KW * p.C * p.O);
  const int64_t O = p.O, C = p.C, F = p.KH * p.KW * C * O, pixels = p.H * p.W, outs = p.OH * p.OW;
  const int64_t P = (O + kStrip - 1) / kStrip;
  const int nt = omp_get_max_threads();
  std::vector<float> part(static_cast<size_t>(nt) * F, 0.f);
  // The output pixel each input pixel reaches through each tap, or -1.
  std::vector<int32_t> reach(static_cast<size_t>(p.KH * p.KW * pixels));
  for (int64_t ky = 0; ky < p.KH; ++ky)
    for (int64_t kx = 0; kx < p.KW; ++kx)
      for (int64_t iy = 0; iy < p.H; ++iy)
        for (int64_t ix = 0; ix < p.W; ++ix) {
          const int64_t oy = p.out(iy, ky, p.sh, p.dh, p.pt, p.OH), ox = p.out(ix, kx, p.sw, p.dw, p.pl, p.OW);
          const int32_t o = oy < 0 || ox < 0 ? -1 : static_cast<int32_t>(oy * p.OW + ox);
          reach[((ky * p.KW + kx) * p.H + iy) * p.W + ix] = o;
        }
#pragma omp parallel
  {
    const int t = omp_get_thread_num(), T = omp_get_num_threads();
    float* mine = part.data() + static_cast<size_t>(t) * F;
    ImageEvents ev(pixels, C);
    std::vector<float> dyp(static_cast<size_t>(P * outs * kStrip), 0.f);  // one image's dy in panels
    // One image's nonzeros by channel: channel c's are entries first[c] .. first[c + 1] (input pixel, value).
    std::vector<int64_t> first(static_cast<size_t>(C + 1));
    std::vector<int32_t> pix(static_cast<size_t>(pixels * C));
    std::vector<float> vals(static_cast<size_t>(pixels * C));
    std::vector<int32_t> target(static_cast<size_t>(pixels + 16));  // a tap's output pixel for each of them
    std::vector<float> tval(static_cast<size_t>(pixels + 16));
    for (int64_t n = p.N * t / T; n < p.N * (t + 1) / T; ++n) {
      packPanels(dy + n * outs * O, outs, O, false, dyp.data());
      // The image's nonzeros pixel by pixel, regrouped by channel (count per channel, then place).
      ev.list(x, n, pixels, C);
      std::fill(first.begin(), first.end(), 0);
      for (int64_t e = 0; e < ev.start[pixels]; ++e) ++first[ev.idx[e] + 1];
      for (int64_t c = 0; c < C; ++c) first[c + 1] += first[c];
      std::vector<int64_t> fill(first.begin(), first.end() - 1);
      for (int64_t i = 0; i < pixels; ++i)
        for (int64_t e = ev.start[i]; e < ev.start[i + 1]; ++e) {
          const int64_t at = fill[ev.idx[e]]++;
          pix[at] = static_cast<int32_t>(i), vals[at] = ev.val[e];
        }
      const bool ones = ev.ones;
      for (int64_t ky = 0; ky < p.KH; ++ky)
        for (int64_t kx = 0; kx < p.KW; ++kx)
          for (int64_t c = 0; c < C; ++c) {
            const int32_t* to = reach.data() + (ky * p.KW + kx) * pixels;
            int64_t m = 0;
            for (int64_t e = first[c]; e < first[c + 1]; ++e) {
              const int32_t o = to[pix[e]];
              if (o >= 0) target[m] = o, tval[m] = vals[e], ++m;
            }
            if (!m) continue;
            float* wr = mine + ((ky * p.KW + kx) * C + c) * O;
            for (int64_t q = 0; q < P; ++q) {
              const int64_t o0 = q * kStrip, width = std::min(kStrip, O - o0);
              vec s[4] = {};
              std::memcpy(s, wr + o0, width * sizeof(float));
              addEvents(s, dyp.data() + q * outs * kStrip, target.data(), tval.data(), 0, m, outs, ones);
              std::memcpy(wr + o0, s, width * sizeof(float));
            }
          }
    }
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
