# SHA-256 with a settable and readable state, on the SHA256_* functions the node binary exports
# (its bundled OpenSSL): nothing is linked, the symbols resolve against node when it loads us.
{
  "targets": [
    {
      "target_name": "sha256_state",
      "sources": ["sha256_state.c"],
      "defines": ["NAPI_VERSION=8"],
      "cflags": ["-O3", "-Wall", "-Wextra"]
    }
  ]
}
