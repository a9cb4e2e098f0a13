/*
 * prov_util.c - pieces every provisioner uses: messages that name the
 * provisioner, the deadline, readers for the rendered config, local paths,
 * shell quoting and the command environment.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "provision_internal.h"

/* ---- messages ------------------------------------------------------- */

static const char *type_name(const bk_provision_ctx *ctx)
{
	return ctx->prov->type_name ? ctx->prov->type_name : "?";
}

static const char *prov_path(const bk_provision_ctx *ctx)
{
	return ctx->prov->path ? ctx->prov->path : "provisioner";
}

int bk_prov_fail(const bk_provision_ctx *ctx, int code, const char *fmt, ...)
{
	char msg[768];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return bk_err(code, "%s (%s): %s", prov_path(ctx), type_name(ctx), msg);
}

int bk_prov_wrap(const bk_provision_ctx *ctx, int code)
{
	return bk_err_wrap(code, "%s (%s)", prov_path(ctx), type_name(ctx));
}

void bk_prov_log(const bk_provision_ctx *ctx, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	bk_logf(&ctx->log, BK_LOG_INFO, "%s", msg);
}

int bk_prov_time_left(const bk_prov_run *r, double *left)
{
	*left = 0;
	if (r->deadline <= 0)
		return 0;
	*left = r->deadline - bk_now();
	if (*left > 0)
		return 0;
	return bk_prov_fail(r->ctx, BAKEAMI_ETIMEOUT, "timed out after %gs",
			    r->ctx->prov->timeout_s);
}

/* ---- config readers ------------------------------------------------- */

static const cJSON *item(const cJSON *cfg, const char *key)
{
	return cfg ? cJSON_GetObjectItemCaseSensitive(cfg, key) : NULL;
}

const char *bk_prov_str(const cJSON *cfg, const char *key)
{
	const cJSON *v = item(cfg, key);
	return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* Rendered templates may hold "true" where JSON would hold true. */
bool bk_prov_bool(const cJSON *cfg, const char *key, bool def)
{
	const cJSON *v = item(cfg, key);

	if (cJSON_IsBool(v))
		return cJSON_IsTrue(v);
	if (cJSON_IsString(v))
		return strcmp(v->valuestring, "true") == 0 || strcmp(v->valuestring, "1") == 0;
	return def;
}

int bk_prov_strv(const cJSON *cfg, const char *key, bk_strv *out)
{
	const cJSON *v = item(cfg, key), *e;
	const cJSON *arr = cJSON_IsArray(v) ? v : NULL;

	if (cJSON_IsString(v))
		return bk_strv_push(out, v->valuestring);
	cJSON_ArrayForEach(e, arr) {
		if (!cJSON_IsString(e))
			return bk_err(BAKEAMI_EINVALID, "%s: expected strings", key);
		if (bk_strv_push(out, e->valuestring) < 0)
			return BAKEAMI_ENOMEM;
	}
	return 0;
}

double bk_prov_duration(const cJSON *cfg, const char *key, double def)
{
	const cJSON *v = item(cfg, key);
	double d;

	if (cJSON_IsNumber(v))
		return v->valuedouble;
	if (!cJSON_IsString(v) || bk_go_duration(&d, v->valuestring) < 0)
		return def;
	return d;
}

bool bk_prov_valid_exit(const cJSON *cfg, int status)
{
	const cJSON *codes = item(cfg, "valid_exit_codes"), *e;

	if (!cJSON_IsArray(codes))
		return status == 0;
	cJSON_ArrayForEach(e, codes)
		if (cJSON_IsNumber(e) && e->valueint == status)
			return true;
	return false;
}

/* ---- paths, quoting, environment ------------------------------------ */

char *bk_prov_local_path(const bk_build_config *cfg, const char *path)
{
	const char *dir = cfg ? cfg->template_dir : NULL;

	if (path[0] == '/' || !dir || !*dir)
		return bk_strdup(path);
	return bk_sprintf("%s%s%s", dir, bk_str_ends(dir, "/") ? "" : "/", path);
}

int bk_prov_shell_quote(bk_buf *b, const char *s)
{
	int rc = bk_buf_putc(b, '\'');

	for (; *s && rc == 0; s++)
		rc = *s == '\'' ? bk_buf_puts(b, "'\"'\"'") : bk_buf_putc(b, *s);
	return rc ? rc : bk_buf_putc(b, '\'');
}

static bool valid_env_name(const char *k, size_t n)
{
	if (n == 0 || isdigit((unsigned char)k[0]))
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)k[i]) && k[i] != '_')
			return false;
	return true;
}

static int env_add_assignments(const bk_provision_ctx *ctx, bk_kv *out)
{
	bk_strv vars = BK_STRV_INIT;
	int rc = bk_prov_strv(ctx->prov->cfg, "environment_vars", &vars);

	for (size_t i = 0; rc == 0 && i < vars.count; i++) {
		const char *kv = vars.items[i], *eq = strchr(kv, '=');
		char *k;
		if (!eq || !valid_env_name(kv, (size_t)(eq - kv))) {
			rc = bk_prov_fail(ctx, BAKEAMI_EINVALID, "environment_vars[%zu]: "
					  "expected NAME=value", i);
			break;
		}
		if (!(k = bk_strndup(kv, (size_t)(eq - kv))))
			rc = bk_err(BAKEAMI_ENOMEM, "out of memory");
		else
			rc = bk_kv_set(out, k, eq + 1);
		free(k);
	}
	bk_strv_free(&vars);
	return rc;
}

int bk_prov_env(const bk_provision_ctx *ctx, bk_kv *out)
{
	const cJSON *env = item(ctx->prov->cfg, "env"), *e;
	const cJSON *obj = cJSON_IsObject(env) ? env : NULL;
	int rc = 0;

	for (size_t i = 0; ctx->env && i < ctx->env->count && rc == 0; i++)
		rc = bk_kv_set(out, ctx->env->keys[i], ctx->env->vals[i]);
	rc = rc ? rc : env_add_assignments(ctx, out);
	cJSON_ArrayForEach(e, obj) {
		if (rc != 0)
			break;
		if (!cJSON_IsString(e) || !valid_env_name(e->string, strlen(e->string)))
			rc = bk_prov_fail(ctx, BAKEAMI_EINVALID, "env.%s: expected a string "
					  "under a variable name", e->string);
		else
			rc = bk_kv_set(out, e->string, e->valuestring);
	}
	return rc;
}

int bk_prov_ensure_connected(const bk_provision_ctx *ctx, double timeout_s)
{
	int rc;

	if (!ctx->ssh)
		return bk_prov_fail(ctx, BAKEAMI_EINVALID, "no SSH session");
	if (bk_ssh_connected(ctx->ssh))
		return 0;
	bk_prov_log(ctx, "the SSH connection is down; reconnecting (up to %gs)", timeout_s);
	rc = bk_ssh_reconnect(ctx->ssh, timeout_s);
	return rc < 0 ? bk_prov_wrap(ctx, rc) : 0;
}
