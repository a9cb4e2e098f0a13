/*
 * shell.c - Packer's "shell" provisioner: upload each script (inline
 * commands become one script under inline_shebang) to remote_folder,
 * run it with execute_command, stream its output, check its exit status,
 * remove it. A connection that drops while a script runs (a reboot) is
 * fine with expect_disconnect; the next step reconnects.
 */
#include <stdlib.h>
#include <string.h>

#include "cmdtmpl.h"
#include "provision_internal.h"

#define DISCONNECT_STATUS 2300218    /* Packer's "remote end disconnected" */

typedef struct {
	char *name;                  /* "inline script" or the file's base name */
	char *data;
	size_t len;
} script;

typedef struct {
	const bk_prov_run *r;
	const bk_provision_ctx *ctx;
	const bk_prov_shell_cfg *cfg;
	script *scripts;
	size_t count;
	char *remote_path;           /* {{.Path}} */
	char *vars;                  /* {{.Vars}} */
	char *env_file;              /* {{.EnvVarFile}}, or NULL */
	const char *exec_tmpl;
	double start_retry_s;
} shell;

/* ---- scripts -------------------------------------------------------- */

/* Scripts written on Windows still run: CRLF -> LF unless "binary". */
static void unix_newlines(script *sc)
{
	size_t o = 0;

	for (size_t i = 0; i < sc->len; i++)
		if (!(sc->data[i] == '\r' && i + 1 < sc->len && sc->data[i + 1] == '\n'))
			sc->data[o++] = sc->data[i];
	sc->len = o;
	sc->data[o] = '\0';
}

static int add_script(shell *sh, char *name, char *data, size_t len)
{
	script *p = realloc(sh->scripts, (sh->count + 1) * sizeof(*p));

	if (!p || !name || !data) {
		free(name);
		free(data);
		if (p)
			sh->scripts = p;
		return bk_oom();
	}
	sh->scripts = p;
	p[sh->count++] = (script){name, data, len};
	if (!sh->cfg->binary)
		unix_newlines(&p[sh->count - 1]);
	return 0;
}

static int load_inline(shell *sh, const bk_strv *lines)
{
	const char *shebang = sh->cfg->inline_shebang;
	bk_buf b = BK_BUF_INIT;
	int rc = bk_buf_printf(&b, "#!%s\n", shebang && *shebang ? shebang : "/bin/sh -e");

	for (size_t i = 0; rc == 0 && i < lines->count; i++)
		rc = bk_buf_printf(&b, "%s\n", lines->items[i]);
	if (rc < 0) {
		bk_buf_free(&b);
		return rc;
	}
	size_t len = b.len;
	return add_script(sh, bk_strdup("inline script"), bk_buf_detach(&b), len);
}

static int load_file(shell *sh, const char *path)
{
	char *local = bk_prov_local_path(sh->ctx->cfg, path), *data = NULL;
	const char *slash;
	size_t len = 0;
	int rc;

	if (!local)
		return bk_oom();
	if ((rc = bk_file_read(&data, &len, local)) < 0) {
		rc = bk_prov_fail(sh->ctx, BAKEAMI_EINVALID, "cannot read script %s: %s", path,
				  bk_err_msg());
		free(local);
		return rc;
	}
	slash = strrchr(local, '/');
	rc = add_script(sh, bk_strdup(slash ? slash + 1 : local), data, len);
	free(local);
	return rc;
}

static int load_scripts(shell *sh)
{
	const bk_strv *files = &sh->cfg->scripts;
	int rc = 0;

	for (size_t i = 0; rc == 0 && i < files->count; i++)
		rc = load_file(sh, files->items[i]);
	if (rc == 0 && sh->cfg->inline_lines.count > 0)
		rc = load_inline(sh, &sh->cfg->inline_lines);
	return rc;
}

/* ---- remote paths, variables, the command ---------------------------- */

