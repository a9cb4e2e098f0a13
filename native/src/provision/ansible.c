/*
 * ansible.c - Packer's "ansible" provisioner: ansible-playbook run on the
 * agent against the instance, streaming its output live (bk_spawn_run,
 * so a cancel or timeout stops its whole process group).
 *
 * It connects directly, never through Packer's proxy: the bake's host,
 * port and user, the bake's temporary key in a 0600 file, and the host
 * key the bake already trusted in a known_hosts file with
 * StrictHostKeyChecking=yes. Those files (and the inventory we write)
 * live in a private 0700 temp folder, removed on every way out.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmdtmpl.h"
#include "provision_internal.h"

extern char **environ;

#define DEFAULT_INVENTORY_LINE \
	"{{ .HostAlias }} ansible_host={{ .Host }} ansible_user={{ .User }} ansible_port={{ .Port }}\n"

typedef struct {
	const bk_prov_run *r;
	const bk_provision_ctx *ctx;
	const bk_prov_ansible_cfg *cfg;
	bk_tmpdir tmp;
	char *key, *known_hosts, *inventory;
	bool remove_inventory;       /* ours, outside tmp (inventory_directory) */
	bk_strv argv, envp;
} run;

static const char *user_of(const run *a)
{
	return a->cfg->user && *a->cfg->user ? a->cfg->user : a->ctx->user ? a->ctx->user : "";
}

static int port_of(const run *a)
{
	return a->ctx->port > 0 ? a->ctx->port : 22;
}

/* ---- files on the agent ---------------------------------------------- */

/* "[host]:port type key" (plain "host" on 22), as ssh looks it up. */
static int write_known_hosts(run *a)
{
	const char *line = bk_ssh_host_key_line(a->ctx->ssh);
	char *text;
	int rc;

	if (!line)
		return bk_prov_fail(a->ctx, BAKEAMI_ESSH, "the bake has no host key of the instance "
				    "that ssh could check (its type has no OpenSSH name)");
	text = port_of(a) == 22 ? bk_sprintf("%s %s\n", a->ctx->host, line)
				: bk_sprintf("[%s]:%d %s\n", a->ctx->host, port_of(a), line);
	if (!text || !(a->known_hosts = bk_tmpdir_file(&a->tmp, "known_hosts"))) {
		free(text);
		return bk_oom();
	}
	rc = bk_file_write(a->known_hosts, text, strlen(text), 0600);
	free(text);
	return rc;
}

/* inventory_file_template through Packer's Go-template forms (cmdtmpl.h):
 * {{ .HostAlias }} {{ .Host }} {{ .User }} {{ .Port }}. */
static int render_host_line(const run *a, bk_buf *out, const char *tmpl)
{
	char port[16], what[96];
	const char *alias = a->cfg->host_alias && *a->cfg->host_alias ? a->cfg->host_alias
								       : "default";
	char *line = NULL;
	int rc;

	snprintf(port, sizeof(port), "%d", port_of(a));
	snprintf(what, sizeof(what), "%s.inventory_file_template", a->ctx->prov->path);
	const bk_cmd_field fields[] = {{"HostAlias", alias, false}, {"Host", a->ctx->host, false},
				       {"User", user_of(a), false}, {"Port", port, false}};
	if ((rc = bk_cmd_render(&line, tmpl, fields, BK_ARRAY_SIZE(fields), what)) < 0)
		return bk_prov_wrap(a->ctx, rc);
	rc = bk_buf_puts(out, line);
	free(line);
	return rc;
}

/* The host line, then each group holding it, then the empty groups, as
 * Packer writes them. */
static int inventory_text(const run *a, bk_buf *text)
{
	const char *tmpl = a->cfg->inventory_file_template;
	bk_buf host = BK_BUF_INIT;
	int rc = render_host_line(a, &host, tmpl && *tmpl ? tmpl : DEFAULT_INVENTORY_LINE);

	rc = rc ? rc : bk_buf_puts(text, host.ptr);
	for (size_t i = 0; rc == 0 && i < a->cfg->groups.count; i++)
		rc = bk_buf_printf(text, "[%s]\n%s", a->cfg->groups.items[i], host.ptr);
	for (size_t i = 0; rc == 0 && i < a->cfg->empty_groups.count; i++)
		rc = bk_buf_printf(text, "[%s]\n", a->cfg->empty_groups.items[i]);
	bk_buf_free(&host);
	return rc;
}

