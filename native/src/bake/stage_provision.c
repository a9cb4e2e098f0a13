/* stage_provision.c - PROVISION: each provisioner in order, output live;
 * then our temporary key is removed so it never stays in the image. */
#include <stdlib.h>
#include <string.h>

#include "../provision/provision.h"
#include "bake.h"

static int build_env(bk_kv *env, const bakeami_bake *b)
{
	int rc;

	if ((rc = bk_kv_add(env, "PACKER_BUILD_NAME", b->cfg->build_name)) < 0 ||
	    (rc = bk_kv_add(env, "PACKER_BUILDER_TYPE", b->cfg->builder_type)) < 0 ||
	    (rc = bk_kv_add(env, "PACKER_RUN_UUID", b->run_id)) < 0)
		return rc;
	return bk_kv_add(env, "BAKEAMI_RUN_ID", b->run_id);
}

static int run_one(bakeami_bake *b, const bk_provisioner *p, const bk_kv *env)
{
	bk_provision_ctx ctx = {0};
	double t = bk_now();
	int rc;

	ctx.ssh = b->ssh;
	ctx.prov = p;
	ctx.cfg = b->cfg;
	ctx.cancel = &b->work_cancel;
	ctx.output = bk_output_line;
	ctx.output_payload = b;
	ctx.log = bk_bake_logger(b);
	ctx.env = env;
	bk_step(b, "%s (%s)", p->path, p->type_name);
	if ((rc = bk_provision_run(&ctx)) == 0)
		bk_step(b, "%s (%s) finished in %.1fs", p->path, p->type_name, bk_now() - t);
	return rc;
}

/* The public key's base64 body identifies our line in authorized_keys. */
static int clear_authorized_key(bakeami_bake *b)
{
	const char *line = bk_ssh_key_public_line(b->key), *body = strchr(line, ' ');
	char *blob, *cmd;
	int status = -1, rc;

	if (!body || !(blob = bk_strndup(body + 1, strcspn(body + 1, " "))))
		return bk_oom();
	cmd = bk_sprintf("for f in \"$HOME/.ssh/authorized_keys\" /root/.ssh/authorized_keys; do "
			 "if [ -w \"$f\" ]; then sed -i '\\#%s#d' \"$f\"; "
			 "elif sudo -n test -f \"$f\" 2>/dev/null; then sudo -n sed -i '\\#%s#d' \"$f\"; fi; "
			 "done", blob, blob);
	free(blob);
	if (!cmd)
		return bk_oom();
	rc = bk_ssh_exec(&status, b->ssh, cmd, 60, bk_output_line, b);
	free(cmd);
	if (rc == 0 && status != 0)
		rc = bk_err(BAKEAMI_EPROVISION, "removing the temporary key from authorized_keys exited with status %d", status);
	if (rc == 0)
		bk_step(b, "temporary key removed from authorized_keys");
	return rc;
}

int bk_stage_provision(bakeami_bake *b)
{
	bk_kv env = BK_KV_INIT;
	int rc = build_env(&env, b);

	for (size_t i = 0; rc == 0 && i < b->cfg->provisioners_count; i++)
		rc = run_one(b, &b->cfg->provisioners[i], &env);
	bk_kv_free(&env);
	if (rc == 0 && b->key_name && b->cfg->ssh_clear_authorized_keys)
		rc = clear_authorized_key(b);
	return rc;
}
