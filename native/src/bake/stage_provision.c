/* stage_provision.c - PROVISION: each provisioner in order, output live
 * and kept in its log file (<log_dir>/<run-id>/NN-<type>.log); then our
 * temporary key is removed so it never stays in the image. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include "../provision/provision.h"
#include "bake.h"

int bk_provision_env(bk_kv *env, const bakeami_bake *b)
{
	int rc;

	if ((rc = bk_kv_add(env, "PACKER_BUILD_NAME", b->cfg->build_name)) < 0 ||
	    (rc = bk_kv_add(env, "PACKER_BUILDER_TYPE", b->cfg->builder_type)) < 0 ||
	    (rc = bk_kv_add(env, "PACKER_RUN_UUID", b->run_id)) < 0)
		return rc;
	return bk_kv_add(env, "BAKEAMI_RUN_ID", b->run_id);
}

/* ---- the logs: what each provisioner printed, masked as the console -- */

const char *bk_log_dir(const bakeami_bake *b)
{
	return b->opts.log_dir && *b->opts.log_dir ? b->opts.log_dir : BK_LOG_DIR_DEFAULT;
}

/* The run's folder, private (0700): provisioner output can hold what
 * masking does not know is a secret. */
static int make_logs_dir(bakeami_bake *b)
{
	char *dir;
	int rc;

	if (!(dir = bk_sprintf("%s/%s", bk_log_dir(b), b->run_id)))
		return bk_oom();
	if ((rc = bk_mkdirs(bk_log_dir(b), 0700)) == 0 && mkdir(dir, 0700) < 0)
		rc = bk_err(BAKEAMI_EIO, "provisioning logs: mkdir %s: %s", dir, strerror(errno));
	if (rc == 0 && chmod(dir, 0700) < 0)   /* whatever the umask */
		rc = bk_err(BAKEAMI_EIO, "provisioning logs: chmod %s: %s", dir, strerror(errno));
	if (rc < 0) {
		free(dir);
		return rc;
	}
	b->logs_dir = dir;
	bk_step(b, "provisioning logs in %s", dir);
	return 0;
}

/* NN-<type>.log, 0600, new: every event of the provisioner goes there. */
static int open_log(bakeami_bake *b, size_t index, const bk_provisioner *p)
{
	char *path = bk_sprintf("%s/%02zu-%s.log", b->logs_dir, index, p->type_name);
	int fd = -1, rc = 0;
	FILE *f = NULL;

	if (!path)
		return bk_oom();
	if ((fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600)) < 0 ||
	    fchmod(fd, 0600) < 0 || !(f = fdopen(fd, "w")))
		rc = bk_err(BAKEAMI_EIO, "provisioning log %s: %s", path, strerror(errno));
	if (rc < 0 && fd >= 0)
		close(fd);
	free(path);
	if (rc == 0)
		bk_log_file_set(b, f);
	return rc;
}

/* A failed provisioner's log ends with why it failed, as the console will. */
static void close_log(bakeami_bake *b, int rc)
{
	if (rc < 0) {
		char *why = bk_sprintf("ERROR: %s", bk_err_msg());
		bk_log_file_note(b, why ? why : "ERROR");
		free(why);
	}
	bk_log_file_set(b, NULL);
}

static int run_one(bakeami_bake *b, size_t index, const bk_provisioner *p, const bk_kv *env,
		   bk_strv *remove_later)
{
	bk_provision_ctx ctx = {0};
	double t = bk_now();
	int rc;

	if ((rc = open_log(b, index, p)) < 0)
		return rc;

	ctx.ssh = b->ssh;
	ctx.prov = p;
	ctx.cfg = b->cfg;
	ctx.cancel = &b->work_cancel;
	ctx.output = bk_output_line;
	ctx.output_payload = b;
	ctx.log = bk_bake_logger(b);
	ctx.env = env;
	bk_reach(b, b->ssh_host, &ctx.host, &ctx.port);
	ctx.user = b->cfg->ssh_username;
	ctx.private_key_pem = b->key ? bk_ssh_key_private_pem(b->key) : NULL;
	ctx.agent_auth = b->cfg->ssh_agent_auth;
	ctx.remove_later = remove_later;
	bk_step(b, "%s (%s)", p->path, p->type_name);
	if ((rc = bk_provision_run(&ctx)) == 0)
		bk_step(b, "%s (%s) finished in %.1fs", p->path, p->type_name, bk_now() - t);
	close_log(b, rc);
	return rc;
}

/* The exit status of the key's removal when files we cannot write were
 * left unchecked: no sed (it exits 1 or 4) nor rm gives it. */
#define KEY_UNCHECKED 10

/* The command that takes our key's line out of authorized_keys, the public
 * key's base64 body naming the line: the files we may write directly, the
 * rest in one sudo (each sudo costs a PAM session). A sed that fails there
 * exits 3, which sudo's own refusal (1) never is; a refusal names the files
 * it left and exits KEY_UNCHECKED. */
