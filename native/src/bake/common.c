/* common.c - helpers the stages share: tags, polling, client tokens. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bake.h"

/* User tags, then provenance: BUILD_URL and friends from the environment
 * (a Jenkins shell step), then the caller's extra_tags (the plugin's). */
static int user_and_provenance(bk_kv *out, const bakeami_bake *b, const bk_kv *user_tags)
{
	static const char *const env_names[] = {"BUILD_URL", "BUILD_NUMBER", "GIT_COMMIT"};
	int rc = 0;

	for (size_t i = 0; user_tags && rc == 0 && i < user_tags->count; i++)
		rc = bk_kv_set(out, user_tags->keys[i], user_tags->vals[i]);
	for (size_t i = 0; rc == 0 && i < BK_ARRAY_SIZE(env_names); i++) {
		const char *v = getenv(env_names[i]);
		if (v && *v)
			rc = bk_kv_set(out, env_names[i], v);
	}
	for (size_t i = 0; rc == 0 && i < b->opts.extra_tags_count; i++) {
		const char *kv = b->opts.extra_tags[i], *eq = strchr(kv, '=');
		char *k = eq ? bk_strndup(kv, (size_t)(eq - kv)) : NULL;
		if (k)
			rc = bk_kv_set(out, k, eq + 1);
		free(k);
	}
	if (rc == 0)
		rc = bk_kv_set(out, "bakeami:run-id", b->run_id);
	if (rc == 0)
		rc = bk_kv_set(out, "CreatedBy", "bakeami");
	return rc;
}

int bk_image_tags(bk_kv *out, const bakeami_bake *b, const bk_kv *user_tags)
{
	int rc = user_and_provenance(out, b, user_tags);

	if (rc == 0)
		rc = bk_kv_set(out, "SourceAMI", b->source->id);
	if (rc == 0 && b->source->name)
		rc = bk_kv_set(out, "SourceAMIName", b->source->name);
	if (rc == 0)
		rc = bk_kv_set(out, "BuildRegion", bk_aws_region(b->aws));
	return rc;
}

/* Temporary resources also say when they may be swept: their lease
 * (lease.c), extended while the run lives. */
int bk_bake_tags(bk_kv *out, const bakeami_bake *b, const bk_kv *user_tags)
{
	char expires[32];
	int rc = user_and_provenance(out, b, user_tags);

	bk_lease_expiry(expires, b);
	if (rc == 0)
		rc = bk_kv_set(out, "bakeami:expires", expires);
	return rc;
}

static void caller_role(bk_aws_config *ac, const bakeami_options *o)
{
	ac->role_arn = o->role_arn;
	ac->role_external_id = o->role_external_id;
	ac->role_session_name = o->role_session_name;
	ac->role_duration = o->role_duration_seconds;
	ac->role_mfa_serial = o->role_mfa_serial;
	ac->role_mfa_token = o->role_mfa_token;
}

static void template_role(bk_aws_config *ac, const bk_build_config *c)
{
	ac->role_arn = c->assume_role.role_arn;
	ac->role_external_id = c->assume_role.external_id;
	ac->role_session_name = c->assume_role.session_name;
	ac->role_duration = c->assume_role.duration_seconds;
	ac->role_policy = c->assume_role.policy;
	ac->role_policy_arns = &c->assume_role.policy_arns;
	ac->role_tags = &c->assume_role.tags;
	ac->role_transitive_tag_keys = &c->assume_role.transitive_tag_keys;
}

/* The caller's role (options, --assume-role) wins over the template's. */
bk_aws_config bk_bake_aws_config(bakeami_bake *b, const bk_build_config *c)
{
	bool caller_keys = b->opts.access_key_id != NULL;
	bk_aws_config ac = {0};

	ac.access_key_id = caller_keys ? b->opts.access_key_id : c->access_key;
	ac.secret_access_key = caller_keys ? b->opts.secret_access_key : c->secret_key;
	ac.session_token = caller_keys ? b->opts.session_token : c->token;
	ac.profile = c->profile;
	ac.credentials_file = c->shared_credentials_file;
	ac.session_endpoint = c->custom_endpoint_ec2;
	ac.skip_tls_verify = c->insecure_skip_tls_verify;
	if (b->opts.role_arn || !c->assume_role.role_arn)
		caller_role(&ac, &b->opts);
	else
		template_role(&ac, c);
	ac.cancel = &b->work_cancel;
	ac.log = bk_bake_logger(b);
	return ac;
}

bk_reaper bk_bake_reaper(bakeami_bake *b, double deadline_s)
{
	return (bk_reaper){b->aws, b->journal, bk_bake_logger(b), &b->cleaned,
			   &b->cleanup_failed, &b->gone, NULL, bk_now() + deadline_s, b->kinds, b->kinds_count,
			   true};
}

void bk_client_token(char out[64], const bakeami_bake *b, const char *purpose)
{
	snprintf(out, 64, "%s-%s", b->run_id, purpose);
}

/* The first ask is at once (moto and a warm AWS answer at once); then one
 * a second for the first minute, where an instance's start falls, so a
 * change is noticed within a second at one call per second; then backing
 * off to Packer's 15 s so a long image or copy wait doesn't hammer the API.
 * bench/bench.py reads these to model the waits. */
#define POLL_FIRST_S 1.0
#define POLL_STEADY_S 60.0
#define POLL_MAX_S 15.0
#define POLL_FACTOR 2.0

int bk_poll(bakeami_bake *b, double timeout_s, const char *what,
	    int (*check)(bakeami_bake *b, void *arg), void *arg, const bk_cancel *cancel)
{
	bk_poll_opts po = {bk_now() + (timeout_s > 0 ? timeout_s : 600), POLL_FIRST_S,
			   POLL_MAX_S, POLL_FACTOR, cancel, NULL, POLL_STEADY_S};
	bk_poller wait;

	bk_poller_start(&wait, &po);
	for (;;) {
		int rc = check(b, arg);
		if (rc != 0)
			return rc < 0 ? rc : 0;
		if ((rc = bk_poller_wait(&wait)) > 0)
			return bk_err(BAKEAMI_ETIMEOUT, "timed out after %.0fs waiting for %s",
				      timeout_s, what);
		if (rc < 0)
			return bk_err(rc, "cancelled while waiting for %s", what);
	}
}
