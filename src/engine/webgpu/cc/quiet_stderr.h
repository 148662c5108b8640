// The stderr redirect of quiet_stderr.cc, registered on the exports of the geospike_pump addon (pump.cc).
#pragma once
#include <node_api.h>

void RegisterQuietStderr(napi_env env, napi_value exports);
