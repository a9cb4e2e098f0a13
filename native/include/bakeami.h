/*
 * bakeami.h - the public C API of libbakeami, the tested-AMI baker.
 *
 * The CLI and the JNI bridge use only this header. Conventions (libgit2's):
 * opaque handles, bakeami_<module>_<verb> names, out-params first, int
 * error codes (0 ok, negative failure) with a thread-local last error,
 * versioned options structs, callbacks take `void *payload` last, and every
 * _free() accepts NULL. Many bakes may run at once in one process.
 */
#ifndef INCLUDE_bakeami_h__
#define INCLUDE_bakeami_h__

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define BAKEAMI_EXTERN(type) __attribute__((visibility("default"))) type

#define BAKEAMI_VERSION "0.1.0"

/** Error codes. Numbers are never reused. */
typedef enum {
	BAKEAMI_OK = 0,
	BAKEAMI_ERROR = -1,       /* generic failure; see bakeami_error_last() */
	BAKEAMI_EINVALID = -2,    /* bad template, variable or option */
	BAKEAMI_EAWS = -3,        /* an AWS call failed */
	BAKEAMI_ESSH = -4,        /* SSH connect, exec or transfer failed */
	BAKEAMI_ETIMEOUT = -5,    /* a wait passed its deadline */
	BAKEAMI_ECANCELLED = -6,  /* bakeami_bake_cancel() or a signal */
	BAKEAMI_ETESTFAIL = -7,   /* the image's tests failed */
	BAKEAMI_ENOMEM = -8,
	BAKEAMI_ENOTFOUND = -9,   /* a resource or file does not exist */
	BAKEAMI_EPROVISION = -10, /* a provisioner exited non-zero */
	BAKEAMI_EIO = -11         /* local file I/O */
} bakeami_error_t;

/** The last error on this thread: a one-line message, or "" if none. */
BAKEAMI_EXTERN(const char *) bakeami_error_last(void);
BAKEAMI_EXTERN(const char *) bakeami_strerror(int code);
/** Process exit code for an error code: 0, 1, 2, 3 or 130. */
BAKEAMI_EXTERN(int) bakeami_exit_code(int code);

/** One-time library init (curl, libssh2, libxml2). Idempotent, thread-safe. */
BAKEAMI_EXTERN(int) bakeami_init(void);

/* ---- log events ---------------------------------------------------- */

typedef enum {
	BAKEAMI_EVENT_STEP = 0,   /* "==> 00:03.2 launch: i-0abc running" */
	BAKEAMI_EVENT_OUTPUT = 1, /* one line of provisioner/test output */
	BAKEAMI_EVENT_STATE = 2,  /* a state transition */
	BAKEAMI_EVENT_WARN = 3,
	BAKEAMI_EVENT_ERROR = 4,
	BAKEAMI_EVENT_SUMMARY = 5,
	BAKEAMI_EVENT_DEBUG = 6
} bakeami_event_kind;

typedef struct {
	unsigned int version;     /* BAKEAMI_EVENT_VERSION */
	bakeami_event_kind kind;
	double elapsed;           /* seconds since the bake started */
	const char *stage;        /* "launch", "provision", ... */
	const char *text;         /* the message alone, secrets masked */
	const char *line;         /* the console line, formatted, secrets masked */
	const char *json;         /* the same event as one JSON object */
	int stream;               /* OUTPUT: 1 stdout, 2 stderr; else 0 */
	const char *build;        /* the build's name (opts->build), or NULL */
} bakeami_event;
#define BAKEAMI_EVENT_VERSION 1

/**
 * The events of one bake (or promotion) are serialized: log_cb is never
 * called for the same run from two threads at once, and each call returns
 * before the next begins. They may come from library threads, not only
 * the one that called bakeami_bake_run (a promotion copies to each region
 * on its own thread). Events of different runs may arrive concurrently.
 * The event and its strings are valid only during the call. log_cb must
 * not call back into the same run, except bakeami_bake_cancel.
 */
typedef void (*bakeami_log_cb)(const bakeami_event *ev, void *payload);

/* ---- options ------------------------------------------------------- */

