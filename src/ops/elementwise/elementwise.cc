// Memory-bound tensor ops the models run hundreds of times per step, which the JS backend does one element at a
// time on one core: transpose, broadcasting add/sub/mul/div, and sums over a contiguous block of axes.
#include "common.h"
#include <algorithm>
#include <cmath>
#include <cstring>
#include <omp.h>
#include <vector>

namespace gs {
namespace {

constexpr int64_t kParallelMin = 1 << 15;  // below this many elements, threads cost more than they save

int64_t prod(const std::vector<int64_t>& v) {
  int64_t p = 1;
  for (int64_t d : v) p *= d;
  return p;
}

// transpose(x, y, shape, perm)
Napi::Value Transpose(const Napi::CallbackInfo& info) {
  std::vector<int64_t> shape = int64s(info, 2), perm = int64s(info, 3);
  const int64_t n = prod(shape);
  const float* x = f32(info, 0, n);
  float* y = f32(info, 1, n);
  const size_t r0 = shape.size();
  if (perm.size() != r0) throw Napi::RangeError::New(info.Env(), "transpose: perm and shape differ in length");
  // Merge input axes that stay adjacent and in order in the output, and drop size-1 axes.
  std::vector<int64_t> keep;
  for (size_t k = 0; k < r0; ++k)
    if (shape[perm[k]] != 1) keep.push_back(perm[k]);
  std::vector<std::vector<int64_t>> groups;  // output order, each a run of consecutive input axes
  for (int64_t a : keep) {
    if (!groups.empty() && groups.back().back() + 1 == a) {
      // a follows the previous axis in the input only if no kept axis lies between them
      groups.back().push_back(a);
    } else {
      groups.push_back({a});
    }
  }
  const size_t r = groups.size();
  if (r <= 1) {
    std::memcpy(y, x, sizeof(float) * n);
    return info.Env().Undefined();
  }
  // Input order of the groups gives the input strides.
  std::vector<size_t> order(r);
  for (size_t i = 0; i < r; ++i) order[i] = i;
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return groups[a][0] < groups[b][0]; });
  std::vector<int64_t> od(r), is(r), os(r);
  for (size_t g = 0; g < r; ++g) {
    od[g] = 1;
    for (int64_t a : groups[g]) od[g] *= shape[a];
  }
  int64_t s = 1;
  for (size_t k = r; k-- > 0;) is[order[k]] = s, s *= od[order[k]];
  s = 1;
  for (size_t k = r; k-- > 0;) os[k] = s, s *= od[k];
  const size_t q = r - 1;  // last output axis
  const size_t pAx = order[r - 1];  // output axis whose input stride is 1
  if (pAx == q) {
    // The innermost run is contiguous in both: copy rows of od[q] floats.
    const int64_t L = od[q], rows = n / L;
#pragma omp parallel for schedule(static) if (n > kParallelMin)
    for (int64_t row = 0; row < rows; ++row) {
      int64_t rem = row, off = 0;
      for (size_t k = q; k-- > 0;) off += (rem % od[k]) * is[k], rem /= od[k];
      std::memcpy(y + row * L, x + off, sizeof(float) * L);
    }
    return info.Env().Undefined();
  }
  // Otherwise tile the (pAx, q) plane in 32x32 blocks: reads along pAx and writes along q both stay contiguous.
  std::vector<int64_t> rest;
  for (size_t k = 0; k < r; ++k)
    if (k != pAx && k != q) rest.push_back(static_cast<int64_t>(k));
  int64_t outer = 1;
  for (int64_t k : rest) outer *= od[k];
  const int64_t P = od[pAx], Q = od[q], B = 32;
  const int64_t pb = (P + B - 1) / B, qb = (Q + B - 1) / B;
#pragma omp parallel for collapse(2) schedule(static) if (n > kParallelMin)
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t ib = 0; ib < pb; ++ib) {
      int64_t rem = o, xo = 0, yo = 0;
      for (size_t j = rest.size(); j-- > 0;) {
        int64_t k = rest[j], c = rem % od[k];
        rem /= od[k];
        xo += c * is[k];
        yo += c * os[k];
      }
      const int64_t i0 = ib * B, i1 = std::min(P, i0 + B);
      for (int64_t jb = 0; jb < qb; ++jb) {
        const int64_t j0 = jb * B, j1 = std::min(Q, j0 + B);
        for (int64_t i = i0; i < i1; ++i)
          for (int64_t j = j0; j < j1; ++j) y[yo + i * os[pAx] + j] = x[xo + i + j * is[q]];
      }
    }
  return info.Env().Undefined();
}

