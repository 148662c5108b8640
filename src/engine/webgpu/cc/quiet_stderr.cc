// silenceStderr() / restoreStderr(saved): point file descriptor 2 at /dev/null and back. Dawn, Mesa and the Vulkan
// loader write their warnings (XDG_RUNTIME_DIR, missing ICDs, "limit artificially reduced") straight to fd 2 from
// C++, where no JS hook can reach them; src/engine/webgpu/quiet_stderr.ts wraps the adapter probe in these.
#include "quiet_stderr.h"

#ifndef _WIN32
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>
#endif

// Returns a close-on-exec copy of the original fd 2 to hand to restoreStderr, or -1 when nothing was redirected.
static napi_value SilenceStderr(napi_env env, napi_callback_info) {
  int saved = -1;
#ifndef _WIN32
  fflush(stderr);  // what C stdio still holds belongs to before the window
  saved = fcntl(2, F_DUPFD_CLOEXEC, 3);
  int devnull = open("/dev/null", O_WRONLY | O_CLOEXEC);
  if (saved < 0 || devnull < 0 || dup2(devnull, 2) < 0) {
    if (saved >= 0) close(saved);
    saved = -1;
  }
  if (devnull >= 0) close(devnull);
#endif
  napi_value result;
  napi_create_int32(env, saved, &result);
  return result;
}

static napi_value RestoreStderr(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  int32_t saved = -1;
  if (napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr) != napi_ok || argc < 1 ||
      napi_get_value_int32(env, argv[0], &saved) != napi_ok) {
    napi_throw_type_error(env, nullptr, "restoreStderr(saved): saved must be the number silenceStderr returned");
    return nullptr;
  }
#ifndef _WIN32
  if (saved >= 0) {
    fflush(stderr);  // drop nothing of the window into the real stderr later
    dup2(saved, 2);
    close(saved);
  }
#endif
  return nullptr;
}

void RegisterQuietStderr(napi_env env, napi_value exports) {
  napi_value fn;
  napi_create_function(env, "silenceStderr", NAPI_AUTO_LENGTH, SilenceStderr, nullptr, &fn);
  napi_set_named_property(env, exports, "silenceStderr", fn);
  napi_create_function(env, "restoreStderr", NAPI_AUTO_LENGTH, RestoreStderr, nullptr, &fn);
  napi_set_named_property(env, exports, "restoreStderr", fn);
}
