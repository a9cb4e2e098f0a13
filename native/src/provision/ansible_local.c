/*
 * ansible_local.c - Packer's "ansible-local" provisioner: upload the
 * playbooks, roles, vars and an inventory to staging_directory on the
 * instance, then run there, as Packer 1.6.6 does,
 *   cd <staging> && <command> <playbook> --extra-vars "packer_build_name=..
 *   packer_builder_type=.. packer_http_addr=.." <extra_arguments> -c local -i <inventory>
 * for each playbook, its output streamed live. The staging folder is
 * removed after a failure (the image will not be made: only the lab's
 * "instance" would keep it) and, as Packer, after a success when
 * clean_staging_directory says so.
 */
#include <stdlib.h>
#include <string.h>

#include "provision_internal.h"

#define STAGING_BASE "/tmp/packer-provisioner-ansible-local"
#define DEFAULT_COMMAND "ANSIBLE_FORCE_COLOR=1 PYTHONUNBUFFERED=1 ansible-playbook"
/* What Packer 1.6.6 passes for a builder without an HTTP server (amazon). */
#define NO_HTTP_ADDR "ERR_HTTP_ADDR_NOT_IMPLEMENTED_BY_BUILDER"

typedef struct {
	const bk_prov_run *r;
	const bk_provision_ctx *ctx;
	const bk_prov_ansible_local_cfg *cfg;
	char *staging;
	char *inventory;             /* remote path */
	bk_strv playbooks;           /* remote paths, in order */
} staged;

/* ---- remote commands ------------------------------------------------- */

static const char *base_name(const char *path)
{
	size_t n = strlen(path);
	const char *s;

	while (n > 1 && path[n - 1] == '/')
		n--;
	for (s = path + n; s > path && s[-1] != '/'; s--)
		;
	return s;
}

static char *join(const char *dir, const char *name)
{
	return bk_sprintf("%s%s%s", dir, bk_str_ends(dir, "/") || name[0] == '/' ? "" : "/", name);
}

static int run_remote(staged *st, const char *cmd, bk_ssh_line_cb out, int *status)
{
	double left;
	int rc = bk_prov_time_left(st->r, &left);

	*status = -1;
	if (rc == 0)
		rc = bk_ssh_exec(status, st->ctx->ssh, cmd, left, out, out ? st->ctx->output_payload
									   : NULL);
	if (rc == BAKEAMI_ETIMEOUT)
		return bk_prov_fail(st->ctx, rc, "timed out after %gs", st->ctx->prov->timeout_s);
	return rc < 0 ? bk_prov_wrap(st->ctx, rc) : 0;
}

/* "<verb> '<dir>'" on the instance. */
static int dir_cmd(staged *st, const char *verb, const char *dir)
{
	bk_buf cmd = BK_BUF_INIT;
	int status, rc = bk_buf_printf(&cmd, "%s ", verb);

	rc = rc ? rc : bk_sh_quote(&cmd, dir);
	rc = rc ? rc : run_remote(st, cmd.ptr, st->ctx->output, &status);
	if (rc == 0 && status != 0)
		rc = bk_prov_fail(st->ctx, BAKEAMI_EPROVISION, "%s %s exited with status %d", verb,
				  dir, status);
	bk_buf_free(&cmd);
	return rc;
}

static int upload(staged *st, const char *local, const char *remote)
{
	int rc = bk_ssh_upload(st->ctx->ssh, local, remote);

	return rc < 0 ? bk_prov_wrap(st->ctx, rc) : 0;
}

/* A folder's contents into dst (Packer's uploadDir: the source with a
 * trailing slash), dst made first. */
static int upload_dir(staged *st, const char *local, const char *dst)
{
	char *src = bk_str_ends(local, "/") ? bk_strdup(local) : bk_sprintf("%s/", local);
	int rc = src ? 0 : bk_oom();

	bk_prov_log(st->ctx, "uploading %s to %s", local, dst);
	rc = rc ? rc : dir_cmd(st, "mkdir -p", dst);
	rc = rc ? rc : upload(st, src, dst);
	free(src);
	return rc;
}

/* A file to dir/<its name>. */
static int upload_into(staged *st, const char *local, const char *dir, char **remote)
{
	char *dst = join(dir, base_name(local));
	int rc = dst ? 0 : bk_oom();

	if (rc == 0) {
		bk_prov_log(st->ctx, "uploading %s to %s", local, dst);
		rc = upload(st, local, dst);
	}
	if (rc == 0 && remote)
		*remote = dst;
	else
		free(dst);
	return rc;
}

/* ---- what goes up ---------------------------------------------------- */

/* playbook_files: one under playbook_dir is there already (its path
 * inside it); another goes to <staging>/<its full local path>, as Packer. */