static char *remote_name(const char *folder, const char *prefix)
{
	char hex[9];

	if (bk_random_hex(hex, 4) < 0)
		return NULL;
	return bk_sprintf("%s%s%s_%s.sh", folder, bk_str_ends(folder, "/") ? "" : "/", prefix, hex);
}

static int set_remote_path(shell *sh)
{
	const char *path = sh->cfg->remote_path;
	const char *folder = sh->cfg->remote_folder;
	const char *file = sh->cfg->remote_file;

	if (!folder || !*folder)
		folder = "/tmp";
	if (path && *path)
		sh->remote_path = bk_strdup(path);
	else if (file && *file)
		sh->remote_path = bk_sprintf("%s%s%s", folder, bk_str_ends(folder, "/") ? "" : "/", file);
	else
		sh->remote_path = remote_name(folder, "script");
	return sh->remote_path ? 0 : bk_oom();
}

/* env_var_format with its two %s: the name, then the quoted-for-'' value. */
static int format_var(bk_buf *b, const char *fmt, const char *k, const char *v)
{
	int nth = 0, rc = 0;

	for (const char *p = fmt; *p && rc == 0; p++) {
		if (p[0] == '%' && p[1] == 's') {
			p++;
			if (nth++ == 0)
				rc = bk_buf_puts(b, k);
			else
				for (const char *c = v; *c && rc == 0; c++)
					rc = *c == '\'' ? bk_buf_puts(b, "'\"'\"'") : bk_buf_putc(b, *c);
		} else if (p[0] == '%' && p[1] == '%') {
			rc = bk_buf_putc(b, *p++);
		} else {
			rc = bk_buf_putc(b, *p);
		}
	}
	return rc;
}

static int cmp_keys(const void *a, const void *b)
{
	return strcmp(**(char *const *const *)a, **(char *const *const *)b);
}

/* The variables in Packer's order: sorted by name. */
static char *format_vars(const bk_kv *env, const char *fmt)
{
	char ***order = calloc(env->count + 1, sizeof(*order));
	bk_buf b = BK_BUF_INIT;
	int rc = order ? 0 : bk_oom();

	for (size_t i = 0; order && i < env->count; i++)
		order[i] = &env->keys[i];
	if (order)
		qsort(order, env->count, sizeof(*order), cmp_keys);
	for (size_t i = 0; rc == 0 && i < env->count; i++) {
		size_t k = (size_t)(order[i] - env->keys);
		rc = format_var(&b, fmt, env->keys[k], env->vals[k]);
	}
	free(order);
	if (rc < 0) {
		bk_buf_free(&b);
		return NULL;
	}
	return bk_buf_detach(&b);
}

static int set_vars(shell *sh, bool env_file)
{
	const char *fmt = sh->cfg->env_var_format;
	bk_kv env = BK_KV_INIT;
	int rc = bk_prov_env(sh->ctx, &env);

	if (!fmt || !*fmt)
		fmt = env_file ? "export %s='%s'\n" : "%s='%s' ";
	if (rc == 0 && !(sh->vars = format_vars(&env, fmt)))
		rc = bk_oom();
	bk_kv_free(&env);
	return rc;
}

/* execute_command with Packer's fields for shell: {{.Path}}, {{.Vars}}
 * and {{.EnvVarFile}} (Go-template forms allowed, cmdtmpl.h). */
static int render_command(char **out, const shell *sh)
{
	const bk_cmd_field f[] = {
		{"Path", sh->remote_path, false},
		{"Vars", sh->env_file ? "" : sh->vars, false},
		{"EnvVarFile", sh->env_file ? sh->env_file : "", false},
	};
	char *what = bk_sprintf("%s.execute_command", sh->ctx->prov->path ? sh->ctx->prov->path
									  : "provisioner");
	int rc = what ? bk_cmd_render(out, sh->exec_tmpl, f, BK_ARRAY_SIZE(f), what) : bk_oom();

	free(what);
	return rc;
}

/* ---- running -------------------------------------------------------- */

