/*
 * options_json.c - bakeami_options as one JSON document, both ways.
 *
 * The JNI bridge hands the library one UTF-8 document instead of a
 * parameter per option, so the option set is declared once per side: here
 * (one table row per field) and in the Java class that writes it. Keys are
 * the struct's field names, so a new option is one row here and one field
 * in bakeami_options.
 */
#include <stdbool.h>
#include <limits.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cJSON.h>
#include <openssl/crypto.h>

#include "bake.h"

/* OPT_TRI: true 1, false -1, not set 0. OPT_SECONDS: a whole number of
 * seconds (unsigned int), 0 not set. */
typedef enum { OPT_STRING, OPT_LIST, OPT_BOOL, OPT_TRI, OPT_SECONDS } opt_kind;

struct opt_key {
	const char *name;  /* JSON key == field name */
	opt_kind kind;
	size_t off;        /* the field */
	size_t count_off;  /* OPT_LIST: its *_count field */
	bool secret;       /* zeroed before it is freed */
};

#define STR(f, s) {#f, OPT_STRING, offsetof(bakeami_options, f), 0, s}
#define LIST(f) {#f, OPT_LIST, offsetof(bakeami_options, f), offsetof(bakeami_options, f##_count), false}
#define BOOL(f) {#f, OPT_BOOL, offsetof(bakeami_options, f), 0, false}
#define TRI(f) {#f, OPT_TRI, offsetof(bakeami_options, f), 0, false}
#define SECONDS(f) {#f, OPT_SECONDS, offsetof(bakeami_options, f), 0, false}

/* Every field of bakeami_options but version and the log callback. */
static const struct opt_key KEYS[] = {
	STR(template_path, false),
	LIST(vars),
	LIST(var_files),
	STR(journal_path, false),
	STR(manifest_path, false),
	STR(result_path, false),
	STR(junit_path, false),
	BOOL(on_error_abort),
	BOOL(debug),
	STR(access_key_id, false),
	STR(secret_access_key, true),
	STR(session_token, true),
	STR(region, false),
	LIST(extra_tags),
	TRI(reuse),
	LIST(only),
	LIST(except),
	STR(build, false),
	BOOL(force),
	STR(log_dir, false),
	STR(role_arn, false),
	STR(role_external_id, true),
	STR(role_session_name, false),
	SECONDS(lease_seconds),
	SECONDS(lease_renew_seconds),
	SECONDS(role_duration_seconds),
	STR(role_mfa_serial, false),
	STR(role_mfa_token, true),
};
_Static_assert(BK_ARRAY_SIZE(KEYS) < 32, "the seen-mask is 32 bits");

/* Pointer fields are read and written through memcpy: the table reaches
 * `const char *` and `const char *const *` fields alike by offset. */
static void *get_ptr(const bakeami_options *o, size_t off)
{
	void *p;

	memcpy(&p, (const char *)o + off, sizeof(p));
	return p;
}

static void put_ptr(bakeami_options *o, size_t off, const void *p)
{
	memcpy((char *)o + off, &p, sizeof(p));
}

static size_t *count_of(bakeami_options *o, const struct opt_key *k)
{
	return (size_t *)(void *)((char *)o + k->count_off);
}

static int *flag_of(bakeami_options *o, const struct opt_key *k)
{
	return (int *)(void *)((char *)o + k->off);
}

static const struct opt_key *find_key(const char *name)
{
	for (size_t i = 0; i < BK_ARRAY_SIZE(KEYS); i++)
		if (strcmp(KEYS[i].name, name) == 0)
			return &KEYS[i];
	return NULL;
}

static void wipe_free(char *s)
{
	if (s)
		OPENSSL_cleanse(s, strlen(s));
	free(s);
}

/* ---- JSON -> options ------------------------------------------------ */

static int set_string(bakeami_options *o, const struct opt_key *k, const cJSON *v)
{
	char *copy;

	if (!cJSON_IsString(v))
		return bk_err(BAKEAMI_EINVALID, "options: \"%s\" must be a string or null", k->name);
	if (!(copy = bk_strdup(v->valuestring)))
		return bk_oom();
	put_ptr(o, k->off, copy);
	return 0;
}

