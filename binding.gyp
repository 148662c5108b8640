{
  "targets": [
    {
      "target_name": "geospike_native",
      "sources": [
        "src/engine/native/cc/adamw.cc",
        "src/engine/native/cc/addon.cc",
        "src/engine/native/cc/batchnorm.cc",
        "src/engine/native/cc/conv.cc",
        "src/engine/native/cc/elementwise.cc",
        "src/engine/native/cc/lif.cc",
        "src/engine/native/cc/matmul.cc",
        "src/engine/native/cc/pool.cc",
        "src/engine/native/cc/sparse.cc"
      ],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": ["NAPI_VERSION=8", "NAPI_CPP_EXCEPTIONS"],
      "cflags!": ["-fno-exceptions"],
      "cflags_cc!": ["-fno-exceptions", "-std=gnu++17"],
      "cflags_cc": ["-std=c++17", "-O3", "-march=native", "-fopenmp", "-ffp-contract=off", "-fno-math-errno", "-fexceptions"],
      "libraries": ["-ldnnl", "-fopenmp"]
    },
    {
      "target_name": "geospike_pump",
      "sources": ["src/engine/webgpu/cc/pump.cc"],
      "cflags_cc": ["-O2"]
    }
  ]
}