typedef struct {
	unsigned int version;          /* BAKEAMI_OPTIONS_VERSION */
	const char *template_path;     /* required */
	const char *const *vars;       /* "k=v" strings, later wins; may be NULL */
	size_t vars_count;
	const char *const *var_files;  /* JSON files, applied before vars */
	size_t var_files_count;
	const char *journal_path;      /* NULL: .bakeami/journal/<run-id>.jsonl */
	const char *manifest_path;     /* NULL: none */
	const char *result_path;       /* NULL: none */
	const char *junit_path;        /* NULL: none */
	int on_error_abort;            /* 1: leave resources for debugging; 2: the same after
	                                  running the template's error-cleanup-provisioner
	                                  (Packer's -on-error=run-cleanup-provisioner); 0: that
	                                  provisioner, then clean up */
	int debug;                     /* 1: emit DEBUG events */
	/* AWS credentials that override the chain (e.g. from Jenkins); NULL: chain */
	const char *access_key_id;
	const char *secret_access_key;
	const char *session_token;
	const char *region;            /* overrides the template and AWS_REGION */
	const char *const *extra_tags; /* "k=v" provenance tags (BUILD_URL=...) */
	size_t extra_tags_count;
	bakeami_log_cb log_cb;
	void *log_payload;
	/* Issue 14: 1 reuse a tested image of the same inputs (--reuse), -1 never
	 * (--no-reuse), 0 as the template's "reuse" says. */
	int reuse;
	/* ---- several builders in one template (Packer's builds) ---- */
	const char *const *only;       /* build names to run (exact, as Packer's -only); NULL: all */
	size_t only_count;
	const char *const *except;     /* build names to leave out (Packer's -except) */
	size_t except_count;
	const char *build;             /* bakeami_bake_new: the build to bake (its name);
					* NULL: the one build only/except select */
	int force;                     /* Packer's -force: force_deregister + force_delete_snapshot */
	unsigned int parallel_builds;  /* bakeami_builds_run: at most this many at once; 0: all */
	/* version 2 */
	const char *log_dir;           /* provisioning logs: <log_dir>/<run-id>/NN-<type>.log;
	                                  NULL: bakeami-logs under the working directory */
	/* version 3: a role the library assumes (STS AssumeRole) with the
	 * credentials above, else the chain's, and renews before it expires, for
	 * every call of the run, its cleanup included. NULL: none. */
	const char *role_arn;          /* arn:aws:iam::ACCOUNT:role/NAME */
	const char *role_external_id;  /* NULL: none */
	const char *role_session_name; /* NULL: bakeami-<random> */
	/* version 4: the lease on temporary resources (bakeami:expires) */
	unsigned int lease_seconds;    /* how far ahead their expiry is; 0: 3600 */
	unsigned int lease_renew_seconds; /* how often a live run extends it; 0: 1200 */
	/* version 5: the role's session length, and an MFA device for a role
	 * whose trust policy asks for one. A session assumed with an MFA code
	 * cannot be renewed (the code is good once): it is shared by the run's
	 * clients and lasts role_duration_seconds; a call made after it expired
	 * fails, naming it, and so does the cleanup then (the journal remains
	 * for `bakeami cleanup --journal`). */
	unsigned int role_duration_seconds; /* STS DurationSeconds, 900-43200; 0: STS's 3600 */
	const char *role_mfa_serial;   /* the device's serial or ARN; NULL: none */
	const char *role_mfa_token;    /* its current code (6 digits); with role_mfa_serial */
} bakeami_options;
/* Callers of an older version (1: no log_dir, 2: no role_*, 3: no lease,
 * 4: no role duration or MFA) are still accepted: only the fields of the
 * version given are read. */
#define BAKEAMI_OPTIONS_VERSION 5
#define BAKEAMI_OPTIONS_INIT {.version = BAKEAMI_OPTIONS_VERSION}
BAKEAMI_EXTERN(int) bakeami_options_init(bakeami_options *opts, unsigned int version);

/**
 * Options from one UTF-8 JSON object, the form the JNI bridge (and any
 * other binding) passes them in. Keys are the field names above: strings
 * (template_path, journal_path, manifest_path, result_path, junit_path,
 * access_key_id, secret_access_key, session_token, region, log_dir, role_arn,
 * role_external_id, role_session_name, role_mfa_serial, role_mfa_token), arrays of
 * strings (vars, var_files, extra_tags, only, except), booleans
 * (on_error_abort, debug, force, and reuse: true is 1, false is -1) and
 * whole numbers of seconds (lease_seconds, lease_renew_seconds,
 * role_duration_seconds: 1 to 31 days; the role's must also be what STS takes);
 * "build" is a string too; null or an absent key means "not set". "version", if given, must
 * be 1 to BAKEAMI_OPTIONS_VERSION. An unknown key, a key given twice or a value
 * of the wrong type is BAKEAMI_EINVALID with a message naming the key. The
 * log callback is not part of the document: set (*out)->log_cb and
 * log_payload afterwards. Free *out with bakeami_options_free.
 */
BAKEAMI_EXTERN(int) bakeami_options_from_json(bakeami_options **out, const char *json);
/**
 * The same document for `opts` (fields not set are left out). It carries
 * the credentials: never log it. Free *out with free().
 */
