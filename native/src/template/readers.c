/*
 * readers.c - typed reads of rendered JSON values. Variables are strings,
 * so numbers and booleans also accept a string that parses as one after
 * rendering ("{{user `ssh_port`}}" -> "22").
 */
#include <stdio.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "template_int.h"

int bk_tpl_get_str(char **out, const bk_cfg_ctx *c, const cJSON *v, const char *path)
{
	if (!cJSON_IsString(v))
		return bk_tpl_err(c->file, path, "expected a string, got %s", bk_tpl_json_type(v));
	free(*out);
	*out = bk_strdup(v->valuestring);
	return *out ? 0 : bk_oom();
}

int bk_tpl_get_bool(int *out, const bk_cfg_ctx *c, const cJSON *v, const char *path)
{
	const char *s = cJSON_GetStringValue(v);

	if (cJSON_IsBool(v))
		*out = cJSON_IsTrue(v);
	else if (s && strcmp(s, "true") == 0)
		*out = 1;
	else if (s && strcmp(s, "false") == 0)
		*out = 0;
	else if (s)
		return bk_tpl_err(c->file, path, "expected true or false, got \"%s\"", s);
	else
		return bk_tpl_err(c->file, path, "expected true or false, got %s",
				  bk_tpl_json_type(v));
	return 0;
}

static int parse_ll(long long *out, const char *s)
{
	char *end;

	errno = 0;
	*out = strtoll(s, &end, 10);
	return (*s && !*end && errno == 0) ? 0 : -1;
}

int bk_tpl_get_int(long long *out, const bk_cfg_ctx *c, const cJSON *v, const char *path)
{
	const char *s = cJSON_GetStringValue(v);

	if (cJSON_IsNumber(v) && v->valuedouble == floor(v->valuedouble) &&
	    fabs(v->valuedouble) < 9e15) {
		*out = (long long)v->valuedouble;
		return 0;
	}
	if (s && parse_ll(out, s) == 0)
		return 0;
	if (s)
		return bk_tpl_err(c->file, path, "expected an integer, got \"%s\"", s);
	return bk_tpl_err(c->file, path, "expected an integer, got %s%s", bk_tpl_json_type(v),
			  cJSON_IsNumber(v) ? " with a fraction" : "");
}

int bk_tpl_get_dur(double *out, const bk_cfg_ctx *c, const cJSON *v, const char *path)
{
	if (!cJSON_IsString(v))
		return bk_tpl_err(c->file, path, "expected a duration string like \"5m\", "
				  "got %s", bk_tpl_json_type(v));
	if (bk_go_duration(out, v->valuestring) < 0)
		return bk_tpl_err(c->file, path, "invalid duration \"%s\" (use Go durations "
				  "like 30s, 5m or 1h30m)", v->valuestring);
	return 0;
}

int bk_tpl_get_strv(bk_strv *out, const bk_cfg_ctx *c, const cJSON *v, const char *path)
{
	size_t i = 0;
	int rc = 0;

	if (!cJSON_IsArray(v))
		return bk_tpl_err(c->file, path, "expected an array of strings, got %s",
				  bk_tpl_json_type(v));
	bk_strv_free(out);
	for (const cJSON *it = v->child; it && rc == 0; it = it->next, i++) {
		if (cJSON_IsString(it)) {
			rc = bk_strv_push(out, it->valuestring);
			continue;
		}
		char *sub = bk_tpl_jpath_index(path, i);
		rc = sub ? bk_tpl_err(c->file, sub, "expected a string, got %s", bk_tpl_json_type(it))
			 : bk_oom();
		free(sub);
	}
	return rc;
}

