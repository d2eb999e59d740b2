/* edgert public C API. The only installed header; includes nothing of the repo.
 *
 * Threading: an edgert_model is immutable once loaded and may be shared by any number of
 * sessions on any threads. An edgert_session must be used by one thread at a time; a call that
 * finds another call on the same session still running fails with EDGERT_BUSY instead of
 * racing.
 *
 * Errors: every function returns an edgert_status (or NULL / a count). A readable message for
 * the last failure on the calling thread is in edgert_last_error(). No C++ exception crosses
 * this API.
 */
#ifndef EDGERT_EDGERT_H_
#define EDGERT_EDGERT_H_

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(_WIN32)
#define EDGERT_API __declspec(dllexport)
#else
#define EDGERT_API __attribute__((visibility("default")))
#endif

typedef enum edgert_status {
  EDGERT_OK = 0,
  EDGERT_INVALID_ARGUMENT = 1, /* a bad argument or input (name, shape, dtype, size) */
  EDGERT_INVALID_MODEL = 2,    /* the model file is malformed or unsupported */
  EDGERT_NOT_FOUND = 3,        /* no such file, input or output */
  EDGERT_RESOURCE_EXHAUSTED = 4, /* a memory limit would be exceeded */
  EDGERT_UNSUPPORTED = 5,      /* valid, but not supported by this build */
  EDGERT_BUSY = 6,             /* the session is in use by another thread */
  EDGERT_INTERNAL = 7,
} edgert_status;

typedef enum edgert_dtype {
  EDGERT_F32 = 0,
  EDGERT_F16 = 1,
  EDGERT_I8 = 2,
  EDGERT_U8 = 3,
  EDGERT_I4 = 4,
  EDGERT_I32 = 5,
  EDGERT_I64 = 6,
  EDGERT_BOOL = 7,
} edgert_dtype;

#define EDGERT_MAX_RANK 8

/* A tensor description. Dynamic dims are -1 in `dims` with their name in `dim_names`. */
typedef struct edgert_tensor_info {
  const char* name;
  edgert_dtype dtype;
  int32_t rank;
  int64_t dims[EDGERT_MAX_RANK];
  const char* dim_names[EDGERT_MAX_RANK]; /* NULL for fixed dims */
} edgert_tensor_info;

typedef struct edgert_model edgert_model;
typedef struct edgert_session edgert_session;

typedef struct edgert_session_options {
  int32_t num_threads;       /* 0 = one per core; 1 = run on the calling thread only */
  uint64_t arena_limit_bytes; /* 0 = no limit; a plan needing more fails at creation */
  int32_t profile;            /* nonzero: time every op of every run (edgert_session_profile) */
} edgert_session_options;

EDGERT_API const char* edgert_version(void);
/* Name of the matrix-multiply kernel variant this CPU uses, e.g. "avx2". */
EDGERT_API const char* edgert_isa(void);
/* Message of the last failed call on this thread ("" if none). Valid until the next call. */
EDGERT_API const char* edgert_last_error(void);

/* Loads (mmaps) and verifies a model file. */
EDGERT_API edgert_status edgert_model_load(const char* path, edgert_model** out);
/* Loads from a caller's buffer, which must stay valid and unchanged until the model is freed. */
EDGERT_API edgert_status edgert_model_load_from_memory(const void* data, size_t size,
                                                       edgert_model** out);
EDGERT_API void edgert_model_free(edgert_model* model);

EDGERT_API size_t edgert_model_num_inputs(const edgert_model* model);
EDGERT_API size_t edgert_model_num_outputs(const edgert_model* model);
/* Describes input/output `index`; strings stay valid while the model lives. */
EDGERT_API edgert_status edgert_model_input_info(const edgert_model* model, size_t index,
                                                 edgert_tensor_info* info);
EDGERT_API edgert_status edgert_model_output_info(const edgert_model* model, size_t index,
                                                  edgert_tensor_info* info);
/* Metadata value for `key` ("producer", "source_hash", "conversion_options", ... or an extra
 * key), or NULL. */
EDGERT_API const char* edgert_model_metadata(const edgert_model* model, const char* key);

EDGERT_API void edgert_session_options_init(edgert_session_options* options);
/* Creates a session. The model must outlive it. `options` may be NULL (defaults). */
EDGERT_API edgert_status edgert_session_create(const edgert_model* model,
                                               const edgert_session_options* options,
                                               edgert_session** out);
EDGERT_API void edgert_session_free(edgert_session* session);

/* Copies input `index` (model input order). `dims` gives the actual shape (rank must match the
 * model's; fixed dims must match); the data is `dtype` elements, `bytes` long. The shape may
 * change between runs (the session re-plans then). */
EDGERT_API edgert_status edgert_session_set_input(edgert_session* session, size_t index,
                                                  edgert_dtype dtype, const int64_t* dims,
                                                  int32_t rank, const void* data, size_t bytes);
EDGERT_API edgert_status edgert_session_run(edgert_session* session);
/* Describes output `index` after a run, with its actual shape in `info->dims`. */
EDGERT_API edgert_status edgert_session_output_info(const edgert_session* session, size_t index,
                                                    edgert_tensor_info* info);
/* Points `*data` at output `index` (valid until the next run or set_input) and its byte size. */
EDGERT_API edgert_status edgert_session_output_data(const edgert_session* session, size_t index,
                                                    const void** data, size_t* bytes);
/* Bytes of the session's planned activation arena for the current shapes. */
EDGERT_API uint64_t edgert_session_arena_bytes(const edgert_session* session);
/* With options.profile set: a text table of where the runs so far spent their time (per op kind,
 * then the slowest single ops, in ms per run), owned by the session and valid until its next call
 * of run or profile. NULL when profiling is off or nothing has run. */
EDGERT_API const char* edgert_session_profile(edgert_session* session);

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* EDGERT_EDGERT_H_ */
