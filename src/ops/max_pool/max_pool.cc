// Max pooling forward and backward in NHWC, matching tfjs's reference semantics exactly: the first maximum in
// row-major window order wins (ties are common: the pooled tensors are often 0/1 spikes), padding never wins.
#include "common.h"
#include <cmath>
#include <limits>
#include <algorithm>
#include <vector>

namespace gs {
namespace {

struct PoolParams {
  int64_t N, H, W, C, OH, OW, KH, KW, sh, sw, pt, pl;
  explicit PoolParams(const int32_t* p)
      : N(p[0]), H(p[1]), W(p[2]), C(p[3]), OH(p[4]), OW(p[5]), KH(p[6]), KW(p[7]), sh(p[8]), sw(p[9]), pt(p[10]),
        pl(p[11]) {}
};

// For one output pixel (n, oy, ox): the max per channel into `best` and, if `arg` is given, the flat input offset
// (pixel index, times C) of the first maximum, -1 if none.
inline void windowMax(const PoolParams& p, const float* x, int64_t n, int64_t oy, int64_t ox, float* best,
                      int64_t* arg) {
  const float ninf = -std::numeric_limits<float>::infinity();
  for (int64_t c = 0; c < p.C; ++c) best[c] = ninf;
  if (arg)
    for (int64_t c = 0; c < p.C; ++c) arg[c] = -1;
  int64_t y0 = oy * p.sh - p.pt, x0 = ox * p.sw - p.pl;
  for (int64_t y = y0 < 0 ? 0 : y0; y < y0 + p.KH && y < p.H; ++y) {
    for (int64_t xx = x0 < 0 ? 0 : x0; xx < x0 + p.KW && xx < p.W; ++xx) {
      int64_t pix = (n * p.H + y) * p.W + xx;
      const float* row = x + pix * p.C;
      if (arg) {
        for (int64_t c = 0; c < p.C; ++c)
          if (row[c] > best[c]) best[c] = row[c], arg[c] = pix;
      } else {
        for (int64_t c = 0; c < p.C; ++c) best[c] = row[c] > best[c] ? row[c] : best[c];
      }
    }
  }
}

// maxPool(x, y, params)
Napi::Value MaxPool(const Napi::CallbackInfo& info) {
  PoolParams p(ints(info, 2, 12));
  const float* x = f32(info, 0, p.N * p.H * p.W * p.C);
  float* y = f32(info, 1, p.N * p.OH * p.OW * p.C);
#pragma omp parallel for collapse(2) schedule(static)
  for (int64_t n = 0; n < p.N; ++n)
    for (int64_t oy = 0; oy < p.OH; ++oy)
      for (int64_t ox = 0; ox < p.OW; ++ox)
        windowMax(p, x, n, oy, ox, y + ((n * p.OH + oy) * p.OW + ox) * p.C, nullptr);
  return info.Env().Undefined();
}

// maxPoolGrad(dy, x, dx, params): dx must be zero-filled. Per output pixel: the window slot of each channel's first
// maximum, then each slot's input row adds dy where it won. Both loops run over contiguous channels (NHWC), so they
// vectorize; a gather/scatter per channel does not. Windows of one image only touch that image, so threads split
// the batch without races.
Napi::Value MaxPoolGrad(const Napi::CallbackInfo& info) {
  PoolParams p(ints(info, 3, 12));
  const float* dy = f32(info, 0, p.N * p.OH * p.OW * p.C);
  const float* x = f32(info, 1, p.N * p.H * p.W * p.C);
  float* dx = f32(info, 2, p.N * p.H * p.W * p.C);
  const float ninf = -std::numeric_limits<float>::infinity();
#pragma omp parallel
  {
    std::vector<float> best(p.C);
    std::vector<int32_t> slot(p.C);
#pragma omp for schedule(static)
    for (int64_t n = 0; n < p.N; ++n)
      for (int64_t oy = 0; oy < p.OH; ++oy)
        for (int64_t ox = 0; ox < p.OW; ++ox) {
          const int64_t y0 = oy * p.sh - p.pt, x0 = ox * p.sw - p.pl;
          std::fill(best.begin(), best.end(), ninf);
          std::fill(slot.begin(), slot.end(), -1);
          float* b = best.data();
          int32_t* sl = slot.data();
          for (int64_t ky = 0; ky < p.KH; ++ky) {
            const int64_t y = y0 + ky;
            if (y < 0 || y >= p.H) continue;
            for (int64_t kx = 0; kx < p.KW; ++kx) {
              const int64_t xx = x0 + kx;
              if (xx < 0 || xx >= p.W) continue;
              const float* row = x + ((n * p.H + y) * p.W + xx) * p.C;
              const int32_t k = static_cast<int32_t>(ky * p.KW + kx);
              for (int64_t c = 0; c < p.C; ++c) {
                const bool win = row[c] > b[c];  // strict: the first maximum keeps the slot
                b[c] = win ? row[c] : b[c];
                sl[c] = win ? k : sl[c];
              }
            }
          }
          const float* g = dy + ((n * p.OH + oy) * p.OW + ox) * p.C;
          for (int64_t ky = 0; ky < p.KH; ++ky) {
            const int64_t y = y0 + ky;
            if (y < 0 || y >= p.H) continue;
            for (int64_t kx = 0; kx < p.KW; ++kx) {
              const int64_t xx = x0 + kx;
              if (xx < 0 || xx >= p.W) continue;
              float* drow = dx + ((n * p.H + y) * p.W + xx) * p.C;
              const int32_t k = static_cast<int32_t>(ky * p.KW + kx);
              for (int64_t c = 0; c < p.C; ++c) drow[c] += sl[c] == k ? g[c] : 0.f;
            }
          }
        }
  }
  return info.Env().Undefined();
}

}  // namespace

static void initPool(Napi::Env env, Napi::Object exports) {
  exports.Set("maxPool", Napi::Function::New(env, MaxPool));
  exports.Set("maxPoolGrad", Napi::Function::New(env, MaxPoolGrad));
}

static const Register registered(initPool);

}  // namespace gs
