/*
 * util.h - small shared pieces: thread-local errors, growable buffers,
 * string helpers, cancellation, time, a layer-neutral logger, and the one
 * line splitter, process spawner and adaptive poller every layer uses.
 * Every layer (aws, ssh, template, bake) includes this; it includes no layer.
 */
#ifndef BK_UTIL_H
#define BK_UTIL_H

#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

#include "bakeami.h"

#define BK_PRINTF(a, b) __attribute__((format(printf, a, b)))
#define BK_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* ---- errors: set the thread-local message, return the code ---------- */
int bk_err(int code, const char *fmt, ...) BK_PRINTF(2, 3);
int bk_verr(int code, const char *fmt, va_list ap);
/* Prefix the current message: "ctx: <old message>". Returns code. */
int bk_err_wrap(int code, const char *fmt, ...) BK_PRINTF(2, 3);
const char *bk_err_msg(void);
/* An allocation failed: set "out of memory", return BAKEAMI_ENOMEM. */
int bk_oom(void);
void bk_err_clear(void);
/* A delete's BAKEAMI_ENOTFOUND ("already gone") as success, for a caller
 * that only needs the thing not to exist; any other rc unchanged. */
int bk_gone_is_done(int rc);

/* ---- growable byte buffer, always NUL-terminated when ptr != NULL --- */
typedef struct {
	char *ptr;
	size_t len;
	size_t cap;
} bk_buf;
#define BK_BUF_INIT {NULL, 0, 0}
int bk_buf_put(bk_buf *b, const void *data, size_t n);
int bk_buf_puts(bk_buf *b, const char *s);
int bk_buf_putc(bk_buf *b, char c);
int bk_buf_printf(bk_buf *b, const char *fmt, ...) BK_PRINTF(2, 3);
int bk_buf_vprintf(bk_buf *b, const char *fmt, va_list ap);
/* Returns the string (never NULL: "" when empty) and resets the buffer. */
char *bk_buf_detach(bk_buf *b);
void bk_buf_clear(bk_buf *b);
void bk_buf_free(bk_buf *b);
/* Append s single-quoted for sh: 'it'\''s'. Injection-proof for any s
 * (nothing is special inside single quotes but the quote itself). */
int bk_sh_quote(bk_buf *b, const char *s);

/* ---- strings (abort-free: NULL on ENOMEM) --------------------------- */
char *bk_strdup(const char *s);           /* NULL in, NULL out */
char *bk_strndup(const char *s, size_t n);
char *bk_sprintf(const char *fmt, ...) BK_PRINTF(1, 2);
bool bk_str_starts(const char *s, const char *prefix);
bool bk_str_ends(const char *s, const char *suffix);
/* A NULL-terminated vector of owned strings. */
typedef struct {
	char **items;
	size_t count;
	size_t cap;
} bk_strv;
#define BK_STRV_INIT {NULL, 0, 0}
int bk_strv_push(bk_strv *v, const char *s);  /* copies s */
void bk_strv_free(bk_strv *v);
/* Ordered key/value list of owned strings; set() replaces an existing key. */
typedef struct {
	char **keys;
	char **vals;
	size_t count;
	size_t cap;
} bk_kv;
#define BK_KV_INIT {NULL, NULL, 0, 0}
int bk_kv_add(bk_kv *kv, const char *k, const char *v);  /* appends */
int bk_kv_set(bk_kv *kv, const char *k, const char *v);  /* replaces */
const char *bk_kv_get(const bk_kv *kv, const char *k);
void bk_kv_free(bk_kv *kv);

/* ---- files ---------------------------------------------------------- */
/* Read a whole file; sets an error naming the path on failure. */
int bk_file_read(char **out, size_t *out_len, const char *path);
/* bk_file_read for input we parse: a regular file (a FIFO, device or folder
 * is refused before open() could block) of at most max bytes. */
int bk_file_read_regular(char **out, size_t *out_len, const char *path, size_t max);
int bk_file_write(const char *path, const char *data, size_t len, int mode);
/* mkdir -p */
int bk_mkdirs(const char *path, int mode);