static int set_list(bakeami_options *o, const struct opt_key *k, const cJSON *v)
{
	int n = cJSON_GetArraySize(v), i = 0;
	char **items;
	const cJSON *it;

	if (!cJSON_IsArray(v))
		return bk_err(BAKEAMI_EINVALID, "options: \"%s\" must be an array of strings or null",
			      k->name);
	if (!(items = calloc((size_t)n + 1, sizeof(*items))))
		return bk_oom();
	/* Stored at once, so bakeami_options_free frees a half-built list too. */
	put_ptr(o, k->off, items);
	cJSON_ArrayForEach(it, v) {
		if (!cJSON_IsString(it))
			return bk_err(BAKEAMI_EINVALID, "options: \"%s\"[%d] must be a string", k->name, i);
		if (!(items[i] = bk_strdup(it->valuestring)))
			return bk_oom();
		*count_of(o, k) = (size_t)++i;
	}
	return 0;
}

static int set_seconds(bakeami_options *o, const struct opt_key *k, const cJSON *v)
{
	unsigned int n;

	if (!cJSON_IsNumber(v) || v->valuedouble < 1 || v->valuedouble > 31 * 86400.0 ||
	    v->valuedouble != (double)(long)v->valuedouble)
		return bk_err(BAKEAMI_EINVALID, "options: \"%s\" must be a whole number of seconds "
			      "from 1 to 2678400 (31 days), or null", k->name);
	n = (unsigned int)v->valuedouble;
	memcpy((char *)o + k->off, &n, sizeof(n));
	return 0;
}

static int set_bool(bakeami_options *o, const struct opt_key *k, const cJSON *v)
{
	if (!cJSON_IsBool(v))
		return bk_err(BAKEAMI_EINVALID, "options: \"%s\" must be true or false", k->name);
	*flag_of(o, k) = cJSON_IsTrue(v) ? 1 : k->kind == OPT_TRI ? -1 : 0;
	return 0;
}

/* A document says which version it is (absent: the newest); an older one
 * is read as that version and written back as it. */
static int set_version(bakeami_options *o, const cJSON *v)
{
	if (!cJSON_IsNumber(v) || v->valuedouble < 1 || v->valuedouble > BAKEAMI_OPTIONS_VERSION ||
	    v->valuedouble != (double)(int)v->valuedouble)
		return bk_err(BAKEAMI_EINVALID, "options: \"version\" must be 1 to %d",
			      BAKEAMI_OPTIONS_VERSION);
	o->version = (unsigned int)v->valuedouble;
	return 0;
}

/* The first version that has the key's field. */
static unsigned int version_of(const struct opt_key *k)
{
	unsigned int v = 1;

	while (v < BAKEAMI_OPTIONS_VERSION && k->off >= bk_options_size(v))
		v++;
	return v;
}

static int set_member(bakeami_options *o, const cJSON *m, unsigned int *seen)
{
	const struct opt_key *k;
	unsigned int bit;

	if (strcmp(m->string, "version") == 0)
		return 0;   /* read first, by bakeami_options_from_json */
	if (!(k = find_key(m->string)))
		return bk_err(BAKEAMI_EINVALID, "options: unknown key \"%s\"", m->string);
	if (version_of(k) > o->version)
		return bk_err(BAKEAMI_EINVALID, "options: \"%s\" needs \"version\": %u (the document "
			      "says %u)", k->name, version_of(k), o->version);
	bit = 1u << (unsigned int)(k - KEYS);
	if (*seen & bit)
		return bk_err(BAKEAMI_EINVALID, "options: \"%s\" is given twice", k->name);
	*seen |= bit;
	if (cJSON_IsNull(m))
		return 0;
	switch (k->kind) {
	case OPT_STRING: return set_string(o, k, m);
	case OPT_LIST:   return set_list(o, k, m);
	case OPT_BOOL:
	case OPT_TRI:    return set_bool(o, k, m);
	case OPT_SECONDS: return set_seconds(o, k, m);
	}
	return bk_err(BAKEAMI_ERROR, "options: internal error (kind of \"%s\")", k->name);
}

/* The parse tree holds the secrets too: zero them before cJSON frees it. */
static void wipe_tree(cJSON *doc)
{
	const cJSON *m;

	cJSON_ArrayForEach(m, doc) {
		const struct opt_key *k = m->string ? find_key(m->string) : NULL;

		if (k && k->secret && cJSON_IsString(m))
			OPENSSL_cleanse(m->valuestring, strlen(m->valuestring));
	}
	cJSON_Delete(doc);
}

static int parse_doc(cJSON **out, const char *json)
{
	const char *end = NULL;

	if (!json)
		return bk_err(BAKEAMI_EINVALID, "options: no JSON document given");
	*out = cJSON_ParseWithOpts(json, &end, 1);
	if (!*out)
		return bk_err(BAKEAMI_EINVALID, "options: not valid JSON (at byte %ld)",
			      end ? (long)(end - json) : 0L);
	if (!cJSON_IsObject(*out)) {
		cJSON_Delete(*out);
		*out = NULL;
		return bk_err(BAKEAMI_EINVALID, "options: the document must be a JSON object");
	}
	return 0;
}

