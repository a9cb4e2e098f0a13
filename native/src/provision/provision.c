/*
 * provision.c - runs one provisioner with Packer's meta options:
 * pause_before (a cancel-aware sleep), timeout (a deadline for each try)
 * and max_retries (the whole provisioner again, after a backoff).
 */
#include "provision_internal.h"

#define RETRY_FIRST_S 2.0
#define RETRY_MAX_S 30.0
#define START_RETRY_DEFAULT_S 300.0  /* Packer's start_retry_timeout */

static bool supported(bk_prov_type t)
{
	return t == BK_PROV_SHELL || t == BK_PROV_FILE || t == BK_PROV_SHELL_LOCAL;
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

static int run_once(const bk_provision_ctx *ctx)
{
	bk_prov_run r = {ctx, 0};
	int rc;

	if (ctx->prov->timeout_s > 0)
		r.deadline = bk_now() + ctx->prov->timeout_s;
	if (ctx->prov->type == BK_PROV_SHELL_LOCAL)
		return bk_prov_shell_local(&r);
	/* An earlier provisioner may have rebooted the instance. */
	rc = bk_prov_ensure_connected(ctx, bk_prov_duration(ctx->prov->cfg, "start_retry_timeout",
							     START_RETRY_DEFAULT_S));
	if (rc < 0)
		return rc;
	return ctx->prov->type == BK_PROV_SHELL ? bk_prov_shell(&r) : bk_prov_file(&r);
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
	int tries, rc;

	if (!ctx || !ctx->prov || !ctx->prov->cfg)
		return bk_err(BAKEAMI_EINVALID, "provisioner: no configuration");
	if (!supported(ctx->prov->type))
		return bk_err(BAKEAMI_EINVALID, "%s: type %s is not supported yet",
			      ctx->prov->path ? ctx->prov->path : "provisioner",
			      ctx->prov->type_name ? ctx->prov->type_name : "?");
	if ((rc = pause_before(ctx)) < 0)
		return rc;
	tries = 1 + (ctx->prov->max_retries > 0 ? ctx->prov->max_retries : 0);
	bk_poller_start(&wait, &(bk_poll_opts){0, RETRY_FIRST_S, RETRY_MAX_S, 2, ctx->cancel,
						NULL});
	for (int attempt = 1;; attempt++) {
		if (bk_cancelled(ctx->cancel))
			return bk_prov_fail(ctx, BAKEAMI_ECANCELLED, "cancelled");
		rc = run_once(ctx);
		if (rc == 0 || !retryable(rc) || attempt >= tries)
			return rc;
		if ((rc = backoff(ctx, &wait, attempt, tries)) < 0)
			return rc;
	}
}