static int clear_key_command(char **out, const bakeami_bake *b)
{
	const char *line = bk_ssh_key_public_line(b->key), *body = strchr(line, ' ');
	char *blob;

	if (!body || !(blob = bk_strndup(body + 1, strcspn(body + 1, " "))))
		return bk_oom();
	*out = bk_sprintf("{ k='\\#%s#d'; set --; for f in \"$HOME/.ssh/authorized_keys\" /root/.ssh/authorized_keys; do "
			  "if [ -w \"$f\" ]; then sed -i \"$k\" \"$f\" || exit; else set -- \"$@\" \"$f\"; fi; "
			  "done; [ $# -eq 0 ] || { sudo -n sh -c 'k=$1; shift; for f; do if [ -f \"$f\" ]; then "
			  "sed -i \"$k\" \"$f\" 2>&1 || exit 3; fi; done' sh \"$k\" \"$@\" 2>/dev/null; "
			  "s=$?; [ $s -ne 3 ] || exit 3; [ $s -eq 0 ] || { echo \"not checked, no passwordless "
			  "sudo: $*\"; exit %d; }; }; }", blob, KEY_UNCHECKED);
	free(blob);
	return *out ? 0 : bk_oom();
}

/* One command for what provisioning leaves to undo on the instance: the
 * scripts' files, then (after success) our key. A failed bake's instance
 * is terminated, but its scripts may hold secrets: they go too. */
static int tidy_instance(bakeami_bake *b, const bk_strv *files, bool clear_key)
{
	char *rm = NULL, *key = NULL, *cmd = NULL;
	int status = -1, rc = bk_provision_rm_command(&rm, files);
	bool unchecked;

	rc = rc || !clear_key ? rc : clear_key_command(&key, b);
	if (rc == 0 && !(cmd = bk_sprintf("%s%s%s", rm, *rm && key ? " && " : "", key ? key : "")))
		rc = bk_oom();
	if (rc == 0 && *cmd)
		rc = bk_ssh_exec(&status, b->ssh, cmd, 60, bk_output_line, b);
	unchecked = rc == 0 && key && status == KEY_UNCHECKED;
	if (rc == 0 && *cmd && status != 0 && !unchecked)
		rc = bk_err(BAKEAMI_EPROVISION, "%s exited with status %d", key ? "removing the "
			    "scripts and the temporary key from authorized_keys" : "removing the "
			    "provisioners' scripts", status);
	if (unchecked)
		bk_warn(b, "temporary key removed from the authorized_keys files %s can write; the "
			"others, named above, were not checked (no passwordless sudo) and may keep it",
			b->cfg->ssh_username);
	else if (rc == 0 && key)
		bk_step(b, "temporary key removed from authorized_keys");
	free(rm);
	free(key);
	free(cmd);
	return rc;
}

/* After success there is always something to tidy (the key, maybe);
 * after a failure, only scripts left on an instance we can still reach
 * (they may hold secrets; the instance itself is terminated). */
static bool should_tidy(const bakeami_bake *b, int rc, const bk_strv *files)
{
	return rc == 0 || (files->count && bk_ssh_connected(b->ssh));
}

int bk_stage_provision(bakeami_bake *b)
{
	bk_kv env = BK_KV_INIT;
	bk_strv files = BK_STRV_INIT;
	int rc = bk_provision_env(&env, b), tidy;

	if (rc == 0 && b->cfg->provisioners_count)
		rc = make_logs_dir(b);
	/* ssh_pty: the provisioners' commands and the tidy (its sudo too) */
	bk_ssh_set_pty(b->ssh, b->cfg->ssh_pty);
	for (size_t i = 0; rc == 0 && i < b->cfg->provisioners_count; i++)
		rc = run_one(b, i, &b->cfg->provisioners[i], &env, &files);
	bk_kv_free(&env);
	if (should_tidy(b, rc, &files)) {
		tidy = tidy_instance(b, &files, rc == 0 && b->key_name &&
				     b->cfg->ssh_clear_authorized_keys);
		rc = rc ? rc : tidy;
	}
	bk_ssh_set_pty(b->ssh, false);
	bk_strv_free(&files);
	return rc;
}

/* Packer's error-cleanup-provisioner: after a provisioner or the tests
 * failed, on the instance still connected; not after a cancel, nor with
 * -on-error=abort (on_error_abort 1). Its own failure is a warning: the
 * run's error stays the one that made it fail. */
void bk_provision_error_cleanup(bakeami_bake *b)
{
	const bk_provisioner *p = b->cfg ? b->cfg->error_cleanup : NULL;   /* promotions: none */
	bk_kv env = BK_KV_INIT;
	bk_strv files = BK_STRV_INIT;
	int rc;

	if (!p || b->opts.on_error_abort == 1 || b->rc == BAKEAMI_ECANCELLED ||
	    (b->failed_state != BK_PROVISION && b->failed_state != BK_TEST) ||
	    !bk_ssh_connected(b->ssh))
		return;
	bk_step(b, "provisioning step had errors: running the error-cleanup-provisioner");
	rc = bk_provision_env(&env, b);
	if (rc == 0 && !b->logs_dir)
		rc = make_logs_dir(b);
	bk_ssh_set_pty(b->ssh, b->cfg->ssh_pty);
	if (rc == 0)
		rc = run_one(b, b->cfg->provisioners_count, p, &env, &files);
	if (files.count && bk_ssh_connected(b->ssh)) {
		int tidy = tidy_instance(b, &files, false);
		rc = rc ? rc : tidy;
	}
	bk_ssh_set_pty(b->ssh, false);
	if (rc < 0)
		bk_warn(b, "error-cleanup-provisioner failed: %s", bk_err_msg());
	bk_kv_free(&env);
	bk_strv_free(&files);
}
