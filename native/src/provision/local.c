/*
 * local.c - Packer's "shell-local" provisioner: run `command`, `inline`
 * (under inline_shebang, as "<shebang> -c <lines>") or each of `script(s)`
 * on the agent, with the provisioner's environment added, streaming
 * output lines live, through bk_spawn_run (util.h). A cancel or timeout
 * stops the whole process group.
 */
#include <stdlib.h>
#include <string.h>

#include "provision_internal.h"

extern char **environ;

/* ---- what to run ---------------------------------------------------- */

/* "/usr/bin/env bash -e" -> argv words, then "-c", text. */
static int shebang_argv(bk_strv *argv, const char *shebang, const char *text)
{
	char *copy = bk_strdup(shebang), *save = NULL;
	int rc = copy ? 0 : bk_oom();

	for (char *w = copy ? strtok_r(copy, " \t", &save) : NULL; w && rc == 0;
	     w = strtok_r(NULL, " \t", &save))
		rc = bk_strv_push(argv, w);
	free(copy);
	rc = rc ? rc : bk_strv_push(argv, "-c");
	return rc ? rc : bk_strv_push(argv, text);
}

static int inline_text(const bk_prov_local_cfg *cfg, bk_buf *text)
{
	int rc = 0;

	for (size_t i = 0; rc == 0 && i < cfg->inline_lines.count; i++)
		rc = bk_buf_printf(text, "%s\n", cfg->inline_lines.items[i]);
	return rc;
}

/* Scripts run through /bin/sh -c '<path>', as Packer's execute_command. */
static int script_argv(const bk_provision_ctx *ctx, bk_strv *argv, const char *path)
{
	char *local = bk_prov_local_path(ctx->cfg, path);
	bk_buf q = BK_BUF_INIT;
	int rc = local ? bk_sh_quote(&q, local) : bk_oom();

	rc = rc ? rc : bk_strv_push(argv, "/bin/sh");
	rc = rc ? rc : bk_strv_push(argv, "-c");
	rc = rc ? rc : bk_strv_push(argv, q.ptr);
	free(local);
	bk_buf_free(&q);
	return rc;
}

/* ---- the environment ------------------------------------------------- */

static bool overridden(const bk_kv *env, const char *entry)
{
	const char *eq = strchr(entry, '=');

	for (size_t i = 0; eq && i < env->count; i++)
		if (strlen(env->keys[i]) == (size_t)(eq - entry) &&
		    strncmp(env->keys[i], entry, (size_t)(eq - entry)) == 0)
			return true;
	return false;
}

static int build_envp(const bk_provision_ctx *ctx, bk_strv *envp)
{
	bk_kv env = BK_KV_INIT;
	int rc = bk_prov_env(ctx, &env);

	for (char **e = environ; rc == 0 && e && *e; e++)
		if (!overridden(&env, *e))
			rc = bk_strv_push(envp, *e);
	for (size_t i = 0; rc == 0 && i < env.count; i++) {
		char *kv = bk_sprintf("%s=%s", env.keys[i], env.vals[i]);
		rc = kv ? bk_strv_push(envp, kv) : bk_oom();
		free(kv);
	}
	bk_kv_free(&env);
	return rc;
}

/* ---- running it ---------------------------------------------------- */

/* The spawner's own cancel and timeout messages say "stopped <program>";
 * a provisioner's say which provisioner. */
static int run_failed(const bk_prov_run *r, int rc)
{
	if (rc == BAKEAMI_ECANCELLED)
		return bk_prov_fail(r->ctx, rc, "cancelled");
	if (rc == BAKEAMI_ETIMEOUT)
		return bk_prov_fail(r->ctx, rc, "timed out after %gs", r->ctx->prov->timeout_s);
	return bk_prov_wrap(r->ctx, rc);
}

static int run_argv(const bk_prov_run *r, const bk_strv *argv, const bk_strv *envp,
		    const char *name, size_t i, size_t n)
{
	bk_spawn_opts o = {argv->items[0], argv->items, envp->items, NULL, r->ctx->cancel, 0,
			   r->ctx->output, r->ctx->output_payload};
	int status = -1, rc;

	if ((rc = bk_prov_time_left(r, &o.timeout_s)) < 0)
		return rc;
	bk_prov_log(r->ctx, "running %s locally", name);
	if ((rc = bk_spawn_run(&status, &o)) < 0)
		return run_failed(r, rc);
	if (!bk_prov_valid_exit(&r->ctx->prov->u.local.valid_exit_codes, status))
		return bk_prov_fail(r->ctx, BAKEAMI_EPROVISION, "%s (%zu of %zu) exited with status %d",
				    name, i + 1, n, status);
	return 0;
}

static int run_inline(const bk_prov_run *r, const bk_strv *envp)
{
	const bk_prov_local_cfg *cfg = &r->ctx->prov->u.local;
	const char *shebang = cfg->inline_shebang;
	bk_buf text = BK_BUF_INIT;
	bk_strv argv = BK_STRV_INIT;
	int rc = inline_text(cfg, &text);

	if (rc == 0 && text.len > 0) {
		rc = shebang_argv(&argv, shebang && *shebang ? shebang : "/bin/sh -e", text.ptr);
		rc = rc ? rc : run_argv(r, &argv, envp, "inline command", 0, 1);
	}
	bk_buf_free(&text);
	bk_strv_free(&argv);
	return rc;
}

static int run_scripts(const bk_prov_run *r, const bk_strv *envp)
{
	const bk_strv *files = &r->ctx->prov->u.local.scripts;
	int rc = 0;

	for (size_t i = 0; rc == 0 && i < files->count; i++) {
		bk_strv argv = BK_STRV_INIT;
		char *name = bk_sprintf("script %s", files->items[i]);
		rc = name ? script_argv(r->ctx, &argv, files->items[i]) : bk_oom();
		rc = rc ? rc : run_argv(r, &argv, envp, name, i, files->count);
		bk_strv_free(&argv);
		free(name);
	}
	return rc;
}

int bk_prov_shell_local(const bk_prov_run *r)
{
	bk_strv envp = BK_STRV_INIT;
	int rc = build_envp(r->ctx, &envp);

	rc = rc ? rc : run_inline(r, &envp);
	rc = rc ? rc : run_scripts(r, &envp);
	bk_strv_free(&envp);
	return rc;
}