/* Upload, reconnecting while the instance comes back (start_retry_timeout). */
static int upload(shell *sh, const char *remote, const char *data, size_t len, int mode)
{
	double until = bk_now() + sh->start_retry_s;
	int rc;

	for (;;) {
		if ((rc = bk_prov_ensure_connected(sh->ctx, until - bk_now())) < 0)
			return rc;
		rc = bk_ssh_put(sh->ctx->ssh, remote, data, len, mode);
		if (rc == 0 || bk_ssh_connected(sh->ctx->ssh) || bk_now() >= until)
			return rc < 0 ? bk_prov_wrap(sh->ctx, rc) : 0;
	}
}

/* Whether the bake deletes what we upload when provisioning ends (also
 * when it fails), rather than we after each script. */
static bool deferred(const shell *sh)
{
	return sh->ctx->remove_later && !sh->cfg->skip_clean;
}

/* Uploaded: from now on it is to be deleted, whatever happens. */
static int uploaded(shell *sh, const char *path)
{
	const bk_strv *later = sh->ctx->remove_later;

	if (!deferred(sh) || (later->count && strcmp(later->items[later->count - 1], path) == 0))
		return 0;
	return bk_strv_push(sh->ctx->remove_later, path);
}

static int upload_env_file(shell *sh)
{
	const char *folder = sh->cfg->remote_folder;
	int rc;

	if (!(sh->env_file = remote_name(folder && *folder ? folder : "/tmp", "varfile")))
		return bk_oom();
	rc = upload(sh, sh->env_file, sh->vars, strlen(sh->vars), 0600);
	return rc ? rc : uploaded(sh, sh->env_file);
}

static bool disconnect_ok(const shell *sh)
{
	return sh->cfg->expect_disconnect ||
	       bk_prov_valid_exit(&sh->cfg->valid_exit_codes, DISCONNECT_STATUS);
}

/* What the exec result means for script i of n. */
static int judge(shell *sh, size_t i, int rc, int status)
{
	const script *sc = &sh->scripts[i];

	if (rc == BAKEAMI_ESSH && status < 0 && !bk_ssh_connected(sh->ctx->ssh)) {
		if (disconnect_ok(sh)) {
			bk_prov_log(sh->ctx, "%s: the connection dropped, as expect_disconnect allows",
				    sc->name);
			return 0;
		}
		return bk_prov_fail(sh->ctx, BAKEAMI_ESSH, "script %zu of %zu (%s): %s; if it "
				    "reboots the machine, set \"expect_disconnect\": true",
				    i + 1, sh->count, sc->name, bk_err_msg());
	}
	if (rc == BAKEAMI_ETIMEOUT)
		return bk_prov_fail(sh->ctx, rc, "timed out after %gs in script %zu of %zu (%s)",
				    sh->ctx->prov->timeout_s, i + 1, sh->count, sc->name);
	if (rc < 0)
		return bk_prov_wrap(sh->ctx, rc);
	if (!bk_prov_valid_exit(&sh->cfg->valid_exit_codes, status))
		return bk_prov_fail(sh->ctx, BAKEAMI_EPROVISION, "script %zu of %zu (%s) exited "
				    "with status %d", i + 1, sh->count, sc->name, status);
	return 0;
}

/* rm -f, once the instance is reachable again. */
static int remove_remote(shell *sh, const char *path)
{
	bk_strv paths = BK_STRV_INIT;
	char *cmd = NULL;
	double left;
	int status = -1, rc = bk_prov_ensure_connected(sh->ctx, sh->start_retry_s);

	rc = rc ? rc : bk_prov_time_left(sh->r, &left);
	rc = rc ? rc : bk_strv_push(&paths, path);
	rc = rc ? rc : bk_provision_rm_command(&cmd, &paths);
	rc = rc ? rc : bk_ssh_exec(&status, sh->ctx->ssh, cmd, left, NULL, NULL);
	free(cmd);
	bk_strv_free(&paths);
	if (rc < 0)
		return bk_prov_wrap(sh->ctx, rc);
	if (status != 0)
		return bk_prov_fail(sh->ctx, BAKEAMI_EPROVISION, "removing %s failed (status %d)",
				    path, status);
	return 0;
}

