// Entry point of the geospike native addon: oneDNN kernels plus fused element-wise kernels, all synchronous.
#include "common.h"
#include <omp.h>

namespace gs {

dnnl::engine& engine() {
  static dnnl::engine e(dnnl::engine::kind::cpu, 0);
  return e;
}

dnnl::stream& stream() {
  static dnnl::stream s(engine());
  return s;
}

}  // namespace gs

static Napi::Value Info(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto o = Napi::Object::New(env);
  const dnnl_version_t* v = dnnl_version();
  o.Set("onednn", std::to_string(v->major) + "." + std::to_string(v->minor) + "." + std::to_string(v->patch));
  o.Set("threads", omp_get_max_threads());
  return o;
}

static Napi::Value SetThreads(const Napi::CallbackInfo& info) {
  omp_set_num_threads(static_cast<int>(gs::num(info, 0)));
  return info.Env().Undefined();
}

static Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("info", Napi::Function::New(env, Info));
  exports.Set("setThreads", Napi::Function::New(env, SetThreads));
  gs::initConv(env, exports);
  gs::initMatmul(env, exports);
  gs::initPool(env, exports);
  gs::initSnn(env, exports);
  gs::initElementwise(env, exports);
  return exports;
}

NODE_API_MODULE(geospike_native, Init)
