/*
 * provision.c - runs one provisioner with Packer's meta options:
 * pause_before (a cancel-aware sleep), timeout (a deadline for each try)
 * and max_retries (the whole provisioner again, after a backoff).
 */
#include "provision_internal.h"

#define RETRY_FIRST_S 2.0
#define RETRY_MAX_S 30.0
#define START_RETRY_DEFAULT_S 300.0  /* Packer's start_retry_timeout */

/* What this build runs: a new provisioner is a row here (and its key
 * table in template/provisioners.c). remote: it needs the SSH session. */
static const struct {
	bk_prov_type type;
	int (*run)(const bk_prov_run *r);
	bool remote;
} runners[] = {
	{BK_PROV_SHELL, bk_prov_shell, true},
	{BK_PROV_FILE, bk_prov_file, true},
	{BK_PROV_SHELL_LOCAL, bk_prov_shell_local, false},
	{BK_PROV_PUPPET_MASTERLESS, bk_prov_puppet_masterless, true},
	{BK_PROV_PUPPET_SERVER, bk_prov_puppet_server, true},
	{BK_PROV_ANSIBLE_LOCAL, bk_prov_ansible_local, true},
	/* remote: it needs the session's host key, and a reconnect after a reboot */
	{BK_PROV_ANSIBLE, bk_prov_ansible, true},
};

static int runner_of(bk_prov_type t)
{
	for (size_t i = 0; i < BK_ARRAY_SIZE(runners); i++)
		if (runners[i].type == t)
			return (int)i;
	return -1;
}

bool bk_provision_supported(bk_prov_type type)
{
	return runner_of(type) >= 0;
}

static double start_retry_s(const bk_provisioner *p)
{
	return p->type == BK_PROV_SHELL ? p->u.shell.start_retry_timeout_s
					: START_RETRY_DEFAULT_S;
}

/* Worth another try? Bad input and a cancel are not. */
static bool retryable(int rc)
{
	return rc != BAKEAMI_EINVALID && rc != BAKEAMI_ECANCELLED && rc != BAKEAMI_ENOMEM;
}

static int pause_before(const bk_provision_ctx *ctx)
{
	double s = ctx->prov->pause_before_s;

	if (s <= 0)
		return 0;
	bk_prov_log(ctx, "pausing %gs before %s (%s)", s, ctx->prov->path, ctx->prov->type_name);
	if (bk_sleep_ms(ctx->cancel, (long)(s * 1000)) < 0)
		return bk_prov_fail(ctx, BAKEAMI_ECANCELLED, "cancelled during pause_before");
	return 0;
}

static int run_once(const bk_provision_ctx *ctx, int k)
{
	bk_prov_run r = {ctx, 0};
	int rc;

	if (ctx->prov->timeout_s > 0)
		r.deadline = bk_now() + ctx->prov->timeout_s;
	/* An earlier provisioner may have rebooted the instance. */
	if (runners[k].remote &&
	    (rc = bk_prov_ensure_connected(ctx, start_retry_s(ctx->prov))) < 0)
		return rc;
	return runners[k].run(&r);
}

static int backoff(const bk_provision_ctx *ctx, bk_poller *wait, int attempt, int tries)
{
	bk_logf(&ctx->log, BK_LOG_WARN, "%s; retrying in %gs (try %d of %d)", bk_err_msg(),
		bk_poller_next(wait), attempt + 1, tries);
	if (bk_poller_wait(wait) < 0)
		return bk_prov_fail(ctx, BAKEAMI_ECANCELLED, "cancelled while waiting to retry");
	return 0;
}

int bk_provision_run(const bk_provision_ctx *ctx)
{
	bk_poller wait;
	int tries, rc, k;

	if (!ctx || !ctx->prov)
		return bk_err(BAKEAMI_EINVALID, "provisioner: no configuration");
	/* Validation refused it already; a caller that skipped it still learns why. */
	if ((k = runner_of(ctx->prov->type)) < 0)
		return bk_err(BAKEAMI_EINVALID, "%s: type %s is not supported yet",
			      ctx->prov->path ? ctx->prov->path : "provisioner",
			      ctx->prov->type_name ? ctx->prov->type_name : "?");
	if ((rc = pause_before(ctx)) < 0)
		return rc;
	tries = 1 + (ctx->prov->max_retries > 0 ? ctx->prov->max_retries : 0);
	bk_poller_start(&wait, &(bk_poll_opts){0, RETRY_FIRST_S, RETRY_MAX_S, 2, ctx->cancel,
						NULL, 0});
	for (int attempt = 1;; attempt++) {
		if (bk_cancelled(ctx->cancel))
			return bk_prov_fail(ctx, BAKEAMI_ECANCELLED, "cancelled");
		rc = run_once(ctx, k);
		if (rc == 0 || !retryable(rc) || attempt >= tries)
			return rc;
		if ((rc = backoff(ctx, &wait, attempt, tries)) < 0)
			return rc;
	}
}
