/*
 * template_int.h - what the template module's files share. Not for other
 * layers: they use template.h.
 */
#ifndef BK_TEMPLATE_INT_H
#define BK_TEMPLATE_INT_H

#include <stdbool.h>

#include "template.h"

/* Objects and arrays nested deeper than this are refused before parsing. */
#define BK_JSON_MAX_DEPTH 64
/* A template or -var-file past this is not one a person wrote. */
#define BK_TPL_MAX_FILE (8u * 1024 * 1024)
/* One rendered value past this: a runaway {{user}} chain, not a setting. */
#define BK_TPL_MAX_RENDER (4u * 1024 * 1024)

struct bk_template {
	char *path;               /* as given: every message starts with it */
	char *dir;                /* absolute directory of the template */
	char *pwd;                /* working directory at load */
	cJSON *root;              /* the parsed template, unrendered */
	double start;             /* run start, for isotime and timestamp */
	char run_id[37];
	bk_kv vars;               /* resolved user variables */
	bk_strv sensitive;        /* names from sensitive-variables */
	bk_strv secrets, warnings;
	bk_build_config *cfg;     /* rendered with empty build variables */
	bk_build_list builds;     /* the selected builds */
	const cJSON *builder;     /* the builders[] item the plan is for (in root) */
	char builder_path[32];    /* "builders[1]", for messages */
	const char *build_name;   /* its name rendered (in builds): {{build_name}}, -only */
	int force;                /* -force */
	bk_strv except;           /* -except: builds, and post-processors by name */
	bk_secret_fn secret;      /* src->secret, for the variables */
	void *secret_payload;
};

/* Known top-level keys only, description/min_packer_version strings. */
int bk_tpl_check_top(bk_template *tpl);
/* Load into a zeroed tpl (the caller frees it, also after a failure). */
int bk_tpl_load(bk_template *tpl, const bk_template_source *src);

/* text with every sensitive value and secret replaced by <sensitive>; a
 * new string (NULL: no memory). */
char *bk_tpl_mask(const bk_template *tpl, const char *text);
/* Replace sensitive values in the current error message; returns rc. */
int bk_template_mask_error(const bk_template *tpl, int rc);

/* ---- json.c: loading, paths, types ---------------------------------- */
/* Read and parse a JSON file. Trailing commas are removed (noted in
 * warnings, may be NULL); bad UTF-8, nesting deeper than BK_JSON_MAX_DEPTH,
 * syntax errors and duplicate keys fail with "<path>:<line>:<col>: ...". */
int bk_tpl_json_load_file(cJSON **out, const char *path, bk_strv *warnings);
/* The same for text in memory; `name` starts the messages. */
int bk_tpl_json_parse(cJSON **out, const char *text, size_t len, const char *name,
		  bk_strv *warnings);
/* Whether the array list has a string item equal to s (list may be NULL). */
bool bk_tpl_json_listed(const cJSON *list, const char *s);
/* "number", "string", "boolean", "null", "object", "array" */
const char *bk_tpl_json_type(const cJSON *item);
/* "a.b" or a["odd key"]; "a[3]". NULL on ENOMEM. */
char *bk_tpl_jpath_key(const char *parent, const char *key);
char *bk_tpl_jpath_index(const char *parent, size_t i);
/* Replace a string item's value (cJSON owns it). */
int bk_tpl_json_set_string(cJSON *item, const char *s);

/* ---- interp.c: the {{ }} engine ------------------------------------- */
/* Looks a user variable up: 0 and *out, BAKEAMI_ENOTFOUND (no message) when
 * the variable is not declared, or another code with the message set. */
typedef int (*bk_user_fn)(const char **out, const char *name, void *payload);

struct bk_interp {
	const char *file;          /* message prefix */
	const bk_build_vars *bv;   /* NULL: every build variable is empty */
	bk_user_fn user;
	void *user_payload;
	const char *build_name, *build_type;
	const char *template_dir, *pwd, *run_id;
	double start;
	bool allow_env;            /* only while rendering variables */
	bool keep_unknown;         /* leave {{.Path}} etc. for a later renderer */
	bk_strv *warnings;         /* may be NULL */
	bk_secret_fn secret;       /* aws_secretsmanager (with allow_env); may be NULL */
	void *secret_payload;
	bk_strv *secrets;          /* values read from secret stores go here, to be masked */
};

/* Render one string; errors are "<file>: <path>: <what>". */
int bk_interp_render(char **out, const bk_interp *in, const char *text, const char *path);
/* Render every string (and object key) in a copy of src. Values of keys
 * that other renderers finish later (execute_command, bundle_*_command)
 * keep the fields they do not know. */