enum Op { kAdd = 0, kSub = 1, kMul = 2, kDiv = 3 };

template <Op op>
inline float apply(float a, float b) {
  if constexpr (op == kAdd) return a + b;
  if constexpr (op == kSub) return a - b;
  if constexpr (op == kMul) return a * b;
  return a / b;
}

// Inner loop over L output elements with input steps sa, sb in {0, 1}: four variants so each one vectorizes.
template <Op op>
inline void row(const float* a, const float* b, float* y, int64_t L, int64_t sa, int64_t sb) {
  if (sa && sb) {
    for (int64_t i = 0; i < L; ++i) y[i] = apply<op>(a[i], b[i]);
  } else if (sa) {
    const float bv = b[0];
    for (int64_t i = 0; i < L; ++i) y[i] = apply<op>(a[i], bv);
  } else if (sb) {
    const float av = a[0];
    for (int64_t i = 0; i < L; ++i) y[i] = apply<op>(av, b[i]);
  } else {
    const float v = apply<op>(a[0], b[0]);
    for (int64_t i = 0; i < L; ++i) y[i] = v;
  }
}

template <Op op>
void broadcast(const float* a, const float* b, float* y, const std::vector<int64_t>& od, const std::vector<int64_t>& as,
               const std::vector<int64_t>& bs) {
  const size_t r = od.size();
  const int64_t L = od[r - 1], rows = prod(od) / L;
#pragma omp parallel for schedule(static) if (rows * L > kParallelMin)
  for (int64_t rw = 0; rw < rows; ++rw) {
    int64_t rem = rw, ao = 0, bo = 0;
    for (size_t k = r - 1; k-- > 0;) {
      int64_t c = rem % od[k];
      rem /= od[k];
      ao += c * as[k];
      bo += c * bs[k];
    }
    row<op>(a + ao, b + bo, y + rw * L, L, as[r - 1], bs[r - 1]);
  }
}

// binary(op, a, b, y, aShape, bShape, outShape): numpy broadcasting; the shapes are already checked by tfjs.
Napi::Value Binary(const Napi::CallbackInfo& info) {
  int64_t op = num(info, 0);
  std::vector<int64_t> ash = int64s(info, 4), bsh = int64s(info, 5), osh = int64s(info, 6);
  const float* a = f32(info, 1, prod(ash));
  const float* b = f32(info, 2, prod(bsh));
  float* y = f32(info, 3, prod(osh));
  const size_t r = osh.size();
  if (prod(osh) == 0) return info.Env().Undefined();
  // Right-align both shapes to the output's rank; strides are 0 along broadcast axes.
  auto strides = [&](const std::vector<int64_t>& sh) {
    std::vector<int64_t> st(r, 0);
    int64_t s = 1;
    for (size_t k = 0; k < sh.size(); ++k) {
      size_t ko = r - 1 - k, ki = sh.size() - 1 - k;
      st[ko] = sh[ki] == 1 ? 0 : s;
      s *= sh[ki];
    }
    return st;
  };
  std::vector<int64_t> as = strides(ash), bs = strides(bsh);
  // Merge neighbouring axes whose strides compose (both contiguous or both broadcast): fewer, longer rows.
  std::vector<int64_t> od, ma, mb;
  for (size_t k = 0; k < r; ++k) {
    if (osh[k] == 1) continue;
    if (!od.empty()) {
      size_t j = od.size() - 1;
      bool aOk = (ma[j] == 0 && as[k] == 0) || (ma[j] != 0 && as[k] != 0 && ma[j] == as[k] * osh[k]);
      bool bOk = (mb[j] == 0 && bs[k] == 0) || (mb[j] != 0 && bs[k] != 0 && mb[j] == bs[k] * osh[k]);
      if (aOk && bOk) {
        od[j] *= osh[k];
        ma[j] = as[k];
        mb[j] = bs[k];
        continue;
      }
    }
    od.push_back(osh[k]);
    ma.push_back(as[k]);
    mb.push_back(bs[k]);
  }
  if (od.empty()) od = {1}, ma = {0}, mb = {0};
  switch (op) {
    case kAdd: broadcast<kAdd>(a, b, y, od, ma, mb); break;
    case kSub: broadcast<kSub>(a, b, y, od, ma, mb); break;
    case kMul: broadcast<kMul>(a, b, y, od, ma, mb); break;
    case kDiv: broadcast<kDiv>(a, b, y, od, ma, mb); break;
    default: throw Napi::RangeError::New(info.Env(), "binary: unknown op " + std::to_string(op));
  }
  return info.Env().Undefined();
}

