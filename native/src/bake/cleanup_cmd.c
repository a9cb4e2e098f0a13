/*
 * cleanup_cmd.c - `bakeami cleanup`: finish the cleanup of a bake that
 * was killed, from its journal, by run id, or every stale bakeami resource.
 * Images are removed only on a journal's word: a tag alone cannot tell a
 * half-made image from a finished one.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bake.h"
#include "reap.h"

typedef struct {
	const bakeami_cleanup_options *opts;
	double t0;
} cleanup_log;

static void cleanup_emit(bk_log_level level, const char *msg, void *payload)
{
	cleanup_log *cl = payload;
	bakeami_event ev = {BAKEAMI_EVENT_VERSION, bk_event_kind_of(level), bk_now() - cl->t0,
			    "cleanup", msg, NULL, NULL, 0, NULL};
	char *line = NULL, *json = NULL;

	if (cl->opts->log_cb && level != BK_LOG_DEBUG &&
	    bk_event_render(&ev, NULL, &line, &json) == 0)
		cl->opts->log_cb(&ev, cl->opts->log_payload);
	free(line);
	free(json);
}

static bool is_stale(const bk_ec2_tagged *t, const bakeami_cleanup_options *o)
{
	struct tm tm = {0};
	double expires, now = bk_wall();

	if (!t->expires || !strptime(t->expires, "%Y-%m-%dT%H:%M:%SZ", &tm))
		return false;
	expires = (double)timegm(&tm);
	/* Last renewed = expires - the default lease: a dead run's stays put. */
	if (o->older_than_seconds > 0)
		return expires - BK_LEASE_S < now - (double)o->older_than_seconds;
	return expires < now;
}

/* The kinds found by tag, in the table's order (instances, then groups,
 * then key pairs: the reverse of creation). */
static int reap_tagged(bk_reaper *r, const char *run_id, const bakeami_cleanup_options *o)
{
	size_t nkinds;
	const bk_kind *kinds = bk_kinds(&nkinds);
	bk_ec2_tagged_list l = {0};
	int rc = bk_ec2_find_tagged(&l, r->aws, NULL, run_id), failed = 0;

	for (size_t k = 0; rc == 0 && k < nkinds; k++) {
		for (size_t i = 0; kinds[k].by_tag && i < l.count; i++) {
			const bk_ec2_tagged *t = &l.items[i];
			/* One the journal settled already is not deleted (or counted) twice:
			 * a deleted group's tags may outlive it for a while. */
			if (strcmp(t->type, kinds[k].name) || (o->stale && !is_stale(t, o)) ||
			    (t->state && !strcmp(t->state, "terminated")) ||
			    (r->journal && bk_ledger_knows(bk_journal_ledger(r->journal), t->type,
							   NULL, t->id)))
				continue;
			if (bk_reap(r, t->type, t->id) < 0)
				failed = 1;
		}
	}
	bk_ec2_tagged_free(&l);
	return rc < 0 ? rc : failed ? BAKEAMI_ERROR : 0;
}

/* Where the bake's EC2 and IAM calls went and the role it assumed (the
 * template's custom_endpoint_ec2 and assume_role), from its journal. */
static void journal_access(bk_aws_config *ac, const bk_ledger *l, bk_logger log)
{
	ac->session_endpoint = l->endpoint;
	ac->skip_tls_verify = l->skip_tls_verify;
	if (l->endpoint)
		bk_logf(&log, BK_LOG_INFO, "EC2 and IAM calls go to %s (the journal's "
			"custom_endpoint_ec2)", l->endpoint);
	if (ac->role_arn || !l->role_arn)
		return;
	ac->role_arn = l->role_arn;
	ac->role_external_id = l->role_external_id;
	bk_logf(&log, BK_LOG_INFO, "assuming the journal's role %s (the template's assume_role)",
		l->role_arn);
}

/* In the bake's region; a role the caller names wins over the journal's. */
static int open_aws(bk_aws **aws, const bakeami_cleanup_options *o, const bk_ledger *l,
		    bk_logger log)
{
	bk_aws_config ac = {0};

	ac.region = o->region ? o->region : l ? l->region : NULL;
	ac.log = log;
	if (o->version >= 2 && o->role_arn) {   /* a version 1 caller's struct ends before these */
		ac.role_arn = o->role_arn;
		ac.role_external_id = o->role_external_id;
		ac.role_session_name = o->role_session_name;
	}
	if (l)
		journal_access(&ac, l, log);
	if (o->version >= 3) {
		ac.access_key_id = o->access_key_id;
		ac.secret_access_key = o->secret_access_key;
		ac.session_token = o->session_token;
		ac.role_duration = (int)o->role_duration_seconds;
	}
	return bk_aws_new(aws, &ac);
}

/* The journal's ledger, rebuilt from the file, undone by the code CLEANUP
 * uses; then the tag sweep for what was created but never journalled
 * (killed mid-call). */
static int run_cleanup(const bakeami_cleanup_options *o, bk_logger log, bk_strv *cleaned,
		       bk_strv *gone, bk_strv *failed)
{
	bk_journal *j = NULL;
	bk_aws *aws = NULL;
	const bk_ledger *l = NULL;
	int rc = 0, r1 = 0;

	if (o->journal_path && (rc = bk_journal_reopen(&j, o->journal_path)) < 0)
		return rc;
	l = j ? bk_journal_ledger(j) : NULL;
	rc = open_aws(&aws, o, l, log);
	if (rc == 0) {
		bk_reaper r = {aws, j, log, cleaned, failed, gone, NULL, bk_now() + 15 * 60, NULL, 0,
			       true};
		if (l) {
			bk_logf(&log, BK_LOG_INFO, "journal %s: run %s, %zu entries to undo",
				o->journal_path, l->run_id, bk_unwind_count(&r, 0));
			r1 = bk_unwind(&r, 0);
		}
		rc = reap_tagged(&r, o->stale ? NULL : l ? l->run_id : o->run_id, o);
		if (rc == 0 && r1 < 0)
			rc = r1;
		if (j)
			bk_journal_done(j, rc == 0 ? "cleaned" : "cleanup-failed");
	}
	bk_journal_free(j);
	bk_aws_free(aws);
	return rc;
}

int bakeami_cleanup_run(const bakeami_cleanup_options *o)
{
	bk_strv cleaned = BK_STRV_INIT, gone = BK_STRV_INIT, failed = BK_STRV_INIT;
	cleanup_log cl = {o, bk_now()};
	bk_logger log = {cleanup_emit, &cl};
	int rc, modes;

	if (!o || o->version < 1 || o->version > BAKEAMI_CLEANUP_OPTIONS_VERSION)
		return bk_err(BAKEAMI_EINVALID, "cleanup options: missing or unsupported version");
	modes = !!o->journal_path + !!o->run_id + !!o->stale;
	if (modes != 1)
		return bk_err(BAKEAMI_EINVALID, "bakeami_cleanup_options: give exactly one of "
			      "journal_path, run_id and stale");
	if ((rc = bakeami_init()) < 0)
		return rc;
	rc = run_cleanup(o, log, &cleaned, &gone, &failed);
	if (rc == 0 || failed.count || cleaned.count || gone.count)
		bk_logf(&log, BK_LOG_INFO, "%zu deleted, %zu already gone, %zu failed", cleaned.count,
			gone.count, failed.count);
	if (rc == 0 && failed.count)
		rc = bk_err(BAKEAMI_ERROR, "%zu resources could not be deleted", failed.count);
	bk_strv_free(&cleaned);
	bk_strv_free(&gone);
	bk_strv_free(&failed);
	return rc;
}