int bk_interp_render_json(cJSON **out, const bk_interp *in, const cJSON *src,
			  const char *path);
/* An interp for the template's non-variable fields. */
void bk_interp_init(bk_interp *in, const bk_template *tpl, const bk_build_vars *bv,
		    bk_strv *warnings);
/* Add a note once. */
void bk_tpl_warn(bk_strv *warnings, const char *fmt, ...) BK_PRINTF(2, 3);
/* "<file>: <path>: <what>" as BAKEAMI_EINVALID. */
int bk_tpl_err(const char *file, const char *path, const char *fmt, ...) BK_PRINTF(3, 4);

/* ---- interp.c / funcs.c internals ----------------------------------- */
/* Returned (not an error) for a field keep_unknown leaves as written. */
#define BK_KEEP 1

typedef struct {
	char *s;                   /* owned; NULL for numbers */
	long long n;
	bool num;                  /* an integer literal */
} bk_ival;

typedef struct {
	const bk_interp *in;
	const char *path;
	const char *p, *end;       /* what is left of the action */
	const char *act, *act_end; /* the whole action, for messages */
} bk_iparser;

int bk_tpl_iperr(const bk_iparser *ps, const char *fmt, ...) BK_PRINTF(2, 3);

typedef int (*bk_ifn)(char **out, const bk_iparser *ps, const bk_ival *a, size_t n);
typedef struct {
	const char *name;
	int min_args;
	const char *sig;           /* one letter per argument: s string, i integer */
	bk_ifn fn;
} bk_ifunc;

/* Packer's choice of a value from a SecretString: not JSON, as is; a JSON
 * object of strings, the value of key, or of its only entry when key is
 * empty. Errors name the secret. */
int bk_tpl_secret_pick(char **out, const char *secret, const char *name, const char *key);
/* NULL when no function has that name. */
const bk_ifunc *bk_tpl_ifunc_find(const char *name);
/* {{.SourceAMI}} etc.: 0 and *out, BK_KEEP, or an error. */
int bk_tpl_build_field(char **out, const bk_iparser *ps, const char *name);

/* ---- builds.c -------------------------------------------------------- */
/* Packer's parse-time checks of builders[]: objects with a type, unique names. */
int bk_tpl_builders_check(const char *file, const cJSON *root);
/* Every builder as a build, names rendered (vars resolved first). */
int bk_tpl_builds_read(bk_build_list *out, const bk_template *tpl);
int bk_tpl_builds_select(bk_build_list *out, const bk_template *tpl,
			 const bk_template_source *src);
/* Point tpl->builder at src->build, else at the only selected build. */
int bk_tpl_builds_pick(bk_template *tpl, const bk_template_source *src);
int bk_tpl_use_builder(bk_template *tpl, size_t index);
/* Provisioners' only/except/override and post-processors' only/except
 * name builders that exist. */
int bk_tpl_builds_refs_check(const bk_template *tpl);
/* A builder's name as written: "name", else its type. What provisioners'
 * and post-processors' only/except and override match (Packer's rawName). */
const char *bk_tpl_raw_build_name(const cJSON *builder);

/* ---- vars.c ---------------------------------------------------------- */
int bk_tpl_vars_resolve(bk_template *tpl, const bk_template_source *src);

/* ---- config.c, provisioners.c, sections.c ---------------------------- */
/* Build a config from the template rendered with bv (NULL at load). */
int bk_tpl_config_build(bk_build_config **out, const bk_template *tpl,
		    const bk_build_vars *bv, bk_strv *warnings);

typedef struct {
	const bk_template *tpl;
	const char *file;
	const bk_interp *in;
	bk_build_config *cfg;
	bk_strv *warnings;
} bk_cfg_ctx;

/* Cross-field checks of the builder once every field is read. */
int bk_tpl_builder_validate(bk_cfg_ctx *c, const char *bpath);
int bk_tpl_provisioners_build(bk_cfg_ctx *c, const cJSON *list);
int bk_tpl_error_cleanup_build(bk_cfg_ctx *c, const cJSON *obj);
void bk_tpl_provisioners_free(bk_build_config *cfg);
/* "shell, file, shell-local": the types template/ knows that this build
 * runs (the provision layer's answer; plan.c). */