// The Mean variant of SumMiddle: simple loops, Mean is rare in the models (token and time averages), except the
// firing-rate probe's mean over a whole spike tensor (outer = inner = 1, millions of values, every validation
// batch): there threads split the reduced rows and their partial sums add up in thread order.
Napi::Value MeanMiddle(const Napi::CallbackInfo& info, int64_t outer, int64_t red, int64_t inner, float divisor) {
  const float* x = f32(info, 0, outer * red * inner);
  float* y = f32(info, 1, outer * inner);
  const int nt = omp_get_max_threads();
  if (outer < nt && red >= 2 * nt && outer * red * inner > kParallelMin) {
    std::vector<double> part(static_cast<size_t>(nt) * outer * inner, 0.0);
#pragma omp parallel num_threads(nt)
    {
      const int t = omp_get_thread_num(), T = omp_get_num_threads();
      double* acc = part.data() + static_cast<int64_t>(t) * outer * inner;
      const int64_t r0 = red * t / T, r1 = red * (t + 1) / T;
      for (int64_t o = 0; o < outer; ++o) {
        if (inner == 1) {
          const float* p = x + o * red;
          double s0 = 0, s1 = 0, s2 = 0, s3 = 0;  // four chains: the adds pipeline and vectorize
          int64_t r = r0;
          for (; r + 4 <= r1; r += 4)
            s0 += p[r] / divisor, s1 += p[r + 1] / divisor, s2 += p[r + 2] / divisor, s3 += p[r + 3] / divisor;
          for (; r < r1; ++r) s0 += p[r] / divisor;
          acc[o] = (s0 + s1) + (s2 + s3);
          continue;
        }
        for (int64_t r = r0; r < r1; ++r) {
          const float* p = x + (o * red + r) * inner;
          for (int64_t i = 0; i < inner; ++i) acc[o * inner + i] += p[i] / divisor;
        }
      }
    }
    for (int64_t j = 0; j < outer * inner; ++j) {
      double s = 0;
      for (int t = 0; t < nt; ++t) s += part[static_cast<size_t>(t) * outer * inner + j];
      y[j] = static_cast<float>(s);
    }
    return info.Env().Undefined();
  }
#pragma omp parallel for schedule(static) if (outer * red * inner > kParallelMin)
  for (int64_t o = 0; o < outer; ++o) {
    std::vector<double> acc(inner, 0.0);
    for (int64_t r = 0; r < red; ++r) {
      const float* p = x + (o * red + r) * inner;
      for (int64_t i = 0; i < inner; ++i) acc[i] += p[i] / divisor;
    }
    for (int64_t i = 0; i < inner; ++i) y[o * inner + i] = static_cast<float>(acc[i]);
  }
  return info.Env().Undefined();
}

