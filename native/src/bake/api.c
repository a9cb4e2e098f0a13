/* api.c - the public handle: creation, option copies, accessors, free. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/parser.h>

#include "bake.h"

static pthread_once_t init_once = PTHREAD_ONCE_INIT;
static int init_rc;

static void init_all(void)
{
	xmlInitParser();
	if ((init_rc = bk_aws_global_init()) == 0)
		init_rc = bk_ssh_global_init();
}

int bakeami_init(void)
{
	pthread_once(&init_once, init_all);
	return init_rc;
}

/* The size of the struct a caller of that version has: fields are only
 * ever added at the end, so an older struct is a prefix of ours. */
size_t bk_options_size(unsigned int version)
{
	switch (version) {
	case 1: return offsetof(bakeami_options, log_dir);
	case 2: return offsetof(bakeami_options, role_arn);
	case 3: return offsetof(bakeami_options, lease_seconds);
	case 4: return offsetof(bakeami_options, role_duration_seconds);
	case BAKEAMI_OPTIONS_VERSION: return sizeof(bakeami_options);
	}
	return 0;
}

int bakeami_options_init(bakeami_options *opts, unsigned int version)
{
	bakeami_options tmpl = BAKEAMI_OPTIONS_INIT;
	size_t n = bk_options_size(version);

	if (!n)
		return bk_err(BAKEAMI_EINVALID, "bakeami_options: unsupported version %u", version);
	tmpl.version = version;
	memcpy(opts, &tmpl, n);
	return 0;
}

/* Copy a string into the bake's owned store; NULL stays NULL. */
static int own(bakeami_bake *b, const char **field)
{
	if (!*field)
		return 0;
	if (bk_strv_push(&b->owned, *field) < 0)
		return bk_oom();
	*field = b->owned.items[b->owned.count - 1];
	return 0;
}

static int own_list(bakeami_bake *b, const char *const **list, size_t n)
{
	const char **copy;

	if (!*list || n == 0) {
		*list = NULL;   /* never keep (or later free) the caller's array */
		return 0;
	}
	if (!(copy = calloc(n, sizeof(*copy))))
		return bk_oom();
	for (size_t i = 0; i < n; i++) {
		copy[i] = (*list)[i];
		if (own(b, &copy[i]) < 0) {
			free(copy);
			return bk_oom();   /* own() set the message */
		}
	}
	*list = copy;
	return 0;
}

static int copy_options(bakeami_bake *b, const bakeami_options *o)
{
	/* Each string is its own allocation, so growing `owned` moves no string.
	 * A caller of an older version has only the fields of that version:
	 * the later ones stay NULL (their defaults). */
	memcpy(&b->opts, o, bk_options_size(o->version));
	b->opts.version = BAKEAMI_OPTIONS_VERSION;
	if (own(b, &b->opts.template_path) || own(b, &b->opts.journal_path) ||
	    own(b, &b->opts.manifest_path) || own(b, &b->opts.result_path) ||
	    own(b, &b->opts.junit_path) || own(b, &b->opts.access_key_id) ||
	    own(b, &b->opts.secret_access_key) || own(b, &b->opts.session_token) ||
	    own(b, &b->opts.region) || own(b, &b->opts.build) ||
	    own_list(b, &b->opts.only, o->only_count) ||
	    own_list(b, &b->opts.except, o->except_count) ||
	    own(b, &b->opts.log_dir) || own(b, &b->opts.role_arn) ||
	    own(b, &b->opts.role_external_id) || own(b, &b->opts.role_session_name) ||
	    own(b, &b->opts.role_mfa_serial) || own(b, &b->opts.role_mfa_token) ||
	    own_list(b, &b->opts.vars, o->vars_count) ||
	    own_list(b, &b->opts.var_files, o->var_files_count) ||
	    own_list(b, &b->opts.extra_tags, o->extra_tags_count))
		return bk_oom();   /* the failing call set the message */
	return 0;
}

int bakeami_bake_new(bakeami_bake **out, const bakeami_options *opts)
{
	bakeami_bake *b;
	int rc;

	*out = NULL;
	if (!opts || !bk_options_size(opts->version))
		return bk_err(BAKEAMI_EINVALID, "bakeami_options: missing or unsupported version");
	if (!opts->template_path || !*opts->template_path)
		return bk_err(BAKEAMI_EINVALID, "no template given");
	if (opts->version >= 4 && opts->lease_renew_seconds &&
	    opts->lease_renew_seconds >= (opts->lease_seconds ? opts->lease_seconds
					  : (unsigned int)BK_LEASE_S))
		return bk_err(BAKEAMI_EINVALID, "lease_renew_seconds (%u) must be shorter than the "
			      "lease (%u s): a live run's resources would expire between renewals",
			      opts->lease_renew_seconds, opts->lease_seconds ? opts->lease_seconds
			      : (unsigned int)BK_LEASE_S);
	if (opts->version >= 5 && !opts->role_arn &&
	    (opts->role_mfa_serial || opts->role_mfa_token || opts->role_duration_seconds))
		return bk_err(BAKEAMI_EINVALID, "role_mfa_serial, role_mfa_token and "
			      "role_duration_seconds go with role_arn only");
	if ((rc = bakeami_init()) < 0)
		return rc;
	if (!(b = calloc(1, sizeof(*b))))
		return bk_oom();
	pthread_mutex_init(&b->mu, NULL);
	pthread_mutex_init(&b->emit_mu, NULL);
	pthread_mutex_init(&b->secrets_mu, NULL);
	bk_lease_init(&b->lease);
	bk_run_init(b, BK_RUN_BAKE);
	if ((rc = copy_options(b, opts)) < 0 ||
	    (rc = bk_random_hex(b->run_id + 3, 6)) < 0 ||
	    (rc = bk_add_secret(b, opts->secret_access_key)) < 0 ||
	    (rc = bk_add_secret(b, opts->session_token)) < 0 ||
	    (rc = bk_add_secret(b, b->opts.role_mfa_token)) < 0) {
		bakeami_bake_free(b);
		return rc;
	}
	memcpy(b->run_id, "bk-", 3);
	*out = b;
	return 0;
}

