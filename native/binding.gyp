{
  "targets": [
    {
      "target_name": "rankshield_native",
      "sources": ["src/bridge.cc"],
      "include_dirs": [
        "<!(node -p \"require('node-addon-api').include_dir\")",
        "<!@(node libtorch.js include_dirs)"
      ],
      "defines": ["NAPI_CPP_EXCEPTIONS", "NAPI_VERSION=8", "<!@(node libtorch.js defines)"],
      "cflags!": ["-fno-exceptions", "-fno-rtti"],
      "cflags_cc!": ["-fno-exceptions", "-fno-rtti", "-std=gnu++14", "-std=gnu++17", "-std=gnu++20"],
      "cflags_cc": ["<!@(node libtorch.js cflags)", "-fexceptions", "-frtti", "-O2", "-Wno-unused-parameter"],
      "libraries": ["<!@(node libtorch.js libraries)"]
    }
  ]
}