// sumMiddle(x, y, outer, reduce, inner, divisor): y[o, i] = sum over r of x[o, r, i] (each divided by divisor
// first, in float, when it is not 1: that is how tfjs's Mean rounds), accumulated in double.
Napi::Value SumMiddle(const Napi::CallbackInfo& info) {
  int64_t outer = num(info, 2), red = num(info, 3), inner = num(info, 4);
  const float divisor = static_cast<float>(dbl(info, 5));
  if (divisor != 1.f) return MeanMiddle(info, outer, red, inner, divisor);
  const float* x = f32(info, 0, outer * red * inner);
  float* y = f32(info, 1, outer * inner);
  const int64_t n = outer * red * inner;
  if (inner == 1) {
#pragma omp parallel for schedule(static) if (n > kParallelMin)
    for (int64_t o = 0; o < outer; ++o) {
      const float* p = x + o * red;
      double s0 = 0, s1 = 0, s2 = 0, s3 = 0;  // four chains: the adds pipeline and vectorize
      int64_t r = 0;
      for (; r + 4 <= red; r += 4) s0 += p[r], s1 += p[r + 1], s2 += p[r + 2], s3 += p[r + 3];
      for (; r < red; ++r) s0 += p[r];
      y[o] = static_cast<float>((s0 + s1) + (s2 + s3));
    }
    return info.Env().Undefined();
  }
  const int64_t C = 512, chunks = (inner + C - 1) / C;
  const int nt = omp_get_max_threads();
  if (outer * chunks < 2 * nt && red >= 2 * nt && n > kParallelMin) {
    // Few output columns, many rows (a bias gradient): threads split the rows, then partials add up in thread
    // order, so the result does not depend on scheduling.
    std::vector<double> part(static_cast<size_t>(nt) * outer * inner, 0.0);
#pragma omp parallel
    {
      const int t = omp_get_thread_num(), T = omp_get_num_threads();
      const int64_t r0 = red * t / T, r1 = red * (t + 1) / T;
      double* acc = part.data() + static_cast<size_t>(t) * outer * inner;
      for (int64_t o = 0; o < outer; ++o)
        for (int64_t r = r0; r < r1; ++r) {
          const float* p = x + (o * red + r) * inner;
          double* a = acc + o * inner;
          for (int64_t i = 0; i < inner; ++i) a[i] += p[i];
        }
    }
    for (int64_t k = 0; k < outer * inner; ++k) {
      double v = 0;
      for (int t = 0; t < nt; ++t) v += part[static_cast<size_t>(t) * outer * inner + k];
      y[k] = static_cast<float>(v);
    }
    return info.Env().Undefined();
  }
  // Columns in chunks so each thread keeps its partial sums in cache and streams through rows.
#pragma omp parallel for collapse(2) schedule(static) if (n > kParallelMin)
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t c = 0; c < chunks; ++c) {
      const int64_t i0 = c * C, len = std::min(C, inner - i0);
      double acc[C];
      std::fill(acc, acc + len, 0.0);
      for (int64_t r = 0; r < red; ++r) {
        const float* p = x + (o * red + r) * inner + i0;
        for (int64_t i = 0; i < len; ++i) acc[i] += p[i];
      }
      for (int64_t i = 0; i < len; ++i) y[o * inner + i0 + i] = static_cast<float>(acc[i]);
    }
  return info.Env().Undefined();
}

enum UnaryOp { kRelu = 0, kStep = 1, kSqrt = 2, kNeg = 3, kSquare = 4, kAbs = 5 };

// unary(op, x, y, param): element-wise; param is Step's alpha. NaN propagates as in the JS kernels.
Napi::Value Unary(const Napi::CallbackInfo& info) {
  const int64_t op = num(info, 0);
  const int64_t n = f32Length(info, 1);
  const float* x = f32(info, 1, n);
  float* y = f32(info, 2, n);
  const float alpha = static_cast<float>(dbl(info, 3));
  switch (op) {
    case kRelu:
#pragma omp parallel for simd schedule(static) if (n > kParallelMin)
      for (int64_t i = 0; i < n; ++i)  // NaN stays NaN; -0 becomes +0, as Math.max(0, x)
        y[i] = x[i] <= 0.f ? 0.f : x[i];
      break;
    case kStep:
#pragma omp parallel for simd schedule(static) if (n > kParallelMin)
      for (int64_t i = 0; i < n; ++i) y[i] = x[i] > 0.f ? 1.f : (x[i] != x[i] ? x[i] : alpha);
      break;
    case kSqrt:
#pragma omp parallel for simd schedule(static) if (n > kParallelMin)
      for (int64_t i = 0; i < n; ++i) y[i] = std::sqrt(x[i]);
      break;
    case kNeg:
#pragma omp parallel for simd schedule(static) if (n > kParallelMin)
      for (int64_t i = 0; i < n; ++i) y[i] = -x[i];
      break;
    case kSquare:
#pragma omp parallel for simd schedule(static) if (n > kParallelMin)
      for (int64_t i = 0; i < n; ++i) y[i] = x[i] * x[i];
      break;
    case kAbs:
#pragma omp parallel for simd schedule(static) if (n > kParallelMin)
      for (int64_t i = 0; i < n; ++i) y[i] = std::fabs(x[i]);
      break;
    default:
      throw Napi::RangeError::New(info.Env(), "unary: unknown op " + std::to_string(op));
  }
  return info.Env().Undefined();
}

}  // namespace

static void initElementwise(Napi::Env env, Napi::Object exports) {
  exports.Set("transpose", Napi::Function::New(env, Transpose));
  exports.Set("binary", Napi::Function::New(env, Binary));
  exports.Set("sumMiddle", Napi::Function::New(env, SumMiddle));
  exports.Set("unary", Napi::Function::New(env, Unary));
}

static const Register registered(initElementwise);

}  // namespace gs