void bk_tpl_runnable_list(char *out, size_t n);
/* The i-th provisioner type template/ knows (its name), NULL past the last. */
const char *bk_tpl_prov_kind(size_t i, bk_prov_type *type);
int bk_tpl_tests_build(bk_cfg_ctx *c, const cJSON *tests);
int bk_tpl_promote_build(bk_cfg_ctx *c, const cJSON *promote);
int bk_tpl_reuse_build(bk_cfg_ctx *c, const cJSON *reuse);
int bk_tpl_post_processors_build(bk_cfg_ctx *c, const cJSON *pps);
void bk_tpl_post_processors_free(bk_build_config *cfg);
/* A rendered shell-local post-processor read into out with the shell-local
 * provisioner's keys (provisioners.c), plus the post-processor's own. */
int bk_tpl_local_pp_build(bk_cfg_ctx *c, cJSON *rendered, const char *path,
			  bk_provisioner *out);
void bk_tpl_provisioner_free(bk_provisioner *pv);

/* ---- decode.c: Packer's decoding of one option ----------------------- */
/* v decoded for a field of kind k as Packer's config.Decode does
 * (mapstructure WeaklyTypedInput + the SDK's hooks): a new item, or NULL
 * for a JSON null (Packer sets nothing). Kinds as bk_tpl_get_opt. */
int bk_tpl_decode(cJSON **out, const bk_cfg_ctx *c, const cJSON *v, const char *path, char kind);
/* Go's strconv.FormatFloat(d, 'f', -1, 64), how Packer makes a string of a
 * JSON number. A new string. */
char *bk_tpl_go_float(double d);

/* Typed readers for rendered values, decoded as Packer does (a JSON null
 * leaves *out as it was); errors name the path. */
int bk_tpl_get_str(char **out, const bk_cfg_ctx *c, const cJSON *v, const char *path);
/* The values recorded under path (path.key, path[i]) forgotten: a
 * provisioner only/except leave out is no part of the plan. */
void bk_tpl_decoded_forget(bk_build_config *cfg, const char *path);
int bk_tpl_get_bool(int *out, const bk_cfg_ctx *c, const cJSON *v, const char *path);
/* Packer's config.Trilean: "" and null leave *out unset (-1 by convention). */
int bk_tpl_get_tri(int *out, const bk_cfg_ctx *c, const cJSON *v, const char *path);
int bk_tpl_get_intv(bk_intv *out, const bk_cfg_ctx *c, const cJSON *v, const char *path);
int bk_tpl_get_int(long long *out, const bk_cfg_ctx *c, const cJSON *v, const char *path);
int bk_tpl_get_dur(double *out, const bk_cfg_ctx *c, const cJSON *v, const char *path);
int bk_tpl_get_strv(bk_strv *out, const bk_cfg_ctx *c, const cJSON *v, const char *path);
int bk_tpl_get_kv(bk_kv *out, const bk_cfg_ctx *c, const cJSON *v, const char *path);
/* obj[key] when present, read as kind: 's' char *, 'b' int (bool), 't' int
 * (Trilean: -1 stays when unset), 'i' int (0..1e9), 'd' double seconds (a
 * Go duration), 'v' bk_strv, 'n' bk_intv, 'k' bk_kv. */
int bk_tpl_get_opt(void *dst, const bk_cfg_ctx *c, const cJSON *obj, const char *key,
	       const char *path, char kind);
/* obj must be an object whose keys are all in the NULL-terminated keys;
 * what ("a shell provisioner") completes "unknown key for ...". */
int bk_tpl_only_keys(const bk_cfg_ctx *c, const cJSON *obj, const char *path,
		 const char *const *keys, const char *what);
/* ---- keys.c ---------------------------------------------------------- */
/* The error for `key`, which the table does not know: a key Packer
 * deprecated names its replacement, another the nearest known key. The
 * table holds n rows of `stride` bytes, each starting with its key (a
 * const char *; NULL rows are skipped); what ("an amazon-ebs builder")
 * completes "unknown key for ..." and picks the deprecations that apply. */
int bk_tpl_unknown_key(const bk_cfg_ctx *c, const char *path, const char *key,
		       const void *table, size_t stride, size_t n, const char *what);
/* The table's key nearest to key (Levenshtein, at most a third of its
 * length or 2 edits), or NULL. */
const char *bk_tpl_nearest_key(const char *key, const void *table, size_t stride, size_t n);

/* Find a local file: absolute as is; relative, next to the template, then
 * in the working directory. *out is the path that exists. */
int bk_tpl_find_local(char **out, const bk_cfg_ctx *c, const char *rel, const char *path);

#endif