/* In inventory_directory (for its group_vars and host_vars), else with the
 * key in our folder; kept afterwards only with keep_inventory_file. */
static int write_inventory(run *a)
{
	const char *dir = a->cfg->inventory_directory;
	bk_buf text = BK_BUF_INIT;
	char hex[9];
	int rc;

	if (a->cfg->inventory_file)
		return (a->inventory = bk_strdup(a->cfg->inventory_file)) ? 0 : bk_oom();
	rc = bk_random_hex(hex, 4);
	rc = rc ? rc : inventory_text(a, &text);
	if (rc == 0) {
		a->inventory = dir ? bk_sprintf("%s/packer-provisioner-ansible%s", dir, hex)
				   : bk_tmpdir_file(&a->tmp, "inventory");
		rc = a->inventory ? bk_file_write(a->inventory, text.ptr, text.len, 0600) : bk_oom();
		a->remove_inventory = rc == 0 && dir && !a->cfg->keep_inventory_file;
	}
	if (rc == 0 && a->cfg->keep_inventory_file && !dir)
		bk_prov_log(a->ctx, "keep_inventory_file: the inventory is in the private temp "
			    "folder, which is removed; set inventory_directory to keep it");
	bk_buf_free(&text);
	return rc;
}

/* ---- the command and its environment --------------------------------- */

static int push_all(bk_strv *v, const bk_strv *items)
{
	int rc = 0;

	for (size_t i = 0; rc == 0 && i < items->count; i++)
		rc = bk_strv_push(v, items->items[i]);
	return rc;
}

static int push_kv(bk_strv *v, const char *fmt, const char *a, const char *b)
{
	char *s = bk_sprintf(fmt, a, b);
	int rc = s ? bk_strv_push(v, s) : bk_oom();

	free(s);
	return rc;
}

static const char *env_of(const bk_provision_ctx *ctx, const char *key)
{
	const char *v = ctx->env ? bk_kv_get(ctx->env, key) : NULL;

	return v ? v : "";
}

/* Packer's order: -e packer_build_name="…" -e packer_builder_type=… (no
 * packer_http_addr: amazon builders have no HTTP server), --ssh-extra-args,
 * extra_arguments, -e ansible_ssh_private_key_file=…, -i inventory, playbook. */
static int build_argv(run *a)
{
	const bk_prov_ansible_cfg *c = a->cfg;
	bk_buf extra = BK_BUF_INIT;
	int rc = bk_strv_push(&a->argv, c->command && *c->command ? c->command : "ansible-playbook");

	rc = rc ? rc : bk_strv_push(&a->argv, "-e");
	rc = rc ? rc : push_kv(&a->argv, "packer_build_name=\"%s\"%s",
			       env_of(a->ctx, "PACKER_BUILD_NAME"), "");
	rc = rc ? rc : bk_strv_push(&a->argv, "-e");
	rc = rc ? rc : push_kv(&a->argv, "packer_builder_type=%s%s",
			       env_of(a->ctx, "PACKER_BUILDER_TYPE"), "");
	for (size_t i = 0; rc == 0 && i < c->ansible_ssh_extra_args.count; i++)
		rc = bk_buf_puts(&extra, c->ansible_ssh_extra_args.items[i]);
	rc = rc ? rc : bk_strv_push(&a->argv, "--ssh-extra-args");
	/* with the agent's keys there is no identity file to keep ssh to */
	rc = rc ? rc : push_kv(&a->argv, "'%s'%s", extra.len ? extra.ptr : a->key ?
			       "-o IdentitiesOnly=yes" : "-o IdentitiesOnly=no", "");
	rc = rc ? rc : push_all(&a->argv, &c->extra_arguments);
	if (a->key) {
		rc = rc ? rc : bk_strv_push(&a->argv, "-e");
		rc = rc ? rc : push_kv(&a->argv, "ansible_ssh_private_key_file=%s%s", a->key, "");
	}
	rc = rc ? rc : bk_strv_push(&a->argv, "-i");
	rc = rc ? rc : bk_strv_push(&a->argv, a->inventory);
	rc = rc ? rc : bk_strv_push(&a->argv, c->playbook_file);
	bk_buf_free(&extra);
	return rc;
}