/* ---- time ----------------------------------------------------------- */
double bk_now(void);            /* monotonic seconds */
double bk_wall(void);           /* epoch seconds */
/* "2026-11-26T04:25:53Z" for an epoch time */
void bk_iso8601(char out[32], double epoch);

/* ---- cancellation --------------------------------------------------- */
typedef struct {
	atomic_int flag;
} bk_cancel;
bool bk_cancelled(const bk_cancel *c);       /* NULL: never */
void bk_cancel_set(bk_cancel *c);
/* Sleep up to ms, waking early on cancel. 0, or BAKEAMI_ECANCELLED. */
int bk_sleep_ms(const bk_cancel *c, long ms);

/* ---- output lines (lines.c) ----------------------------------------- */
/* The one policy for output shown live: a line is passed on without its
 * "\n" or "\r\n"; a line longer than BK_LINE_MAX_BYTES is passed on in
 * pieces of that size (never dropped); the unfinished last line is passed
 * on by bk_lines_finish. Lines may hold NUL bytes: use len. */
#define BK_LINE_MAX_BYTES 65536
typedef void (*bk_line_cb)(int stream, const char *line, size_t len, void *payload);
typedef struct {
	bk_buf part;                /* the unfinished line */
	int stream;                 /* handed to cb: 1 stdout, 2 stderr */
	bk_line_cb cb;              /* NULL: lines are dropped */
	void *payload;
} bk_lines;
#define BK_LINES_INIT(stream, cb, payload) {BK_BUF_INIT, (stream), (cb), (payload)}
int bk_lines_feed(bk_lines *l, const void *data, size_t n);   /* 0 or BAKEAMI_ENOMEM */
void bk_lines_finish(bk_lines *l);   /* passes on the unfinished line, frees */

/* ---- local processes (spawn.c) -------------------------------------- */
/* posix_spawn, never fork: a JVM hosts us. The child gets stdin from
 * /dev/null, pipes as stdout/stderr, no other descriptor of ours, default
 * signal handling and its own process group, which a cancel or timeout
 * stops (SIGTERM, then SIGKILL). */
typedef struct {
	const char *path;           /* program; looked up in PATH without a '/' */
	char *const *argv;
	char *const *envp;          /* NULL: this process's environment */
	const char *cwd;            /* NULL: ours */
	const bk_cancel *cancel;
	double timeout_s;           /* 0: none */
	bk_line_cb cb;              /* each line of stdout (1) / stderr (2) */
	void *payload;
} bk_spawn_opts;
/* Run to the end. *status gets the exit status (128+N for signal N).
 * 0, BAKEAMI_ECANCELLED, BAKEAMI_ETIMEOUT, BAKEAMI_ENOMEM, or
 * BAKEAMI_EIO when it could not start (missing program or cwd). */
int bk_spawn_run(int *status, const bk_spawn_opts *o);

/* ---- private temp folders (tmpdir.c) -------------------------------- */
/* For what a tool run on the agent needs on disk: a private key, a
 * known_hosts file, an inventory. */
typedef struct {
	char path[256];             /* "" when there is none */
} bk_tmpdir;
/* $TMPDIR (else /tmp)/<prefix>-XXXXXX, mode 0700. */
int bk_tmpdir_make(bk_tmpdir *t, const char *prefix);
/* "<path>/<name>": a new string. */
char *bk_tmpdir_file(const bk_tmpdir *t, const char *name);
/* An OpenSSH private key in <path>/<name>, 0600, ending in a newline;
 * *path gets the file's path (the caller frees it). */
int bk_tmpdir_write_key(char **path, const bk_tmpdir *t, const char *name, const char *pem);
/* Remove the folder and everything in it, whoever wrote it. Idempotent. */
void bk_tmpdir_remove(bk_tmpdir *t);

/* ---- adaptive waits (poll.c) ---------------------------------------- */
/* Wait first_s, then factor times longer each time up to max_s, never
 * past the deadline. The clock is a seam for tests; NULL: bk_now and
 * bk_sleep_ms. */