static int stage_playbook_files(staged *st)
{
	const char *pdir = st->cfg->playbook_dir;
	size_t plen = pdir ? strlen(pdir) : 0;
	int rc = 0;

	while (plen > 1 && pdir[plen - 1] == '/')
		plen--;
	for (size_t i = 0; rc == 0 && i < st->cfg->playbook_files.count; i++) {
		const char *f = st->cfg->playbook_files.items[i];
		char *remote = NULL;
		if (pdir && strncmp(f, pdir, plen) == 0 && f[plen] == '/') {
			remote = join(st->staging, f + plen + 1);
			rc = remote ? 0 : bk_oom();
		} else {
			char *dir = join(st->staging, f), *slash = dir ? strrchr(dir, '/') : NULL;
			if (slash)
				*slash = '\0';
			rc = !dir ? bk_oom() : dir_cmd(st, "mkdir -p", dir);
			rc = rc ? rc : upload_into(st, f, dir, &remote);
			free(dir);
		}
		rc = rc ? rc : bk_strv_push(&st->playbooks, remote);
		free(remote);
	}
	return rc;
}

static int stage_playbooks(staged *st)
{
	const bk_prov_ansible_local_cfg *c = st->cfg;
	char *remote = NULL;
	int rc;

	if (c->playbook_dir)
		rc = upload_dir(st, c->playbook_dir, st->staging);
	else
		rc = dir_cmd(st, "mkdir -p", st->staging);
	if (rc == 0 && c->playbook_file) {
		rc = upload_into(st, c->playbook_file, st->staging, &remote);
		rc = rc ? rc : bk_strv_push(&st->playbooks, remote);
		free(remote);
		return rc;
	}
	return rc ? rc : stage_playbook_files(st);
}

/* "127.0.0.1", or each inventory group holding it, as Packer writes it. */
static int write_inventory(staged *st)
{
	const bk_strv *groups = &st->cfg->inventory_groups;
	bk_buf text = BK_BUF_INIT;
	char hex[9], *name;
	int rc = bk_random_hex(hex, 4);

	for (size_t i = 0; rc == 0 && i < groups->count; i++)
		rc = bk_buf_printf(&text, "[%s]\n127.0.0.1\n", groups->items[i]);
	if (rc == 0 && groups->count == 0)
		rc = bk_buf_puts(&text, "127.0.0.1");
	name = rc == 0 ? bk_sprintf("packer-provisioner-ansible-local%s", hex) : NULL;
	if (rc == 0 && (!name || !(st->inventory = join(st->staging, name))))
		rc = bk_oom();
	if (rc == 0) {
		bk_prov_log(st->ctx, "uploading the inventory to %s", st->inventory);
		rc = bk_ssh_put(st->ctx->ssh, st->inventory, text.ptr, text.len, 0644);
		rc = rc < 0 ? bk_prov_wrap(st->ctx, rc) : 0;
	}
	free(name);
	bk_buf_free(&text);
	return rc;
}

/* A local folder to <staging>/<sub>, or with keep_name to
 * <staging>/<sub>/<its base name>. */
static int upload_under(staged *st, const char *local, const char *sub, bool keep_name)
{
	char *under = join(st->staging, sub);
	char *dst = under && keep_name ? join(under, base_name(local)) : under;
	int rc = dst ? upload_dir(st, local, dst) : bk_oom();

	if (dst != under)
		free(dst);
	free(under);
	return rc;
}

static int stage_rest(staged *st)
{
	const bk_prov_ansible_local_cfg *c = st->cfg;
	/* Packer's layout: group_vars and host_vars as named, each role and
	 * playbook folder under its own name; in this order. */
	const struct {
		const char *sub;
		const char *one;       /* a single folder, or */
		const bk_strv *list;   /* several */
	} dirs[] = {
		{"group_vars", c->group_vars, NULL}, {"host_vars", c->host_vars, NULL},
		{"roles", NULL, &c->role_paths}, {"playbooks", NULL, &c->playbook_paths},
	};
	int rc = 0;

	if (c->galaxy_file)
		rc = upload_into(st, c->galaxy_file, st->staging, NULL);
	if (rc == 0)
		rc = c->inventory_file ? upload_into(st, c->inventory_file, st->staging, &st->inventory)
				       : write_inventory(st);
	for (size_t d = 0; rc == 0 && d < BK_ARRAY_SIZE(dirs); d++) {
		if (dirs[d].one)
			rc = upload_under(st, dirs[d].one, dirs[d].sub, false);
		for (size_t i = 0; rc == 0 && dirs[d].list && i < dirs[d].list->count; i++)
			rc = upload_under(st, dirs[d].list->items[i], dirs[d].sub, true);
	}
	return rc;
}

/* ---- running --------------------------------------------------------- */

static const char *env_of(const bk_provision_ctx *ctx, const char *key)
{
	const char *v = ctx->env ? bk_kv_get(ctx->env, key) : NULL;

	return v ? v : "";
}

