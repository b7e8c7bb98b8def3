// SHA-256 whose state can be set and read: KooDrive's parallel upload hands each part the state
// after all bytes before it (hashCtx), which node:crypto cannot start from. The context is
// OpenSSL's SHA256_CTX and the SHA256_* functions are the node binary's own (its bundled OpenSSL,
// with its SHA-NI/AVX2 code), resolved when node loads this addon: nothing is linked.
//
// Exports (N-API, so one build serves every Node release of the same platform):
//   create(h: Uint32Array(8) | undefined, bytes: number) -> context
//   update(context, data: ArrayBufferView | ArrayBuffer) -> undefined
//   updateAsync(context, data) -> Promise<undefined>, hashed on the libuv thread pool
//   state(context) -> { h: Uint32Array(8), bytes: number, num: number }
//   digest(context) -> Buffer(32), from a copy: the context stays usable
//
// Updates of one context must not overlap. While an updateAsync is in flight its context
// refuses every other call (ERR_SHA256_BUSY); the TypeScript wrapper chains its updates so that
// never happens. The caller must not change or transfer the data until the promise settles: the
// addon keeps the data alive by a reference, it does not copy it.
#define OPENSSL_SUPPRESS_DEPRECATED
#include <math.h>
#include <node_api.h>
#include <openssl/sha.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

// the largest byte count a JS number holds exactly (Number.MAX_SAFE_INTEGER)
#define MAX_SAFE_BYTES 9007199254740991.0
#define BLOCK_BYTES 64

typedef struct {
  SHA256_CTX sha;
  // an updateAsync is in flight; read and written on the main thread only
  bool busy;
} Context;

typedef struct {
  napi_async_work work;
  napi_deferred deferred;
  napi_ref context_ref;
  napi_ref data_ref;
  Context* context;
  const void* data;
  size_t length;
} AsyncUpdate;

// tells our contexts from any other external
static const napi_type_tag CONTEXT_TAG = {0x6b6f6f6472697665ULL, 0x7368613235360001ULL};

// Throws the pending N-API error unless a JavaScript exception is already pending.
static void throw_napi_error(napi_env env) {
  bool pending = false;
  if (napi_is_exception_pending(env, &pending) == napi_ok && pending) {
    return;
  }
  const napi_extended_error_info* info = NULL;
  napi_get_last_error_info(env, &info);
  const char* message = info != NULL && info->error_message != NULL ? info->error_message : "N-API call failed";
  napi_throw_error(env, "ERR_SHA256_NAPI", message);
}

#define CHECK(call)          \
  do {                       \
    if ((call) != napi_ok) { \
      throw_napi_error(env); \
      return NULL;           \
    }                        \
  } while (0)

static void finalize_context(napi_env env, void* data, void* hint) {
  (void)env;
  (void)hint;
  free(data);
}

static bool get_args(napi_env env, napi_callback_info info, size_t expected, napi_value* argv) {
  size_t argc = expected;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) {
    throw_napi_error(env);
    return false;
  }
  // missing arguments read as undefined
  for (size_t i = argc; i < expected; i++) {
    if (napi_get_undefined(env, &argv[i]) != napi_ok) {
      throw_napi_error(env);
      return false;
    }
  }
  return true;
}

static Context* get_context(napi_env env, napi_value value) {
  napi_valuetype type;
  bool tagged = false;
  if (napi_typeof(env, value, &type) != napi_ok) {
    throw_napi_error(env);
    return NULL;
  }
  if (type == napi_external && napi_check_object_type_tag(env, value, &CONTEXT_TAG, &tagged) != napi_ok) {
    throw_napi_error(env);
    return NULL;
  }
  if (!tagged) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "context must be a context made by create()");
    return NULL;
  }
  Context* context = NULL;
  if (napi_get_value_external(env, value, (void**)&context) != napi_ok) {
    throw_napi_error(env);
    return NULL;
  }
  if (context->busy) {
    napi_throw_error(env, "ERR_SHA256_BUSY",
                     "an updateAsync on this context is still running: await it before using the context");
    return NULL;
  }
  return context;
}

// The call's arguments into argv (`expected` of them), the first being a context: that context,
// or NULL with an exception pending.
static Context* context_args(napi_env env, napi_callback_info info, size_t expected, napi_value* argv) {
  return get_args(env, info, expected, argv) ? get_context(env, argv[0]) : NULL;
}

static size_t element_size(napi_typedarray_type type) {
  switch (type) {
    case napi_int8_array:
    case napi_uint8_array:
    case napi_uint8_clamped_array:
      return 1;
    case napi_int16_array:
    case napi_uint16_array:
      return 2;
    case napi_int32_array:
    case napi_uint32_array:
    case napi_float32_array:
      return 4;
    case napi_float64_array:
    case napi_bigint64_array:
    case napi_biguint64_array:
      return 8;
    default:
      return 0;
  }
}