int bk_tpl_get_kv(bk_kv *out, const bk_cfg_ctx *c, const cJSON *v, const char *path)
{
	int rc = 0;

	if (!cJSON_IsObject(v))
		return bk_tpl_err(c->file, path, "expected an object of strings, got %s",
				  bk_tpl_json_type(v));
	bk_kv_free(out);
	for (const cJSON *it = v->child; it && rc == 0; it = it->next) {
		if (cJSON_IsString(it) && *it->string) {
			rc = bk_kv_set(out, it->string, it->valuestring);
			continue;
		}
		char *sub = bk_tpl_jpath_key(path, it->string);
		if (!sub)
			return bk_oom();
		if (!*it->string)
			rc = bk_tpl_err(c->file, path, "a key must not be empty");
		else
			rc = bk_tpl_err(c->file, sub, "expected a string, got %s", bk_tpl_json_type(it));
		free(sub);
	}
	return rc;
}

static bool exists(const char *p)
{
	struct stat st;

	return stat(p, &st) == 0;
}

int bk_tpl_find_local(char **out, const bk_cfg_ctx *c, const char *rel, const char *path)
{
	const char *dir = c->tpl->dir;
	char *p;

	*out = NULL;
	if (!*rel)
		return bk_tpl_err(c->file, path, "must not be empty");
	if (rel[0] == '/') {
		if (!exists(rel))
			return bk_tpl_err(c->file, path, "file not found: %s", rel);
		*out = bk_strdup(rel);
		return *out ? 0 : bk_oom();
	}
	/* Next to the template first; then the working directory, as Packer. */
	if (!(p = bk_sprintf("%s/%s", dir, rel)))
		return bk_oom();
	if (!exists(p)) {
		free(p);
		if (!exists(rel))
			return bk_tpl_err(c->file, path, "file not found: %s (looked in %s and "
					  "in the working directory %s)", rel, dir, c->tpl->pwd);
		p = bk_strdup(rel);
	}
	*out = p;
	return p ? 0 : bk_oom();
}

static int read_kind(void *dst, const bk_cfg_ctx *c, const cJSON *v, const char *path,
		     char kind)
{
	long long n;
	int rc;

	switch (kind) {
	case 's': return bk_tpl_get_str(dst, c, v, path);
	case 'b': return bk_tpl_get_bool(dst, c, v, path);
	case 'd': return bk_tpl_get_dur(dst, c, v, path);
	case 'v': return bk_tpl_get_strv(dst, c, v, path);
	case 'k': return bk_tpl_get_kv(dst, c, v, path);
	case 'i':
		if ((rc = bk_tpl_get_int(&n, c, v, path)) != 0)
			return rc;
		if (n < 0 || n > 1000000000)
			return bk_tpl_err(c->file, path, "%lld is out of range (0 to 1000000000)", n);
		*(int *)dst = (int)n;
		return 0;
	}
	return bk_err(BAKEAMI_ERROR, "internal: bad kind '%c'", kind);
}

int bk_tpl_get_opt(void *dst, const bk_cfg_ctx *c, const cJSON *obj, const char *key,
	       const char *path, char kind)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
	char *sub;
	int rc;

	if (!v)
		return 0;
	if (!(sub = bk_tpl_jpath_key(path, key)))
		return bk_oom();
	rc = read_kind(dst, c, v, sub, kind);
	free(sub);
	return rc;
}

int bk_tpl_only_keys(const bk_cfg_ctx *c, const cJSON *obj, const char *path,
		 const char *const *keys, const char *what)
{
	if (!cJSON_IsObject(obj))
		return bk_tpl_err(c->file, path, "expected an object, got %s", bk_tpl_json_type(obj));
	for (const cJSON *it = obj->child; it; it = it->next) {
		const char *const *k = keys;
		while (*k && strcmp(*k, it->string) != 0)
			k++;
		if (*k)
			continue;
		char *sub = bk_tpl_jpath_key(path, it->string);
		int rc = bk_tpl_err(c->file, sub ? sub : path, "unknown key%s%s",
				    what ? " for " : "", what ? what : "");
		free(sub);
		return rc;
	}
	return 0;
}
