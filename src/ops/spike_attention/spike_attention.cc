// Spiking self-attention, fused (the contract and JS reference: cpu.ts): per (image-step, head),
// out = scale * q (k^T v), with the [dh, dh] product k^T v built by adding v's row for each nonzero of k, and
// out's rows by adding kv's rows for each nonzero of q. Spikes make every partial sum a small integer, exact in
// float, so the forward equals the dense q k^T route bit for bit. No [N, N] attention matrix is formed.
#include "common.h"
#include <algorithm>
#include <vector>

namespace gs {
namespace {

struct Dims {
  int64_t G, N, D, heads, dh;
};

// kv[a, :] = sum over tokens j of k[j, a] v[j, :] for one head whose rows start at k + base, v + base.
inline void keyValue(const float* k, const float* v, const Dims& d, float* kv) {
  std::fill(kv, kv + d.dh * d.dh, 0.f);
  for (int64_t j = 0; j < d.N; ++j) {
    const float* kr = k + j * d.D;
    const float* vr = v + j * d.D;
    for (int64_t a = 0; a < d.dh; ++a) {
      const float ka = kr[a];
      if (ka == 0.f) continue;
      float* row = kv + a * d.dh;
      if (ka == 1.f) {
        for (int64_t b = 0; b < d.dh; ++b) row[b] += vr[b];
      } else {
        for (int64_t b = 0; b < d.dh; ++b) row[b] += ka * vr[b];
      }
    }
  }
}

Dims dims(const Napi::CallbackInfo& info, size_t i) {
  const int32_t* p = ints(info, i, 4);
  Dims d{p[0], p[1], p[2], p[3], 0};
  if (d.heads <= 0 || d.D % d.heads) throw Napi::RangeError::New(info.Env(), "spikeAttention: D must divide by heads");
  d.dh = d.D / d.heads;
  return d;
}

// spikeAttention(q, k, v, out, [G, N, D, heads], scale)
Napi::Value SpikeAttention(const Napi::CallbackInfo& info) {
  const Dims d = dims(info, 4);
  const int64_t n = d.G * d.N * d.D;
  const float *q = f32(info, 0, n), *k = f32(info, 1, n), *v = f32(info, 2, n);
  float* out = f32(info, 3, n);
  const float scale = static_cast<float>(dbl(info, 5));
#pragma omp parallel
  {
    std::vector<float> kv(d.dh * d.dh), acc(d.dh);
#pragma omp for schedule(static)
    for (int64_t item = 0; item < d.G * d.heads; ++item) {
      const int64_t base = (item / d.heads) * d.N * d.D + (item % d.heads) * d.dh;
      keyValue(k + base, v + base, d, kv.data());
      for (int64_t i = 0; i < d.N; ++i) {
        const float* qr = q + base + i * d.D;
        std::fill(acc.begin(), acc.end(), 0.f);
        for (int64_t a = 0; a < d.dh; ++a) {
          const float qa = qr[a];
          if (qa == 0.f) continue;
          const float* row = kv.data() + a * d.dh;
          if (qa == 1.f) {
            for (int64_t b = 0; b < d.dh; ++b) acc[b] += row[b];
          } else {
            for (int64_t b = 0; b < d.dh; ++b) acc[b] += qa * row[b];
          }
        }
        float* o = out + base + i * d.D;
        for (int64_t b = 0; b < d.dh; ++b) o[b] = scale * acc[b];
      }
    }
  }
  return info.Env().Undefined();
}

// spikeAttentionGrad(dy, q, k, v, dq, dk, dv, [G, N, D, heads], scale), with kv = k^T v and dKV = scale q^T dy:
// dq = scale dy kv^T (dense dy), dk = v dKV^T and dv = k dKV (rows added for the nonzeros of v and k).
Napi::Value SpikeAttentionGrad(const Napi::CallbackInfo& info) {
  const Dims d = dims(info, 7);
  const int64_t n = d.G * d.N * d.D, dh = d.dh;
  const float *dy = f32(info, 0, n), *q = f32(info, 1, n), *k = f32(info, 2, n), *v = f32(info, 3, n);
  float *dq = f32(info, 4, n), *dk = f32(info, 5, n), *dv = f32(info, 6, n);
  const float scale = static_cast<float>(dbl(info, 8));
#pragma omp parallel
  {
    std::vector<float> kv(dh * dh), dkv(dh * dh), dkvT(dh * dh);
#pragma omp for schedule(static)
    for (int64_t item = 0; item < d.G * d.heads; ++item) {
      const int64_t base = (item / d.heads) * d.N * d.D + (item % d.heads) * dh;
      keyValue(k + base, v + base, d, kv.data());
      std::fill(dkv.begin(), dkv.end(), 0.f);
      for (int64_t i = 0; i < d.N; ++i) {
        const float* g = dy + base + i * d.D;
        const float* qr = q + base + i * d.D;
        float* dqr = dq + base + i * d.D;
        for (int64_t a = 0; a < dh; ++a) {
          const float* row = kv.data() + a * dh;
          float s = 0.f;
          for (int64_t b = 0; b < dh; ++b) s += g[b] * row[b];
          dqr[a] = scale * s;
          const float qa = qr[a];
          if (qa == 0.f) continue;
          float* drow = dkv.data() + a * dh;
          const float w = scale * qa;
          for (int64_t b = 0; b < dh; ++b) drow[b] += w * g[b];
        }
      }
      for (int64_t a = 0; a < dh; ++a)
        for (int64_t b = 0; b < dh; ++b) dkvT[b * dh + a] = dkv[a * dh + b];
      for (int64_t j = 0; j < d.N; ++j) {
        const float* kr = k + base + j * d.D;
        const float* vr = v + base + j * d.D;
        float* dkr = dk + base + j * d.D;
        float* dvr = dv + base + j * d.D;
        std::fill(dkr, dkr + dh, 0.f);
        std::fill(dvr, dvr + dh, 0.f);
        for (int64_t b = 0; b < dh; ++b) {
          const float vb = vr[b];  // dk[j, :] += v[j, b] dKV[:, b]
          if (vb != 0.f) {
            const float* col = dkvT.data() + b * dh;
            for (int64_t a = 0; a < dh; ++a) dkr[a] += vb * col[a];
          }
          const float kb = kr[b];  // dv[j, :] += k[j, b] dKV[b, :]
          if (kb != 0.f) {
            const float* row = dkv.data() + b * dh;
            for (int64_t a = 0; a < dh; ++a) dvr[a] += kb * row[a];
          }
        }
      }
    }
  }
  return info.Env().Undefined();
}

}  // namespace

static void initSpikeAttention(Napi::Env env, Napi::Object exports) {
  exports.Set("spikeAttention", Napi::Function::New(env, SpikeAttention));
  exports.Set("spikeAttentionGrad", Napi::Function::New(env, SpikeAttentionGrad));
}

static const Register registered(initSpikeAttention);

}  // namespace gs