int bakeami_options_from_json(bakeami_options **out, const char *json)
{
	bakeami_options *o;
	cJSON *doc = NULL;
	const cJSON *m;
	unsigned int seen = 0;
	int rc;

	*out = NULL;
	if ((rc = parse_doc(&doc, json)) < 0)
		return rc;
	if (!(o = calloc(1, sizeof(*o)))) {
		wipe_tree(doc);
		return bk_oom();
	}
	o->version = BAKEAMI_OPTIONS_VERSION;
	if ((m = cJSON_GetObjectItemCaseSensitive(doc, "version")))
		rc = set_version(o, m);
	cJSON_ArrayForEach(m, doc) {
		if (rc < 0 || (rc = set_member(o, m, &seen)) < 0)
			break;
	}
	wipe_tree(doc);
	if (rc < 0) {
		bakeami_options_free(o);
		return rc;
	}
	*out = o;
	return 0;
}

void bakeami_options_free(bakeami_options *opts)
{
	if (!opts)
		return;
	for (size_t i = 0; i < BK_ARRAY_SIZE(KEYS); i++) {
		const struct opt_key *k = &KEYS[i];

		if (k->kind == OPT_STRING) {
			wipe_free(get_ptr(opts, k->off));
		} else if (k->kind == OPT_LIST) {
			char **items = get_ptr(opts, k->off);
			size_t n = *count_of(opts, k);

			for (size_t j = 0; items && j < n; j++)
				free(items[j]);
			free(items);
		}
	}
	free(opts);
}

/* ---- options -> JSON ------------------------------------------------ */

/* The field's JSON value; NULL when it is not set. *fail: it is set but
 * could not be made (no memory, or a list longer than cJSON counts). */
static cJSON *member_json(const bakeami_options *o, const struct opt_key *k, bool *fail)
{
	const char *s;
	const char *const *items;
	size_t n;
	int flag;
	unsigned int secs;
	cJSON *v = NULL;

	switch (k->kind) {
	case OPT_STRING:
		if (!(s = get_ptr(o, k->off)))
			return NULL;
		v = cJSON_CreateString(s);
		break;
	case OPT_LIST:
		items = get_ptr(o, k->off);
		memcpy(&n, (const char *)o + k->count_off, sizeof(n));
		if (!items || !n)
			return NULL;
		v = n <= (size_t)INT_MAX ? cJSON_CreateStringArray(items, (int)n) : NULL;
		break;
	case OPT_BOOL:
		memcpy(&flag, (const char *)o + k->off, sizeof(flag));
		if (!flag)
			return NULL;
		v = cJSON_CreateTrue();
		break;
	case OPT_TRI:
		memcpy(&flag, (const char *)o + k->off, sizeof(flag));
		if (!flag)
			return NULL;
		v = cJSON_CreateBool(flag > 0);
		break;
	case OPT_SECONDS:
		memcpy(&secs, (const char *)o + k->off, sizeof(secs));
		if (!secs)
			return NULL;
		v = cJSON_CreateNumber((double)secs);
		break;
	}
	*fail = !v;
	return v;
}

static int add_members(cJSON *doc, const bakeami_options *o)
{
	if (!cJSON_AddNumberToObject(doc, "version", o->version))
		return bk_oom();
	for (size_t i = 0; i < BK_ARRAY_SIZE(KEYS); i++) {
		bool fail = false;
		/* An older caller's struct ends before the later fields. */
		cJSON *v = KEYS[i].off < bk_options_size(o->version) ? member_json(o, &KEYS[i], &fail)
								     : NULL;

		if (fail || (v && !cJSON_AddItemToObject(doc, KEYS[i].name, v))) {
			cJSON_Delete(v);
			return bk_oom();
		}
	}
	return 0;
}

int bakeami_options_to_json(char **out, const bakeami_options *opts)
{
	cJSON *doc;

	*out = NULL;
	if (!opts || !bk_options_size(opts->version))
		return bk_err(BAKEAMI_EINVALID, "bakeami_options: missing or unsupported version");
	if (!(doc = cJSON_CreateObject()) || add_members(doc, opts) < 0 ||
	    !(*out = cJSON_PrintUnformatted(doc))) {
		if (doc)
			wipe_tree(doc);
		return bk_oom();
	}
	wipe_tree(doc);
	return 0;
}
