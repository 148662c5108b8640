// Entry point of the geospike native addon: oneDNN kernels plus fused element-wise kernels, all synchronous.
#include "common.h"
#include <omp.h>
#include <sys/mman.h>

namespace gs {

dnnl::engine& engine() {
  static dnnl::engine e(dnnl::engine::kind::cpu, 0);
  return e;
}

std::vector<InitFn>& initFunctions() {
  static std::vector<InitFn> fns;  // a function-local static: safe to use from other files' static initialisers
  return fns;
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

// release(array): gives the physical pages of an idle pooled array back to the kernel at once (the JS side keeps the
// array; its next writer faults fresh zero pages in). Unreferenced ArrayBuffers would stay resident until a GC.
static Napi::Value Release(const Napi::CallbackInfo& info) {
  auto a = info[0].As<Napi::TypedArray>();
  const uintptr_t page = 4096;
  uintptr_t begin = reinterpret_cast<uintptr_t>(static_cast<char*>(a.ArrayBuffer().Data()) + a.ByteOffset());
  uintptr_t end = (begin + a.ByteLength()) & ~(page - 1);
  begin = (begin + page - 1) & ~(page - 1);
  if (end > begin) madvise(reinterpret_cast<void*>(begin), end - begin, MADV_DONTNEED);
  return info.Env().Undefined();
}

static Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("info", Napi::Function::New(env, Info));
  exports.Set("setThreads", Napi::Function::New(env, SetThreads));
  exports.Set("release", Napi::Function::New(env, Release));
  for (gs::InitFn init : gs::initFunctions()) init(env, exports);
  return exports;
}

NODE_API_MODULE(geospike_native, Init)
