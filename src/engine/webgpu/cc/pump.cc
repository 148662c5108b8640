// pump(): runs one non-blocking turn of Node's event loop from inside a synchronous call. Dawn's Node binding
// completes GPUBuffer.mapAsync only from a setImmediate tick, so tfjs's synchronous reads (dataSync, which the
// models and tests use) could never see a mapped buffer; readSync (src/engine/webgpu/read_sync.ts) turns the loop
// until the staging buffer is mapped. The same technique as the `deasync` package, in a dozen lines.
// The addon also carries quiet_stderr.cc (the webgpu backend's other need of native code).
#include <node_api.h>
#include <uv.h>

#include "quiet_stderr.h"

static napi_value Pump(napi_env env, napi_callback_info) {
  uv_loop_t* loop = nullptr;
  napi_value result;
  if (napi_get_uv_event_loop(env, &loop) != napi_ok || loop == nullptr) {
    napi_throw_error(env, nullptr, "pump: no libuv event loop");
    return nullptr;
  }
  int alive = uv_run(loop, UV_RUN_NOWAIT);
  napi_get_boolean(env, alive != 0, &result);
  return result;
}

static napi_value Init(napi_env env, napi_value exports) {
  napi_value fn;
  napi_create_function(env, "pump", NAPI_AUTO_LENGTH, Pump, nullptr, &fn);
  napi_set_named_property(env, exports, "pump", fn);
  RegisterQuietStderr(env, exports);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, Init)