BAKEAMI_EXTERN(int) bakeami_options_to_json(char **out, const bakeami_options *opts);
/** Frees options made by bakeami_options_from_json (secrets zeroed first); only those. */
BAKEAMI_EXTERN(void) bakeami_options_free(bakeami_options *opts);

/* ---- the bake ------------------------------------------------------ */

typedef struct bakeami_bake bakeami_bake;

/**
 * `bakeami inputs` (issue 14): a run that resolves the source AMI, computes
 * the inputs digest and compares it with the family's last image, creating
 * nothing. Run it with bakeami_inputs_run; then bakeami_bake_inputs is the
 * report: the digest, each part's short digest, and what changed.
 */
BAKEAMI_EXTERN(int) bakeami_inputs_new(bakeami_bake **out, const bakeami_options *opts);
BAKEAMI_EXTERN(int) bakeami_inputs_run(bakeami_bake *run);
BAKEAMI_EXTERN(const char *) bakeami_bake_inputs(const bakeami_bake *run);

/** Make a bake from options (copied); does no network call. */
BAKEAMI_EXTERN(int) bakeami_bake_new(bakeami_bake **out, const bakeami_options *opts);
/** Run it to the end. Returns 0 or an error code; cleanup always ran. */
BAKEAMI_EXTERN(int) bakeami_bake_run(bakeami_bake *bake);
/** Ask a running bake to stop and clean up. Any thread (not a signal handler: it takes a lock). */
BAKEAMI_EXTERN(void) bakeami_bake_cancel(bakeami_bake *bake);
/** The run id (known from bakeami_bake_new on). */
BAKEAMI_EXTERN(const char *) bakeami_bake_run_id(const bakeami_bake *bake);
/**
 * The AMI id in `region`, or NULL. With region NULL, the bake's AMI: the
 * build region's, or when the build region keeps none
 * (skip_save_build_region) the first copy's, in ami_regions order.
 */
BAKEAMI_EXTERN(const char *) bakeami_bake_ami(const bakeami_bake *bake, const char *region);
/** The region of bakeami_bake_ami(bake, NULL), or NULL. */
BAKEAMI_EXTERN(const char *) bakeami_bake_ami_region(const bakeami_bake *bake);
/**
 * The build region (opts->region, else the template's, else AWS_REGION),
 * once the run has resolved it (from its first state on); NULL before
 * bakeami_bake_run, or when the run failed before knowing it.
 */
BAKEAMI_EXTERN(const char *) bakeami_bake_region(const bakeami_bake *bake);
/** The result document (JSON; see README), owned by the bake. */
BAKEAMI_EXTERN(const char *) bakeami_bake_result_json(const bakeami_bake *bake);
/** The error message of the run, or NULL. */
BAKEAMI_EXTERN(const char *) bakeami_bake_error(const bakeami_bake *bake);
BAKEAMI_EXTERN(void) bakeami_bake_free(bakeami_bake *bake);

/* ---- promotion of an existing image ---------------------------------- */

/**
 * Make a promotion of an image baked earlier (a later "promote to
 * production" job): the template's promote block, ami_regions and sharing
 * applied to ami_id, which must be available and owned by the account, in
 * the template's (or opts->region's) region. Options are copied; no network
 * call. The handle is a bakeami_bake: cancel, run id, AMIs per region,
 * result, error and free work on it; run it with bakeami_promote_run, not
 * bakeami_bake_run.
 */
BAKEAMI_EXTERN(int) bakeami_promote_new(bakeami_bake **out, const bakeami_options *opts,
					const char *ami_id);
/**
 * Run it once. 0: promoted in every region. BAKEAMI_EINVALID: nothing to
 * promote, or the image is unknown, not available or not ours. Another
 * error: the promotion failed and all it changed was undone (the image
 * itself is untouched). Same exit codes as a bake (bakeami_exit_code).
 */
BAKEAMI_EXTERN(int) bakeami_promote_run(bakeami_bake *promotion);

/**
 * Validate a template (and its variables) without any network call: every
 * build opts->only/except select (a builder of a type bakeami does not run
 * is an error unless they leave it out).
 */
BAKEAMI_EXTERN(int) bakeami_template_validate(const bakeami_options *opts);
/**
 * `bakeami validate --dump-plan`: validates as bakeami_template_validate,
 * then gives (*out, free with free()) the decoded plan of every selected
 * build as JSON: {"variables": {name: value}, "builds": [{"name", "type",
 * "provisioners": [{"path", "type"}], "values": {JSON path: value}}]}.
 * "values" holds every option the template sets, under its JSON path
 * ("builders[0].ami_regions"), as Packer 1.6.6 decodes it (weak types,
 * comma lists, nulls), plus Packer's defaults of communicator, ssh_port,
 * ssh_timeout and inline_shebang; durations are seconds. Sensitive values
 * and secrets read "<sensitive>".
 */
