/*
 * prov_util.c - pieces every provisioner uses: messages that name the
 * provisioner, the deadline, valid exit codes, local paths, shell quoting
 * and the command environment.
 */
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

bool bk_prov_valid_exit(const bk_intv *codes, int status)
{
	if (codes->count == 0)
		return status == 0;
	for (size_t i = 0; i < codes->count; i++)
		if (codes->items[i] == status)
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

int bk_provision_rm_command(char **out, const bk_strv *paths)
{
	bk_buf cmd = BK_BUF_INIT;
	int rc = 0;

	if (paths->count)
		rc = bk_buf_puts(&cmd, "rm -f --");
	for (size_t i = 0; rc == 0 && i < paths->count; i++) {
		rc = bk_buf_putc(&cmd, ' ');
		rc = rc ? rc : bk_sh_quote(&cmd, paths->items[i]);
	}
	if (rc < 0) {
		bk_buf_free(&cmd);
		return rc;
	}
	*out = bk_buf_detach(&cmd);
	return 0;
}

/* The provisioner's own variables: environment_vars (names checked by
 * template/), then env. */
static void own_env(const bk_provisioner *p, const bk_strv **vars, const bk_kv **env)
{
	static const bk_strv no_vars = BK_STRV_INIT;
	static const bk_kv no_env = BK_KV_INIT;

	*vars = &no_vars;
	*env = &no_env;
	if (p->type == BK_PROV_SHELL) {
		*vars = &p->u.shell.environment_vars;
		*env = &p->u.shell.env;
	} else if (p->type == BK_PROV_SHELL_LOCAL) {
		*vars = &p->u.local.environment_vars;
		*env = &p->u.local.env;
	}
}

int bk_prov_env(const bk_provision_ctx *ctx, bk_kv *out)
{
	const bk_strv *vars;
	const bk_kv *env;
	int rc = 0;

	own_env(ctx->prov, &vars, &env);
	for (size_t i = 0; ctx->env && i < ctx->env->count && rc == 0; i++)
		rc = bk_kv_set(out, ctx->env->keys[i], ctx->env->vals[i]);
	for (size_t i = 0; rc == 0 && i < vars->count; i++) {
		const char *kv = vars->items[i], *eq = strchr(kv, '=');
		char *k = eq ? bk_strndup(kv, (size_t)(eq - kv)) : NULL;
		rc = k ? bk_kv_set(out, k, eq + 1)
		       : eq ? bk_oom()
			    : bk_prov_fail(ctx, BAKEAMI_EINVALID, "environment_vars[%zu]: "
					   "expected NAME=value", i);
		free(k);
	}
	for (size_t i = 0; rc == 0 && i < env->count; i++)
		rc = bk_kv_set(out, env->keys[i], env->vals[i]);
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
