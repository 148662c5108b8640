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

// The positions of a row's nonzeros, without a branch per entry (a spike row's pattern is unpredictable).
inline int64_t nonzeros(const float* row, int64_t n, int32_t* idx) {
  int64_t nz = 0;
  for (int64_t a = 0; a < n; ++a) {
    idx[nz] = static_cast<int32_t>(a);
    nz += row[a] != 0.f;
  }
  return nz;
}

// One (image-step, head) item each; DH > 0 fixes the head size at compile time (the inner loops become a few vector
// instructions), 0 reads it from d. Multiplying by a spike's 1 is exact, so one code path serves spikes and graded.
template <int64_t DH>
struct Heads {
  const Dims& d;
  const int64_t dh = DH ? DH : d.dh;
  std::vector<int32_t> idx = std::vector<int32_t>(static_cast<size_t>(dh));

  // kv[a, :] = sum over tokens j of k[j, a] v[j, :]
  void keyValue(const float* k, const float* v, float* kv) {
    std::fill(kv, kv + dh * dh, 0.f);
    for (int64_t j = 0; j < d.N; ++j) {
      const float* kr = k + j * d.D;
      const float* vr = v + j * d.D;
      const int64_t nz = nonzeros(kr, dh, idx.data());
      for (int64_t t = 0; t < nz; ++t) {
        const float ka = kr[idx[t]];
        float* row = kv + idx[t] * dh;
        for (int64_t b = 0; b < dh; ++b) row[b] += ka * vr[b];
      }
    }
  }

  // out[i, :] = scale sum_a x[i, a] m[a, :], for the rows of one item
  void rowsTimes(const float* x, const float* m, float scale, float* out, float* acc) {
    for (int64_t i = 0; i < d.N; ++i) {
      const float* xr = x + i * d.D;
      std::fill(acc, acc + dh, 0.f);
      const int64_t nz = nonzeros(xr, dh, idx.data());
      for (int64_t t = 0; t < nz; ++t) {
        const float xa = xr[idx[t]];
        const float* row = m + idx[t] * dh;
        for (int64_t b = 0; b < dh; ++b) acc[b] += xa * row[b];
      }
      float* o = out + i * d.D;
      for (int64_t b = 0; b < dh; ++b) o[b] = scale * acc[b];
    }
  }

  void forward(const float* q, const float* k, const float* v, float* out, float scale) {
#pragma omp parallel
    {
      Heads mine{d};
      std::vector<float> kv(dh * dh), acc(dh);
#pragma omp for schedule(static)
      for (int64_t item = 0; item < d.G * d.heads; ++item) {
        const int64_t base = (item / d.heads) * d.N * d.D + (item % d.heads) * dh;
        mine.keyValue(k + base, v + base, kv.data());
        mine.rowsTimes(q + base, kv.data(), scale, out + base, acc.data());
      }
    }
  }

  // With kv = k^T v and dKV = scale q^T dy: dq = scale dy kv^T, dk = v dKV^T, dv = k dKV.
  void backward(const float* dy, const float* q, const float* k, const float* v, float* dq, float* dk, float* dv,
                float scale) {
#pragma omp parallel
    {
      Heads mine{d};
      std::vector<float> kv(dh * dh), kvT(dh * dh), dkv(dh * dh), dkvT(dh * dh), acc(dh);
#pragma omp for schedule(static)
      for (int64_t item = 0; item < d.G * d.heads; ++item) {
        const int64_t base = (item / d.heads) * d.N * d.D + (item % d.heads) * dh;
        mine.keyValue(k + base, v + base, kv.data());
        transpose(kv.data(), kvT.data());
        // dq: dense dy times kv^T, as rows of kv^T added (a dot product per entry would be a serial reduction)
        for (int64_t i = 0; i < d.N; ++i) {
          const float* g = dy + base + i * d.D;
          std::fill(acc.begin(), acc.end(), 0.f);
          for (int64_t b = 0; b < dh; ++b) {
            const float gb = g[b];
            const float* col = kvT.data() + b * dh;
            for (int64_t a = 0; a < dh; ++a) acc[a] += gb * col[a];
          }
          float* dqr = dq + base + i * d.D;
          for (int64_t a = 0; a < dh; ++a) dqr[a] = scale * acc[a];
        }
        // dKV = scale q^T dy: dy's row added into row a of dKV for each nonzero q[i, a]
        std::fill(dkv.begin(), dkv.end(), 0.f);
        for (int64_t i = 0; i < d.N; ++i) {
          const float* g = dy + base + i * d.D;
          const float* qr = q + base + i * d.D;
          const int64_t nz = nonzeros(qr, dh, mine.idx.data());
          for (int64_t t = 0; t < nz; ++t) {
            const float w = scale * qr[mine.idx[t]];
            float* drow = dkv.data() + mine.idx[t] * dh;
            for (int64_t b = 0; b < dh; ++b) drow[b] += w * g[b];
          }
        }
        transpose(dkv.data(), dkvT.data());
        mine.rowsTimes(v + base, dkvT.data(), 1.f, dk + base, acc.data());  // dk[j, :] = sum_b v[j, b] dKV[:, b]
        mine.rowsTimes(k + base, dkv.data(), 1.f, dv + base, acc.data());   // dv[j, :] = sum_a k[j, a] dKV[a, :]
      }
    }
  }

  void transpose(const float* m, float* t) const {
    for (int64_t a = 0; a < dh; ++a)
      for (int64_t b = 0; b < dh; ++b) t[b * dh + a] = m[a * dh + b];
  }
};

// Calls f with the Heads specialised for d's head size (the common ones), else the general one.
template <typename F>
void withHeads(const Dims& d, F f) {
  switch (d.dh) {
    case 16: return f(Heads<16>{d});
    case 32: return f(Heads<32>{d});
    case 64: return f(Heads<64>{d});
    default: return f(Heads<0>{d});
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
  withHeads(d, [&](auto h) { h.forward(q, k, v, out, scale); });
  return info.Env().Undefined();
}

// spikeAttentionGrad(dy, q, k, v, dq, dk, dv, [G, N, D, heads], scale)
Napi::Value SpikeAttentionGrad(const Napi::CallbackInfo& info) {
  const Dims d = dims(info, 7);
  const int64_t n = d.G * d.N * d.D;
  const float *dy = f32(info, 0, n), *q = f32(info, 1, n), *k = f32(info, 2, n), *v = f32(info, 3, n);
  float *dq = f32(info, 4, n), *dk = f32(info, 5, n), *dv = f32(info, 6, n);
  const float scale = static_cast<float>(dbl(info, 8));
  withHeads(d, [&](auto h) { h.backward(dy, q, k, v, dq, dk, dv, scale); });
  return info.Env().Undefined();
}

}  // namespace

static void initSpikeAttention(Napi::Env env, Napi::Object exports) {
  exports.Set("spikeAttention", Napi::Function::New(env, SpikeAttention));
  exports.Set("spikeAttentionGrad", Napi::Function::New(env, SpikeAttentionGrad));
}

static const Register registered(initSpikeAttention);

}  // namespace gs