static const char *value_in(const bk_strv *vars, const char *name)
{
	size_t n = strlen(name);
	const char *found = NULL;

	for (size_t i = 0; i < vars->count; i++)
		if (!strncmp(vars->items[i], name, n) && vars->items[i][n] == '=')
			found = vars->items[i] + n + 1;   /* the last one wins */
	return found;
}

/* Our ssh options come first in ANSIBLE_SSH_ARGS: ssh keeps the first
 * value of an option, so no later -o (ansible's own
 * StrictHostKeyChecking=no when host_key_checking is off, a user's
 * --ssh-extra-args) can turn the check off. No ControlPersist: a master
 * connection outliving the run would outlive the key file too. */
static int ssh_args(run *a, char **out)
{
	const char *theirs = value_in(&a->cfg->ansible_env_vars, "ANSIBLE_SSH_ARGS");

	*out = bk_sprintf("ANSIBLE_SSH_ARGS=-o StrictHostKeyChecking=yes -o UserKnownHostsFile=%s "
			  "-o GlobalKnownHostsFile=/dev/null -o UpdateHostKeys=no "
			  "-o ControlMaster=no -o ControlPersist=no%s%s", a->known_hosts,
			  theirs ? " " : "", theirs ? theirs : "");
	return *out ? 0 : bk_oom();
}

static bool ours(const char *entry)
{
	static const char *const names[] = {"ANSIBLE_SSH_ARGS=", "ANSIBLE_HOST_KEY_CHECKING=",
					    "ANSIBLE_LOCAL_TEMP="};

	for (size_t i = 0; i < BK_ARRAY_SIZE(names); i++)
		if (bk_str_starts(entry, names[i]))
			return true;
	return false;
}

/* This process's environment, then ansible_env_vars (later wins, as
 * Packer appends them), then ours. Ansible's local temp files go in our
 * folder, so nothing of the run stays in ~/.ansible/tmp. */
static int build_envp(run *a)
{
	const bk_strv *vars = &a->cfg->ansible_env_vars;
	char *args = NULL, *local_tmp = bk_tmpdir_file(&a->tmp, "local");
	int rc = local_tmp ? 0 : bk_oom();

	if (value_in(vars, "ANSIBLE_HOST_KEY_CHECKING"))
		bk_logf(&a->ctx->log, BK_LOG_WARN, "%s (ansible): ansible_env_vars: "
			"ANSIBLE_HOST_KEY_CHECKING is ignored: the host key is always checked "
			"against the one the bake trusted", a->ctx->prov->path);
	for (char **e = environ; rc == 0 && e && *e; e++)
		if (!ours(*e))
			rc = bk_strv_push(&a->envp, *e);
	for (size_t i = 0; rc == 0 && i < vars->count; i++)
		if (!ours(vars->items[i]))
			rc = bk_strv_push(&a->envp, vars->items[i]);
	rc = rc ? rc : ssh_args(a, &args);
	rc = rc ? rc : bk_strv_push(&a->envp, args);
	rc = rc ? rc : bk_strv_push(&a->envp, "ANSIBLE_HOST_KEY_CHECKING=True");
	rc = rc ? rc : push_kv(&a->envp, "ANSIBLE_LOCAL_TEMP=%s%s", local_tmp, "");
	free(args);
	free(local_tmp);
	return rc;
}

/* ---- running --------------------------------------------------------- */

static int spawn(run *a, const bk_strv *argv, const char *what)
{
	bk_spawn_opts o = {argv->items[0], argv->items, a->envp.items, NULL, a->ctx->cancel, 0,
			   a->ctx->output, a->ctx->output_payload};
	int status = -1, rc;

	if ((rc = bk_prov_time_left(a->r, &o.timeout_s)) < 0)
		return rc;
	rc = bk_spawn_run(&status, &o);
	if (rc == BAKEAMI_ECANCELLED)
		return bk_prov_fail(a->ctx, rc, "cancelled");
	if (rc == BAKEAMI_ETIMEOUT)
		return bk_prov_fail(a->ctx, rc, "timed out after %gs", a->ctx->prov->timeout_s);
	if (rc < 0)
		return bk_prov_fail(a->ctx, rc, "%s: %s", what, bk_err_msg());
	if (status != 0)
		return bk_prov_fail(a->ctx, BAKEAMI_EPROVISION, "%s exited with status %d", what,
				    status);
	return 0;
}

/* ansible-galaxy install -r file [-f] [-p roles_path], then its
 * collections when the file has a collections: section, as Packer. */
