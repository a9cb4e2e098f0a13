/*
 * post_process.c - the template's post-processors (Packer's manifest and
 * shell-local), in template order, once the build's image exists: after
 * CLEANUP, as Packer runs them once the builder has returned. A failure
 * fails the run; the image stays, as in Packer.
 */
#include <stdlib.h>
#include <string.h>

#include "../provision/provision.h"
#include "bake.h"

static int write_manifest(bakeami_bake *b, const bk_post_processor *pp)
{
	const char *out = pp->manifest.output ? pp->manifest.output : BK_MANIFEST_DEFAULT;
	int rc;

	if (b->manifest_mu)   /* builds of one run append to one manifest */
		pthread_mutex_lock(b->manifest_mu);
	rc = bk_manifest_write(b, out, &pp->manifest);
	if (b->manifest_mu)
		pthread_mutex_unlock(b->manifest_mu);
	if (rc < 0)
		return bk_err_wrap(rc, "%s (manifest)", pp->path);
	bk_step(b, "%s (manifest): %s", pp->path, out);
	return 0;
}

/* The provisioners' environment, and what the image is: the artifact id
 * as Packer's manifest writes it, and the build region's AMI. */
static int post_env(bk_kv *env, const bakeami_bake *b)
{
	char *artifact = bk_artifact_id(b);
	int rc = artifact ? bk_provision_env(env, b) : bk_oom();

	if (rc == 0)
		rc = bk_kv_add(env, "BAKEAMI_ARTIFACT_ID", artifact);
	if (rc == 0)
		rc = bk_kv_add(env, "BAKEAMI_AMI_ID", bakeami_bake_ami(b, NULL) ? bakeami_bake_ami(b, NULL)
			       : "");
	free(artifact);
	return rc;
}

static int run_shell_local(bakeami_bake *b, const bk_post_processor *pp)
{
	bk_provision_ctx ctx = {0};
	bk_kv env = BK_KV_INIT;
	double t = bk_now();
	int rc = post_env(&env, b);

	ctx.prov = &pp->local;
	ctx.cfg = b->cfg;
	ctx.cancel = &b->work_cancel;
	ctx.output = bk_output_line;
	ctx.output_payload = b;
	ctx.log = bk_bake_logger(b);
	ctx.env = &env;
	bk_step(b, "%s (shell-local)", pp->path);
	if (rc == 0 && (rc = bk_provision_run(&ctx)) == 0)
		bk_step(b, "%s (shell-local) finished in %.1fs", pp->path, bk_now() - t);
	bk_kv_free(&env);
	return rc;
}

int bk_post_process(bakeami_bake *b)
{
	int rc = 0;

	for (size_t i = 0; rc == 0 && i < b->cfg->post_processors_count; i++) {
		const bk_post_processor *pp = &b->cfg->post_processors[i];
		rc = pp->is_manifest ? write_manifest(b, pp) : run_shell_local(b, pp);
	}
	return rc;
}