BAKEAMI_EXTERN(int) bakeami_template_dump_plan(char **out, const bakeami_options *opts);
/** Packer's `validate -syntax-only`: JSON and the template's shape; no variable. */
BAKEAMI_EXTERN(int) bakeami_template_check_syntax(const bakeami_options *opts);
/**
 * Packer's `inspect` as a JSON document (*out, free with free()):
 * {"description", "variables": [{"name", "default" (null: required),
 * "required", "sensitive"}], "builders": [{"name", "type"}],
 * "provisioners": ["shell", ...]}. Variables are not resolved.
 */
BAKEAMI_EXTERN(int) bakeami_template_inspect(char **out, const bakeami_options *opts);

/* ---- several builds: one bake per builder, run in parallel ---------- */

/**
 * The builds of a template (several builders, Packer's builds), each a
 * bakeami_bake of its own (run id, journal, events with ev->build set,
 * result), selected by opts->only/except (exact names, name else type, as
 * Packer 1.6.6's JSON templates) and sorted by name. Validates the
 * template's builders; no network call. With several builds, an explicit
 * journal_path or junit_path gets ".<name>" before its extension, each
 * console line is prefixed with the build's name, the bakes share the
 * manifest (appended one at a time), and result_path receives the
 * document of bakeami_builds_result_json instead of one bake's. Zero
 * builds (only/except left none) is not an error: running does nothing.
 */
typedef struct bakeami_builds bakeami_builds;
BAKEAMI_EXTERN(int) bakeami_builds_new(bakeami_builds **out, const bakeami_options *opts);
BAKEAMI_EXTERN(size_t) bakeami_builds_count(const bakeami_builds *builds);
/** The i-th build's name and builder type, NULL past the last. */
BAKEAMI_EXTERN(const char *) bakeami_builds_name(const bakeami_builds *builds, size_t i);
BAKEAMI_EXTERN(const char *) bakeami_builds_type(const bakeami_builds *builds, size_t i);
/** The i-th build's bake (owned by builds: do not free or run it). */
BAKEAMI_EXTERN(bakeami_bake *) bakeami_builds_bake(const bakeami_builds *builds, size_t i);
/**
 * Run every build, opts->parallel_builds at a time (0: all at once), to the
 * end; one at a time (one build, or parallel_builds 1) on the calling
 * thread, several on threads of the library. Returns 0 or the code of the
 * worst failure (the highest bakeami_exit_code); each bake's own code is on
 * its handle.
 */
BAKEAMI_EXTERN(int) bakeami_builds_run(bakeami_builds *builds);
/** Cancel every build (those not started yet do not start). Any thread. */
BAKEAMI_EXTERN(void) bakeami_builds_cancel(bakeami_builds *builds);
/**
 * After run: {"status": "succeeded"|"failed"|"cancelled", "builds": [{"name",
 * "type", "run_id", "status", "ami" (build region, or null), "amis"
 * {region: id}, "error" (or null), "result" (the bake's document)}]}.
 */
BAKEAMI_EXTERN(const char *) bakeami_builds_result_json(const bakeami_builds *builds);
BAKEAMI_EXTERN(void) bakeami_builds_free(bakeami_builds *builds);

/* ---- cleanup of killed bakes -------------------------------------- */

typedef struct {
	unsigned int version;          /* BAKEAMI_CLEANUP_OPTIONS_VERSION */
	const char *journal_path;      /* one of these three */
	const char *run_id;
	int stale;                     /* every bakeami resource past its expiry */
	long older_than_seconds;       /* with stale: created before now - this */
	const char *region;
	bakeami_log_cb log_cb;
	void *log_payload;
	/* version 2: the role to assume for the cleanup (as bakeami_options') */
	const char *role_arn;
	const char *role_external_id;
	const char *role_session_name;
	/* version 3: credentials that override the chain (as bakeami_options'),
	 * which also call AssumeRole when a role is set; and the role's session
	 * length. No MFA: a cleanup runs when nobody is there to give a code. */
	const char *access_key_id;
	const char *secret_access_key;
	const char *session_token;
	unsigned int role_duration_seconds;
} bakeami_cleanup_options;
/* Version 1 (no role_*) and 2 (no credentials) callers are still accepted. */
#define BAKEAMI_CLEANUP_OPTIONS_VERSION 3
#define BAKEAMI_CLEANUP_OPTIONS_INIT {.version = BAKEAMI_CLEANUP_OPTIONS_VERSION}

BAKEAMI_EXTERN(int) bakeami_cleanup_run(const bakeami_cleanup_options *opts);

#ifdef __cplusplus
}
#endif
#endif