static int galaxy(run *a)
{
	const bk_prov_ansible_cfg *c = a->cfg;
	const char *cmd = c->galaxy_command && *c->galaxy_command ? c->galaxy_command
								  : "ansible-galaxy";
	char *text = NULL;
	bool roles, collections;
	int rc = bk_file_read(&text, NULL, c->galaxy_file);

	if (rc < 0)
		return bk_prov_fail(a->ctx, BAKEAMI_EINVALID, "galaxy_file: %s", bk_err_msg());
	collections = bk_str_starts(text, "collections:") || strstr(text, "\ncollections:");
	roles = bk_str_starts(text, "roles:") || strstr(text, "\nroles:") || !collections;
	free(text);
	for (int pass = 0; rc == 0 && pass < 2; pass++) {
		const char *path = pass ? c->collections_path : c->roles_path;
		bk_strv argv = BK_STRV_INIT;
		if (!(pass ? collections : roles))
			continue;
		rc = bk_strv_push(&argv, cmd);
		rc = rc || !pass ? rc : bk_strv_push(&argv, "collection");
		rc = rc ? rc : bk_strv_push(&argv, "install");
		rc = rc ? rc : bk_strv_push(&argv, "-r");
		rc = rc ? rc : bk_strv_push(&argv, c->galaxy_file);
		rc = rc || !c->galaxy_force_install ? rc : bk_strv_push(&argv, "-f");
		rc = rc || !path ? rc : bk_strv_push(&argv, "-p");
		rc = rc || !path ? rc : bk_strv_push(&argv, path);
		if (rc == 0) {
			bk_prov_log(a->ctx, "running %s %sinstall -r %s", cmd, pass ? "collection " : "",
				    c->galaxy_file);
			rc = spawn(a, &argv, cmd);
		}
		bk_strv_free(&argv);
	}
	return rc;
}

/* Ansible finds roles in roles_path too (Packer only hands it to galaxy;
 * a playbook using those roles needs ANSIBLE_ROLES_PATH or this). */
static int roles_env(run *a)
{
	const char *path = a->cfg->roles_path;

	if (!path || value_in(&a->cfg->ansible_env_vars, "ANSIBLE_ROLES_PATH"))
		return 0;
	return push_kv(&a->envp, "ANSIBLE_ROLES_PATH=%s%s", path, "");
}

static int prepare(run *a)
{
	int rc = bk_tmpdir_make(&a->tmp, "bakeami-ansible");

	bool pem = a->ctx->private_key_pem && *a->ctx->private_key_pem;

	if (rc == 0 && !pem && !a->ctx->agent_auth)
		rc = bk_prov_fail(a->ctx, BAKEAMI_EINVALID, "needs the bake's private key");
	/* no key: ssh uses the agent at SSH_AUTH_SOCK, which ansible inherits */
	if (rc == 0 && pem)
		rc = bk_tmpdir_write_key(&a->key, &a->tmp, "key", a->ctx->private_key_pem);
	rc = rc ? rc : write_known_hosts(a);
	rc = rc ? rc : write_inventory(a);
	rc = rc ? rc : build_argv(a);
	rc = rc ? rc : build_envp(a);
	return rc ? rc : roles_env(a);
}

static void run_free(run *a)
{
	/* Every way out: the key, known_hosts and our inventory go. */
	bk_tmpdir_remove(&a->tmp);
	if (a->remove_inventory)
		unlink(a->inventory);
	free(a->key);
	free(a->known_hosts);
	free(a->inventory);
	bk_strv_free(&a->argv);
	bk_strv_free(&a->envp);
}

int bk_prov_ansible(const bk_prov_run *r)
{
	run a = {r, r->ctx, &r->ctx->prov->u.ansible, {""}, NULL, NULL, NULL, false,
		 BK_STRV_INIT, BK_STRV_INIT};
	int rc = prepare(&a);

	if (rc == 0 && a.cfg->galaxy_file)
		rc = galaxy(&a);
	if (rc == 0) {
		bk_prov_log(r->ctx, "running %s -i %s %s as %s@%s:%d", a.argv.items[0], a.inventory,
			    a.cfg->playbook_file, user_of(&a), r->ctx->host, port_of(&a));
		rc = spawn(&a, &a.argv, a.argv.items[0]);
	}
	run_free(&a);
	return rc;
}