typedef struct {
	double (*now)(void *payload);                              /* seconds */
	int (*sleep)(const bk_cancel *c, double s, void *payload); /* 0 / ECANCELLED */
	void *payload;
} bk_clock;
typedef struct {
	double deadline;            /* on the clock's time line; 0: none */
	double first_s;
	double max_s;               /* 0: no ceiling */
	double factor;              /* growth per wait; <= 1: a fixed interval */
	const bk_cancel *cancel;
	const bk_clock *clock;
	double steady_s;            /* keep first_s until this long after the start; 0: grow at once */
} bk_poll_opts;
typedef struct {
	bk_poll_opts o;
	double started;             /* the clock's time at bk_poller_start */
	double next_s;              /* the coming wait before the deadline clamps it */
	int waits;                  /* how many waits so far */
} bk_poller;
void bk_poller_start(bk_poller *p, const bk_poll_opts *o);
double bk_poller_now(const bk_poller *p);
/* The wait bk_poller_wait would sleep now (0 at the deadline), for log lines. */
double bk_poller_next(const bk_poller *p);
/* Sleep before the next try: 0; 1, without sleeping and without an error
 * (the caller knows what it waited for), once the deadline is reached;
 * BAKEAMI_ECANCELLED. */
int bk_poller_wait(bk_poller *p);

/* ---- one call for many askers (coalesce.c) -------------------------- */
/* Askers of one kind of call (one group) that ask at about the same time
 * share a call: a lone asker sends at once; those who ask while a call is
 * in flight go together in the next (at most max_ids ids; the same id
 * once), and an id the call in flight carries rides on it. */
typedef struct bk_coalesce bk_coalesce;
typedef struct bk_coalesce_batch bk_coalesce_batch;
/* One call for ids[0..n): 0 with *answer (anything; freed by the group's
 * free_answer after its last reader), or an error code with the thread's
 * message set and code (64 bytes, may stay "") filled. ctx is the
 * sender's own. */
typedef int (*bk_coalesce_send)(void **answer, char code[64], const char *const *ids, size_t n,
				void *ctx);
typedef struct {
	const void *answer;     /* the call's answer, shared: read it, never change it */
	size_t ids;             /* how many ids the call carried */
	char code[64];          /* the call's error code, "" if none */
	bool sent;              /* this asker sent the call */
	bk_coalesce_batch *batch;
} bk_coalesce_reply;
int bk_coalesce_new(bk_coalesce **out, size_t max_ids, void (*free_answer)(void *));
/* Once no asker is left. */
void bk_coalesce_free(bk_coalesce *c);
/* The rc of the call that carried id, its error message set on this
 * thread too, and *r its answer; BAKEAMI_ECANCELLED as soon as `cancel` is
 * set while waiting. A call cut short by its sender's cancel is sent again
 * for the others. bk_coalesce_done after reading, whatever the rc. */
int bk_coalesce_ask(bk_coalesce_reply *r, bk_coalesce *c, const char *id, const bk_cancel *cancel,
		    bk_coalesce_send send, void *ctx);
void bk_coalesce_done(bk_coalesce *c, bk_coalesce_reply *r);
/* How many askers the call in flight and the next one have (for tests). */
void bk_coalesce_askers(bk_coalesce *c, int *in_flight, int *next);

/* ---- logger: lower layers report through this, the bake formats ---- */
typedef enum { BK_LOG_DEBUG, BK_LOG_INFO, BK_LOG_WARN, BK_LOG_ERROR } bk_log_level;
typedef struct {
	void (*fn)(bk_log_level level, const char *msg, void *payload);
	void *payload;
} bk_logger;
void bk_logf(const bk_logger *lg, bk_log_level level, const char *fmt, ...) BK_PRINTF(3, 4);

/* ---- random / encoding (OpenSSL) ------------------------------------ */
int bk_random_hex(char *out, size_t nbytes);   /* out holds 2*nbytes+1 */
void bk_uuid4(char out[37]);
char *bk_base64(const unsigned char *data, size_t len);  /* no newlines */
void bk_sha256_hex(char out[65], const void *data, size_t len);

/* The "}}" that closes a {{ }} action starting at a, skipping quoted
 * strings ("..." with escapes, `...`); NULL when there is none. */
const char *bk_action_close(const char *a);

#endif
