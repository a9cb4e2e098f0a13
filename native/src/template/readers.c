/*
 * readers.c - typed reads of rendered JSON values, each decoded as Packer
 * 1.6.6 decodes it (decode.c): weak types, comma lists, nulls. Variables
 * are strings, so "{{user `ssh_port`}}" -> "22" reads as the integer 22.
 */
#include <stdio.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "template_int.h"

/* The value Packer's decoding gives v (decode.c), put in v's place: the
 * rendered objects the readers are given belong to the plan being built,
 * so whatever reads them afterwards (promote_plan.c, validate.c) sees the
 * decoded value too. It is also recorded under its path for
 * `bakeami validate --dump-plan`. NULL *out: a JSON null, which sets
 * nothing. */
static int decoded(const cJSON **out, const bk_cfg_ctx *c, const cJSON *v, const char *path,
		   char kind)
{
	cJSON *n = NULL, *slot = (cJSON *)v, *rec;
	int rc = bk_tpl_decode(&n, c, v, path, kind);

	*out = NULL;
	if (rc != 0 || !n)
		return rc;
	if (slot->type & cJSON_IsReference || slot->type & cJSON_StringIsConst) {
		cJSON_Delete(n);
		return bk_err(BAKEAMI_ERROR, "internal: %s is not the plan's own value", path);
	}
	cJSON_Delete(slot->child);
	free(slot->valuestring);
	slot->type = n->type;
	slot->child = n->child;
	slot->valuestring = n->valuestring;
	slot->valueint = n->valueint;
	slot->valuedouble = n->valuedouble;
	n->child = NULL;
	n->valuestring = NULL;
	cJSON_Delete(n);
	if (!c->cfg->decoded && !(c->cfg->decoded = cJSON_CreateObject()))
		return bk_oom();
	if (!(rec = cJSON_Duplicate(slot, 1)))
		return bk_oom();
	cJSON_DeleteItemFromObjectCaseSensitive(c->cfg->decoded, path);
	cJSON_AddItemToObject(c->cfg->decoded, path, rec);
	*out = slot;
	return 0;
}

void bk_tpl_decoded_forget(bk_build_config *cfg, const char *path)
{
	size_t n = strlen(path);
	cJSON *it = cfg->decoded ? cfg->decoded->child : NULL;

	while (it) {
		cJSON *next = it->next;
		if (strncmp(it->string, path, n) == 0 && (it->string[n] == '.' || it->string[n] == '['))
			cJSON_Delete(cJSON_DetachItemViaPointer(cfg->decoded, it));
		it = next;
	}
}

int bk_tpl_get_str(char **out, const bk_cfg_ctx *c, const cJSON *v, const char *path)
{
	const cJSON *d;
	int rc = decoded(&d, c, v, path, 's');

	if (rc != 0 || !d)
		return rc;
	free(*out);
	*out = bk_strdup(d->valuestring);
	return *out ? 0 : bk_oom();
}

static int get_bool(int *out, const bk_cfg_ctx *c, const cJSON *v, const char *path, char kind)
{
	const cJSON *d;
	int rc = decoded(&d, c, v, path, kind);

	if (rc == 0 && d)
		*out = cJSON_IsTrue(d);
	return rc;
}

int bk_tpl_get_bool(int *out, const bk_cfg_ctx *c, const cJSON *v, const char *path)
{
	return get_bool(out, c, v, path, 'b');
}

int bk_tpl_get_tri(int *out, const bk_cfg_ctx *c, const cJSON *v, const char *path)
{
	return get_bool(out, c, v, path, 't');
}

int bk_tpl_get_int(long long *out, const bk_cfg_ctx *c, const cJSON *v, const char *path)
{
	const cJSON *d;
	int rc = decoded(&d, c, v, path, 'i');

	if (rc == 0 && d)
		*out = (long long)d->valuedouble;
	return rc;
}

int bk_tpl_get_dur(double *out, const bk_cfg_ctx *c, const cJSON *v, const char *path)
{
	const cJSON *d;
	int rc = decoded(&d, c, v, path, 'd');

	if (rc == 0 && d)
		*out = d->valuedouble;
	return rc;
}

int bk_tpl_get_strv(bk_strv *out, const bk_cfg_ctx *c, const cJSON *v, const char *path)
{
	const cJSON *d;
	int rc = decoded(&d, c, v, path, 'v');

	if (rc != 0 || !d)
		return rc;
	bk_strv_free(out);
	for (const cJSON *it = d->child; it && rc == 0; it = it->next)
		rc = bk_strv_push(out, it->valuestring);
	return rc;
}

int bk_tpl_get_intv(bk_intv *out, const bk_cfg_ctx *c, const cJSON *v, const char *path)
{
	const cJSON *d;
	int rc = decoded(&d, c, v, path, 'n');

	if (rc != 0 || !d)
		return rc;
	free(out->items);
	out->count = 0;
	if (!(out->items = calloc((size_t)cJSON_GetArraySize(d) + 1, sizeof(int))))
		return bk_oom();
	for (const cJSON *it = d->child; it; it = it->next) {
		if (fabs(it->valuedouble) > 2147483647.0) {
			char *sub = bk_tpl_jpath_index(path, out->count);
			rc = bk_tpl_err(c->file, sub ? sub : path, "out of range for an int");
			free(sub);
			return rc;
		}
		out->items[out->count++] = (int)it->valuedouble;
	}
	return 0;
}

int bk_tpl_get_kv(bk_kv *out, const bk_cfg_ctx *c, const cJSON *v, const char *path)
{
	const cJSON *d;
	int rc = decoded(&d, c, v, path, 'k');

	if (rc != 0 || !d)
		return rc;
	bk_kv_free(out);
	for (const cJSON *it = d->child; it && rc == 0; it = it->next)
		rc = bk_kv_set(out, it->string, it->valuestring);
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
	case 't': return bk_tpl_get_tri(dst, c, v, path);
	case 'n': return bk_tpl_get_intv(dst, c, v, path);
	case 'd': return bk_tpl_get_dur(dst, c, v, path);
	case 'v': return bk_tpl_get_strv(dst, c, v, path);
	case 'k': return bk_tpl_get_kv(dst, c, v, path);
	case 'i':
		n = *(int *)dst;   /* a null keeps it */
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
		size_t n = 0;
		while (keys[n])
			n++;
		int rc = bk_tpl_unknown_key(c, sub ? sub : path, it->string, keys, sizeof(*keys), n,
					    what);
		free(sub);
		return rc;
	}
	return 0;
}
