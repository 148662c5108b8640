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

// Reading a kernel's arguments: each check throws a JS TypeError or RangeError that names the argument.
inline std::string arg(size_t i) { return "argument " + std::to_string(i); }

// Typed-array argument i of element kind `kind` (`name` in the error), e.g. Napi::Float32Array / napi_float32_array.
template <typename A>
A typedArg(const Napi::CallbackInfo& info, size_t i, napi_typedarray_type kind, const char* name) {
  if (!info[i].IsTypedArray() || info[i].As<Napi::TypedArray>().TypedArrayType() != kind)
    throw Napi::TypeError::New(info.Env(), arg(i) + " must be " + name);
  return info[i].As<A>();
}

// The data of typed-array argument i with `expect` elements at least (the pointer includes the view's byte offset).
template <typename A>
auto typedData(const Napi::CallbackInfo& info, size_t i, napi_typedarray_type kind, const char* name, size_t expect) {
  auto a = typedArg<A>(info, i, kind, name);
  if (a.ElementLength() < expect)
    throw Napi::RangeError::New(info.Env(), arg(i) + " has " + std::to_string(a.ElementLength()) +
                                                " elements, needs " + std::to_string(expect));
  return a.Data();
}

// Float32Array argument i with `expect` elements at least.
inline float* f32(const Napi::CallbackInfo& info, size_t i, size_t expect) {
  return typedData<Napi::Float32Array>(info, i, napi_float32_array, "a Float32Array", expect);
}

// Uint8Array argument i with `expect` elements at least.
inline uint8_t* u8(const Napi::CallbackInfo& info, size_t i, size_t expect) {
  return typedData<Napi::Uint8Array>(info, i, napi_uint8_array, "a Uint8Array", expect);
}

// The element count of Float32Array argument i: for kernels whose size is the length of an input.
inline int64_t f32Length(const Napi::CallbackInfo& info, size_t i) {
  return static_cast<int64_t>(
      typedArg<Napi::Float32Array>(info, i, napi_float32_array, "a Float32Array").ElementLength());
}

// An optional Float32Array argument i: nullptr when it is absent, undefined or null.
inline float* optF32(const Napi::CallbackInfo& info, size_t i, size_t expect) {
  return info[i].IsUndefined() || info[i].IsNull() ? nullptr : f32(info, i, expect);
}

inline int64_t num(const Napi::CallbackInfo& info, size_t i) {
  if (!info[i].IsNumber()) throw Napi::TypeError::New(info.Env(), arg(i) + " must be a number");
  return info[i].As<Napi::Number>().Int64Value();
}

inline double dbl(const Napi::CallbackInfo& info, size_t i) {
  if (!info[i].IsNumber()) throw Napi::TypeError::New(info.Env(), arg(i) + " must be a number");
  return info[i].As<Napi::Number>().DoubleValue();
}

// An optional boolean argument i: false when absent (JS truthiness otherwise).
inline bool flag(const Napi::CallbackInfo& info, size_t i) { return info[i].ToBoolean(); }

// Int32Array of shape/attribute parameters.
inline const int32_t* ints(const Napi::CallbackInfo& info, size_t i, size_t expect) {
  auto a = typedArg<Napi::Int32Array>(info, i, napi_int32_array, "an Int32Array");
  if (a.ElementLength() < expect)
    throw Napi::RangeError::New(info.Env(), arg(i) + " needs " + std::to_string(expect) + " ints");
  return a.Data();
}

// A whole Int32Array argument (a shape, a permutation) as 64-bit values.
inline std::vector<int64_t> int64s(const Napi::CallbackInfo& info, size_t i) {
  auto a = typedArg<Napi::Int32Array>(info, i, napi_int32_array, "an Int32Array");
  return std::vector<int64_t>(a.Data(), a.Data() + a.ElementLength());
}

// Each kernel file registers the function that adds its exports with a file-level `static const Register r(init);`,
// so adding a kernel file is all it takes for the addon to export it (binding.gyp compiles every src/ops/*/*.cc).
using InitFn = void (*)(Napi::Env, Napi::Object);
std::vector<InitFn>& initFunctions();
struct Register {
  explicit Register(InitFn f) { initFunctions().push_back(f); }
};

}  // namespace gs