static int galaxy(staged *st)
{
	const char *cmd = st->cfg->galaxy_command ? st->cfg->galaxy_command : "ansible-galaxy";
	char *file = join(st->staging, base_name(st->cfg->galaxy_file));
	char *line = file ? bk_sprintf("cd %s && %s install -r %s -p %s/roles", st->staging, cmd,
				       file, st->staging) : NULL;
	int status, rc = line ? 0 : bk_oom();

	if (rc == 0) {
		bk_prov_log(st->ctx, "running %s", line);
		rc = run_remote(st, line, st->ctx->output, &status);
	}
	if (rc == 0 && status != 0)
		rc = bk_prov_fail(st->ctx, BAKEAMI_EPROVISION, "%s exited with status %d", cmd, status);
	free(file);
	free(line);
	return rc;
}

static char *playbook_command(const staged *st, const char *playbook)
{
	const bk_prov_ansible_local_cfg *c = st->cfg;
	bk_buf b = BK_BUF_INIT;
	int rc = bk_buf_printf(&b, "cd %s && %s %s --extra-vars \"packer_build_name=%s "
			       "packer_builder_type=%s packer_http_addr=%s\" ", st->staging,
			       c->command ? c->command : DEFAULT_COMMAND, playbook,
			       env_of(st->ctx, "PACKER_BUILD_NAME"),
			       env_of(st->ctx, "PACKER_BUILDER_TYPE"), NO_HTTP_ADDR);

	for (size_t i = 0; rc == 0 && i < c->extra_arguments.count; i++)
		rc = bk_buf_printf(&b, "%s%s", i ? " " : "", c->extra_arguments.items[i]);
	rc = rc ? rc : bk_buf_printf(&b, " -c local -i %s", st->inventory);
	if (rc < 0) {
		bk_buf_free(&b);
		return NULL;
	}
	return bk_buf_detach(&b);
}

static int run_playbook(staged *st, size_t i)
{
	const char *playbook = st->playbooks.items[i];
	char *cmd = playbook_command(st, playbook);
	int status, rc = cmd ? 0 : bk_oom();

	if (rc == 0) {
		bk_prov_log(st->ctx, "running %s", cmd);
		rc = run_remote(st, cmd, st->ctx->output, &status);
	}
	free(cmd);
	if (rc < 0)
		return rc;
	if (status == 127)
		return bk_prov_fail(st->ctx, BAKEAMI_EPROVISION, "%s could not be found (exit "
				    "status 127): is it on the instance's PATH?",
				    st->cfg->command ? st->cfg->command : DEFAULT_COMMAND);
	if (status != 0)
		return bk_prov_fail(st->ctx, BAKEAMI_EPROVISION, "playbook %zu of %zu (%s) exited "
				    "with status %d", i + 1, st->playbooks.count, base_name(playbook),
				    status);
	return 0;
}

static int staging_path(staged *st)
{
	char uuid[37];

	if (st->cfg->staging_directory && *st->cfg->staging_directory) {
		st->staging = bk_strdup(st->cfg->staging_directory);
	} else {
		bk_uuid4(uuid);
		st->staging = bk_sprintf("%s/%s", STAGING_BASE, uuid);
	}
	return st->staging ? 0 : bk_oom();
}

/* After a success, as Packer: a failure to remove fails the provisioner.
 * After a failure (rc < 0), best effort: rc and its message are what is
 * reported. A cancel leaves it to the instance's termination. */
static int remove_staging(staged *st, int rc)
{
	char *saved = rc < 0 ? bk_strdup(bk_err_msg()) : NULL;
	int rm;

	if (bk_cancelled(st->ctx->cancel) || !bk_ssh_connected(st->ctx->ssh)) {
		free(saved);
		return rc;
	}
	bk_prov_log(st->ctx, "removing %s", st->staging);
	rm = dir_cmd(st, "rm -rf", st->staging);
	if (rc < 0)
		bk_err(rc, "%s", saved ? saved : "provisioner failed");
	free(saved);
	return rc < 0 ? rc : rm;
}

int bk_prov_ansible_local(const bk_prov_run *r)
{
	staged st = {r, r->ctx, &r->ctx->prov->u.ansible_local, NULL, NULL, BK_STRV_INIT};
	int rc = staging_path(&st);

	rc = rc ? rc : stage_playbooks(&st);
	rc = rc ? rc : stage_rest(&st);
	rc = rc || !st.cfg->galaxy_file ? rc : galaxy(&st);
	for (size_t i = 0; rc == 0 && i < st.playbooks.count; i++)
		rc = run_playbook(&st, i);
	if (st.staging && (rc < 0 || st.cfg->clean_staging_directory))
		rc = remove_staging(&st, rc);
	free(st.staging);
	free(st.inventory);
	bk_strv_free(&st.playbooks);
	return rc;
}