// Reads the bytes of a Buffer, any other TypedArray, a DataView or an ArrayBuffer.
static bool get_data(napi_env env, napi_value value, const void** data, size_t* length) {
  bool is_typedarray = false;
  bool is_dataview = false;
  bool is_arraybuffer = false;
  void* pointer = NULL;
  if (napi_is_typedarray(env, value, &is_typedarray) != napi_ok) {
    throw_napi_error(env);
    return false;
  }
  if (is_typedarray) {
    napi_typedarray_type type;
    size_t elements = 0;
    if (napi_get_typedarray_info(env, value, &type, &elements, &pointer, NULL, NULL) != napi_ok) {
      throw_napi_error(env);
      return false;
    }
    size_t size = element_size(type);
    if (size == 0) {
      napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "data is a typed array of an unsupported element type");
      return false;
    }
    *data = pointer;
    *length = elements * size;
    return true;
  }
  if (napi_is_dataview(env, value, &is_dataview) != napi_ok) {
    throw_napi_error(env);
    return false;
  }
  if (is_dataview) {
    if (napi_get_dataview_info(env, value, length, &pointer, NULL, NULL) != napi_ok) {
      throw_napi_error(env);
      return false;
    }
    *data = pointer;
    return true;
  }
  if (napi_is_arraybuffer(env, value, &is_arraybuffer) != napi_ok) {
    throw_napi_error(env);
    return false;
  }
  if (is_arraybuffer) {
    if (napi_get_arraybuffer_info(env, value, &pointer, length) != napi_ok) {
      throw_napi_error(env);
      return false;
    }
    *data = pointer;
    return true;
  }
  napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "data must be a Buffer, a TypedArray, a DataView or an ArrayBuffer");
  return false;
}

// create(h: Uint32Array(8) | undefined, bytes: number): the state after `bytes` bytes (a
// multiple of 64) whose words are h, or the initial state (h undefined, bytes 0).
static napi_value create(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  if (!get_args(env, info, 2, argv)) {
    return NULL;
  }
  napi_valuetype h_type;
  napi_valuetype bytes_type;
  CHECK(napi_typeof(env, argv[0], &h_type));
  CHECK(napi_typeof(env, argv[1], &bytes_type));

  if (bytes_type != napi_number) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "bytes must be a number");
    return NULL;
  }
  double bytes = 0;
  CHECK(napi_get_value_double(env, argv[1], &bytes));
  if (!isfinite(bytes) || bytes < 0 || bytes > MAX_SAFE_BYTES || floor(bytes) != bytes) {
    napi_throw_range_error(env, "ERR_OUT_OF_RANGE", "bytes must be a non-negative safe integer");
    return NULL;
  }
  if (fmod(bytes, BLOCK_BYTES) != 0) {
    napi_throw_range_error(env, "ERR_OUT_OF_RANGE",
                           "bytes must be a multiple of 64: a state can only start on a block boundary");
    return NULL;
  }

  const uint32_t* words = NULL;
  if (h_type != napi_undefined && h_type != napi_null) {
    bool is_typedarray = false;
    napi_typedarray_type type = napi_int8_array;
    size_t length = 0;
    void* pointer = NULL;
    CHECK(napi_is_typedarray(env, argv[0], &is_typedarray));
    if (is_typedarray) {
      CHECK(napi_get_typedarray_info(env, argv[0], &type, &length, &pointer, NULL, NULL));
    }
    if (!is_typedarray || type != napi_uint32_array) {
      napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "h must be a Uint32Array or undefined");
      return NULL;
    }
    if (length != 8) {
      napi_throw_range_error(env, "ERR_OUT_OF_RANGE", "h must hold exactly 8 words");
      return NULL;
    }
    words = pointer;
  } else if (bytes != 0) {
    napi_throw_range_error(env, "ERR_OUT_OF_RANGE", "the initial state (h undefined) is at 0 bytes");
    return NULL;
  }

  Context* context = calloc(1, sizeof(Context));
  if (context == NULL) {
    napi_throw_error(env, "ERR_SHA256_NO_MEMORY", "out of memory");
    return NULL;
  }
  SHA256_Init(&context->sha);
  if (words != NULL) {
    uint64_t bits = (uint64_t)bytes * 8;
    memcpy(context->sha.h, words, sizeof(context->sha.h));
    context->sha.Nl = (SHA_LONG)(bits & 0xffffffffu);
    context->sha.Nh = (SHA_LONG)(bits >> 32);
    context->sha.num = 0;
  }
  napi_value result;
  if (napi_create_external(env, context, finalize_context, NULL, &result) != napi_ok) {
    free(context);
    throw_napi_error(env);
    return NULL;
  }
  CHECK(napi_type_tag_object(env, result, &CONTEXT_TAG));
  return result;
}

static napi_value update(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  Context* context = context_args(env, info, 2, argv);
  const void* data = NULL;
  size_t length = 0;
  if (context == NULL || !get_data(env, argv[1], &data, &length)) {
    return NULL;
  }
  SHA256_Update(&context->sha, data, length);
  return NULL;
}

// runs on a thread-pool thread: no N-API calls here
static void execute_update(napi_env env, void* data) {
  (void)env;
  AsyncUpdate* job = data;
  SHA256_Update(&job->context->sha, job->data, job->length);
}

