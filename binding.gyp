{
  "targets": [
    {
      "target_name": "geospike_native",
      "sources": ["<!@(ls -1 src/engine/native/cc/*.cc src/ops/*/*.cc)"],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")", "src/engine/native/cc"],
      "defines": ["NAPI_VERSION=8", "NAPI_CPP_EXCEPTIONS"],
      "cflags!": ["-fno-exceptions"],
      "cflags_cc!": ["-fno-exceptions", "-std=gnu++17"],
      "cflags_cc": ["-std=c++17", "-O3", "-march=native", "-fopenmp", "-ffp-contract=off", "-fno-math-errno",
                    "-fno-trapping-math", "-fexceptions"],
      "libraries": ["-ldnnl", "-fopenmp"]
    },
    {
      "target_name": "geospike_pump",
      "sources": ["src/engine/webgpu/cc/pump.cc", "src/engine/webgpu/cc/quiet_stderr.cc"],
      "cflags_cc": ["-O2"]
    }
  ]
}
