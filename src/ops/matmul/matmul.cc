// Batched matrix product over oneDNN's matmul primitive: transposes are expressed as strides (no copies), a batch
// of 1 on either side broadcasts, and an optional bias row and ReLU are fused (tfjs's _FusedMatMul).
#include "common.h"
#include <memory>
#include <mutex>
#include <unordered_map>

namespace gs {
namespace {

using namespace dnnl;
using dt = memory::data_type;

struct MmParams {
  int64_t bA, bB, M, N, K, tA, tB, bias, relu;
  explicit MmParams(const int32_t* p)
      : bA(p[0]), bB(p[1]), M(p[2]), N(p[3]), K(p[4]), tA(p[5]), tB(p[6]), bias(p[7]), relu(p[8]) {}
  int64_t batch() const { return bA > bB ? bA : bB; }
  memory::desc a() const {
    return {{bA, M, K}, dt::f32, tA ? memory::dims{M * K, 1, M} : memory::dims{M * K, K, 1}};
  }
  memory::desc b() const {
    return {{bB, K, N}, dt::f32, tB ? memory::dims{K * N, 1, K} : memory::dims{K * N, N, 1}};
  }
  memory::desc c() const { return {{batch(), M, N}, dt::f32, memory::dims{M * N, N, 1}}; }
  memory::desc biasMd() const { return {{1, 1, N}, dt::f32, memory::dims{N, N, 1}}; }
  std::string key() const {
    std::string k;
    for (int64_t v : {bA, bB, M, N, K, tA, tB, bias, relu}) k += std::to_string(v) + ",";
    return k;
  }
};

std::mutex cacheMutex;
std::unordered_map<std::string, std::unique_ptr<matmul>> cache;

matmul& plan(const MmParams& p) {
  std::string k = p.key();
  std::lock_guard<std::mutex> lock(cacheMutex);
  auto it = cache.find(k);
  if (it != cache.end()) return *it->second;
  primitive_attr attr;
  if (p.relu) {
    post_ops ops;
    ops.append_eltwise(1.f, algorithm::eltwise_relu, 0.f, 0.f);
    attr.set_post_ops(ops);
  }
  auto d = p.bias ? matmul::desc(p.a(), p.b(), p.biasMd(), p.c()) : matmul::desc(p.a(), p.b(), p.c());
  auto m = std::make_unique<matmul>(matmul::primitive_desc(d, attr, engine()));
  auto& ref = *m;
  cache.emplace(k, std::move(m));
  return ref;
}

// batchMatMul(a, b, c, params[, bias])
Napi::Value BatchMatMul(const Napi::CallbackInfo& info) {
  MmParams p(ints(info, 3, 9));
  float* a = f32(info, 0, static_cast<size_t>(p.bA * p.M * p.K));
  float* b = f32(info, 1, static_cast<size_t>(p.bB * p.K * p.N));
  float* c = f32(info, 2, static_cast<size_t>(p.batch() * p.M * p.N));
  if (p.bA != p.bB && p.bA != 1 && p.bB != 1)
    throw Napi::RangeError::New(info.Env(), "batchMatMul: batch sizes must match or one must be 1");
  try {
    std::unordered_map<int, memory> args{{DNNL_ARG_SRC, memory(p.a(), engine(), a)},
                                         {DNNL_ARG_WEIGHTS, memory(p.b(), engine(), b)},
                                         {DNNL_ARG_DST, memory(p.c(), engine(), c)}};
    if (p.bias) args.emplace(DNNL_ARG_BIAS, memory(p.biasMd(), engine(), f32(info, 4, static_cast<size_t>(p.N))));
    plan(p).execute(stream(), args);
    stream().wait();
  } catch (const dnnl::error& e) {
    throw Napi::Error::New(info.Env(), std::string("oneDNN matmul failed: ") + e.what());
  }
  return info.Env().Undefined();
}

}  // namespace

static void initMatmul(Napi::Env env, Napi::Object exports) {
  exports.Set("batchMatMul", Napi::Function::New(env, BatchMatMul));
}

static const Register registered(initMatmul);

}  // namespace gs
