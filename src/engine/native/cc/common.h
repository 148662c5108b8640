// Shared helpers for the geospike native addon: the oneDNN engine/stream and typed-array access.
#pragma once
#include <napi.h>
#include <dnnl.hpp>
#include <cstdint>
#include <string>
#include <vector>

namespace gs {

dnnl::engine& engine();
dnnl::stream& stream();

// Float32Array argument i (data pointer includes the view's byte offset).
inline float* f32(const Napi::CallbackInfo& info, size_t i, size_t expect) {
  if (!info[i].IsTypedArray() || info[i].As<Napi::TypedArray>().TypedArrayType() != napi_float32_array)
    throw Napi::TypeError::New(info.Env(), "argument " + std::to_string(i) + " must be a Float32Array");
  auto a = info[i].As<Napi::Float32Array>();
  if (a.ElementLength() < expect)
    throw Napi::RangeError::New(info.Env(), "argument " + std::to_string(i) + " has " + std::to_string(a.ElementLength()) +
                                                " elements, needs " + std::to_string(expect));
  return a.Data();
}

inline int64_t num(const Napi::CallbackInfo& info, size_t i) {
  if (!info[i].IsNumber()) throw Napi::TypeError::New(info.Env(), "argument " + std::to_string(i) + " must be a number");
  return info[i].As<Napi::Number>().Int64Value();
}

inline double dbl(const Napi::CallbackInfo& info, size_t i) {
  if (!info[i].IsNumber()) throw Napi::TypeError::New(info.Env(), "argument " + std::to_string(i) + " must be a number");
  return info[i].As<Napi::Number>().DoubleValue();
}

// Int32Array of shape/attribute parameters.
inline const int32_t* ints(const Napi::CallbackInfo& info, size_t i, size_t expect) {
  if (!info[i].IsTypedArray() || info[i].As<Napi::TypedArray>().TypedArrayType() != napi_int32_array)
    throw Napi::TypeError::New(info.Env(), "argument " + std::to_string(i) + " must be an Int32Array");
  auto a = info[i].As<Napi::Int32Array>();
  if (a.ElementLength() < expect)
    throw Napi::RangeError::New(info.Env(), "argument " + std::to_string(i) + " needs " + std::to_string(expect) + " ints");
  return a.Data();
}

// Each kernel file registers the function that adds its exports with a file-level `static const Register r(init);`,
// so adding a kernel file is all it takes for the addon to export it (binding.gyp compiles every src/ops/*/*.cc).
using InitFn = void (*)(Napi::Env, Napi::Object);
std::vector<InitFn>& initFunctions();
struct Register {
  explicit Register(InitFn f) { initFunctions().push_back(f); }
};

}  // namespace gs