int bakeami_inputs_new(bakeami_bake **out, const bakeami_options *opts)
{
	int rc;

	if (!out)
		return bk_err(BAKEAMI_EINVALID, "bakeami_inputs_new: out is NULL");
	if ((rc = bakeami_bake_new(out, opts)) < 0)
		return rc;
	bk_run_init(*out, BK_RUN_INPUTS);
	return 0;
}

int bakeami_inputs_run(bakeami_bake *b)
{
	if (!b || b->kind != BK_RUN_INPUTS)
		return bk_err(BAKEAMI_EINVALID, "bakeami_inputs_run: not an inputs run (make it "
			      "with bakeami_inputs_new)");
	return bk_run(b);
}

const char *bakeami_bake_inputs(const bakeami_bake *bake)
{
	return bake ? bake->inputs_report : NULL;
}

const char *bakeami_bake_run_id(const bakeami_bake *bake)
{
	return bake ? bake->run_id : NULL;
}

/* The bake's own AMI: the build region's, else the first copy's (with
 * skip_save_build_region the build region keeps none); -1: none. */
static long main_ami(const bakeami_bake *bake)
{
	if (!bake || !bake->aws || !bake->amis.count)
		return -1;
	for (size_t i = 0; i < bake->amis.count; i++)
		if (!strcmp(bake->amis.keys[i], bk_aws_region(bake->aws)))
			return (long)i;
	return 0;
}

const char *bakeami_bake_ami(const bakeami_bake *bake, const char *region)
{
	long i;

	if (region)
		return bake && bake->aws ? bk_kv_get(&bake->amis, region) : NULL;
	i = main_ami(bake);
	return i < 0 ? NULL : bake->amis.vals[i];
}

const char *bakeami_bake_ami_region(const bakeami_bake *bake)
{
	long i = main_ami(bake);

	return i < 0 ? NULL : bake->amis.keys[i];
}

const char *bakeami_bake_region(const bakeami_bake *bake)
{
	return bake && bake->aws ? bk_aws_region(bake->aws) : NULL;
}

const char *bakeami_bake_result_json(const bakeami_bake *bake)
{
	return bake ? bake->result_json : NULL;
}

const char *bakeami_bake_error(const bakeami_bake *bake)
{
	return bake ? bake->error : NULL;
}

static void free_lists(bakeami_bake *b)
{
	free((void *)b->opts.vars);
	free((void *)b->opts.var_files);
	free((void *)b->opts.extra_tags);
	free((void *)b->opts.only);
	free((void *)b->opts.except);
	bk_strv_free(&b->owned);
	bk_strv_free(&b->secrets);
	bk_strv_free(&b->cleaned);
	bk_strv_free(&b->gone);
	bk_strv_free(&b->cleanup_failed);
	bk_strv_free(&b->left);
	bk_strv_free(&b->image_snapshots);
	bk_strv_free(&b->unencrypted_snapshots);
	bk_strv_free(&b->rolled_back);
	bk_kv_free(&b->amis);
}

void bakeami_bake_free(bakeami_bake *b)
{
	if (!b)
		return;
	bk_lease_free(&b->lease);   /* its thread uses the client: first */
	bk_ssh_free(b->ssh);
	bk_tunnels_close(b);        /* after the sessions carried in them */
	bk_ssh_key_free(b->key);
	bk_ssh_key_free(b->bastion_key);
	bk_aws_free(b->aws);
	bk_journal_free(b->journal);
	bk_build_config_free(b->cfg);
	bk_template_free(b->tpl);
	bk_ec2_images_free(&b->sources);
	bk_ec2_images_free(&b->reuse_found);
	bk_inputs_free(&b->inputs);
	free(b->inputs_report);
	bk_ec2_instance_free(&b->instance);
	bk_ec2_instance_free(&b->test_instance);
	bk_test_report_release(b);
	free(b->key_name);
	free(b->sg_id);
	free(b->iam_profile);
	free(b->ssh_host);
	free(b->image_id);
	free(b->unencrypted_id);
	free(b->manifest_path);
	free(b->bundle_id);
	bk_strv_free(&b->x509_remote);
	free(b->error);
	free(b->result_json);
	free(b->logs_dir);
	if (b->prov_log)
		fclose(b->prov_log);
	free_lists(b);
	pthread_mutex_destroy(&b->mu);
	pthread_mutex_destroy(&b->emit_mu);
	pthread_mutex_destroy(&b->secrets_mu);
	free(b);
}