static void complete_update(napi_env env, napi_status status, void* data) {
  AsyncUpdate* job = data;
  job->context->busy = false;
  napi_value outcome = NULL;
  if (status == napi_ok) {
    napi_get_undefined(env, &outcome);
    napi_resolve_deferred(env, job->deferred, outcome);
  } else {
    napi_value code;
    napi_value message;
    napi_create_string_utf8(env, "ERR_SHA256_CANCELLED", NAPI_AUTO_LENGTH, &code);
    napi_create_string_utf8(env, "the update did not run", NAPI_AUTO_LENGTH, &message);
    napi_create_error(env, code, message, &outcome);
    napi_reject_deferred(env, job->deferred, outcome);
  }
  napi_delete_reference(env, job->data_ref);
  napi_delete_reference(env, job->context_ref);
  napi_delete_async_work(env, job->work);
  free(job);
}

static napi_value update_async(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  Context* context = context_args(env, info, 2, argv);
  const void* data = NULL;
  size_t length = 0;
  if (context == NULL || !get_data(env, argv[1], &data, &length)) {
    return NULL;
  }
  AsyncUpdate* job = calloc(1, sizeof(AsyncUpdate));
  if (job == NULL) {
    napi_throw_error(env, "ERR_SHA256_NO_MEMORY", "out of memory");
    return NULL;
  }
  job->context = context;
  job->data = data;
  job->length = length;
  napi_value promise;
  napi_value name;
  // the references keep the context and the data alive until the work completes
  if (napi_create_reference(env, argv[0], 1, &job->context_ref) != napi_ok ||
      napi_create_reference(env, argv[1], 1, &job->data_ref) != napi_ok ||
      napi_create_string_utf8(env, "sha256StateUpdate", NAPI_AUTO_LENGTH, &name) != napi_ok ||
      napi_create_async_work(env, NULL, name, execute_update, complete_update, job, &job->work) != napi_ok ||
      napi_create_promise(env, &job->deferred, &promise) != napi_ok) {
    throw_napi_error(env);
    goto fail;
  }
  if (napi_queue_async_work(env, job->work) != napi_ok) {
    // settle the promise nobody will see (before throwing: a pending exception blocks it)
    napi_value undefined;
    napi_get_undefined(env, &undefined);
    napi_resolve_deferred(env, job->deferred, undefined);
    napi_throw_error(env, "ERR_SHA256_NAPI", "could not queue the update on the thread pool");
    goto fail;
  }
  context->busy = true;
  return promise;

fail:
  if (job->work != NULL) {
    napi_delete_async_work(env, job->work);
  }
  if (job->data_ref != NULL) {
    napi_delete_reference(env, job->data_ref);
  }
  if (job->context_ref != NULL) {
    napi_delete_reference(env, job->context_ref);
  }
  free(job);
  return NULL;
}

// state(context): { h, bytes, num }; bytes counts everything hashed, num the bytes of it still
// waiting in the block buffer (h covers bytes - num)
static napi_value state(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  Context* context = context_args(env, info, 1, argv);
  if (context == NULL) {
    return NULL;
  }
  void* words = NULL;
  napi_value buffer;
  napi_value h;
  napi_value bytes;
  napi_value num;
  napi_value result;
  uint64_t bits = ((uint64_t)context->sha.Nh << 32) | context->sha.Nl;
  CHECK(napi_create_arraybuffer(env, sizeof(context->sha.h), &words, &buffer));
  memcpy(words, context->sha.h, sizeof(context->sha.h));
  CHECK(napi_create_typedarray(env, napi_uint32_array, 8, buffer, 0, &h));
  CHECK(napi_create_double(env, (double)(bits / 8), &bytes));
  CHECK(napi_create_uint32(env, context->sha.num, &num));
  CHECK(napi_create_object(env, &result));
  CHECK(napi_set_named_property(env, result, "h", h));
  CHECK(napi_set_named_property(env, result, "bytes", bytes));
  CHECK(napi_set_named_property(env, result, "num", num));
  return result;
}

static napi_value digest(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  Context* context = context_args(env, info, 1, argv);
  if (context == NULL) {
    return NULL;
  }
  // finish a copy so the context can go on
  SHA256_CTX copy = context->sha;
  unsigned char md[SHA256_DIGEST_LENGTH];
  SHA256_Final(md, &copy);
  napi_value result;
  CHECK(napi_create_buffer_copy(env, sizeof(md), md, NULL, &result));
  return result;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor properties[] = {
      {"create", NULL, create, NULL, NULL, NULL, napi_enumerable, NULL},
      {"update", NULL, update, NULL, NULL, NULL, napi_enumerable, NULL},
      {"updateAsync", NULL, update_async, NULL, NULL, NULL, napi_enumerable, NULL},
      {"state", NULL, state, NULL, NULL, NULL, napi_enumerable, NULL},
      {"digest", NULL, digest, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  CHECK(napi_define_properties(env, exports, sizeof(properties) / sizeof(properties[0]), properties));
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
