// The fused AdamW update (the JS reference and its op sequence: src/ops/adamw/cpu.ts).
#include "common.h"
#include <cmath>

namespace gs {
namespace {

// adamw(p, g, m, v, p2, m2, v2, scalars): the fused AdamW update of src/ops/adamw/cpu.ts, op for op in float (so equal
// to the tfjs op sequence bit for bit). scalars: decay, beta1, 1-beta1, beta2, 1-beta2, bc2Sqrt, eps, stepSize.
Napi::Value AdamW(const Napi::CallbackInfo& info) {
  const int64_t n = f32Length(info, 0);
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

static void initAdamW(Napi::Env env, Napi::Object exports) {
  exports.Set("adamw", Napi::Function::New(env, AdamW));
}

static const Register registered(initAdamW);

}  // namespace gs