static int run_script(shell *sh, size_t i, const char *cmd)
{
	const script *sc = &sh->scripts[i];
	double left;
	int status = -1, rc;

	if (strcmp(sc->name, "inline script") == 0)
		bk_prov_log(sh->ctx, "running inline script");
	else
		bk_prov_log(sh->ctx, "uploading %s to %s", sc->name, sh->remote_path);
	/* 0700: the script may hold rendered secrets; only the SSH user (and
	 * root, for a sudo execute_command) may read it. */
	if ((rc = upload(sh, sh->remote_path, sc->data, sc->len, 0700)) < 0 ||
	    (rc = uploaded(sh, sh->remote_path)) < 0)
		return rc;
	if ((rc = bk_prov_time_left(sh->r, &left)) < 0)
		return rc;
	rc = bk_ssh_exec(&status, sh->ctx->ssh, cmd, left, sh->ctx->output,
			 sh->ctx->output_payload);
	if ((rc = judge(sh, i, rc, status)) < 0)
		return rc;
	if (sh->cfg->skip_clean || deferred(sh))
		return 0;
	return remove_remote(sh, sh->remote_path);
}

/*
 * The environment goes in a 0600 file the command sources, not on the
 * command line (where every user of the instance sees it in ps): always
 * with use_env_var_file, and by default, unless execute_command or
 * env_var_format say how the template wants {{.Vars}} on the line.
 */
static bool wants_env_file(const shell *sh)
{
	const char *cmd = sh->cfg->execute_command, *fmt = sh->cfg->env_var_format;

	return sh->cfg->use_env_var_file || ((!cmd || !*cmd) && (!fmt || !*fmt));
}

static int prepare(shell *sh)
{
	bool env_file = wants_env_file(sh);
	int rc;

	sh->exec_tmpl = sh->cfg->execute_command;
	if (!sh->exec_tmpl || !*sh->exec_tmpl)
		sh->exec_tmpl = env_file ? "chmod +x {{.Path}}; . {{.EnvVarFile}} && {{.Path}}"
					 : "chmod +x {{.Path}}; {{.Vars}} {{.Path}}";
	sh->start_retry_s = sh->cfg->start_retry_timeout_s;
	rc = load_scripts(sh);
	rc = rc ? rc : set_remote_path(sh);
	rc = rc ? rc : set_vars(sh, env_file);
	rc = rc ? rc : env_file ? upload_env_file(sh) : 0;
	return rc;
}

static int run_all(shell *sh)
{
	char *cmd = NULL;
	int rc = render_command(&cmd, sh);
	double pause;

	for (size_t i = 0; rc == 0 && i < sh->count; i++)
		rc = run_script(sh, i, cmd);
	free(cmd);
	if (rc == 0 && sh->env_file && !sh->cfg->skip_clean && !deferred(sh))
		rc = remove_remote(sh, sh->env_file);
	pause = sh->cfg->pause_after_s;
	if (rc == 0 && pause > 0) {
		bk_prov_log(sh->ctx, "pausing %gs after this provisioner", pause);
		if (bk_sleep_ms(sh->ctx->cancel, (long)(pause * 1000)) < 0)
			rc = bk_prov_fail(sh->ctx, BAKEAMI_ECANCELLED, "cancelled during pause_after");
	}
	return rc;
}

static void shell_free(shell *sh)
{
	for (size_t i = 0; i < sh->count; i++) {
		free(sh->scripts[i].name);
		free(sh->scripts[i].data);
	}
	free(sh->scripts);
	free(sh->remote_path);
	free(sh->vars);
	free(sh->env_file);
}

int bk_prov_shell(const bk_prov_run *r)
{
	shell sh = {0};
	int rc;

	sh.r = r;
	sh.ctx = r->ctx;
	sh.cfg = &r->ctx->prov->u.shell;
	rc = prepare(&sh);
	rc = rc ? rc : run_all(&sh);
	shell_free(&sh);
	return rc;
}
