/* stage_validate.c - VALIDATE: template, AWS client, journal. The only
 * stage that runs before anything exists in AWS. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include "bake.h"

static bk_template_source source_of(const bakeami_options *o)
{
	bk_template_source src = {.path = o->template_path, .var_files = o->var_files,
				  .var_files_count = o->var_files_count, .vars = o->vars,
				  .vars_count = o->vars_count, .build = o->build, .only = o->only,
				  .only_count = o->only_count, .except = o->except,
				  .except_count = o->except_count, .force = o->force};
	return src;
}

/* {{aws_secretsmanager}} in the variables: read with a client of its own
 * (the bake's is made once the template is loaded), from the options'
 * credentials, else the chain, and the options' region, else AWS_REGION or
 * the profile's, as Packer's SDK session. Made on the first read. */
typedef struct {
	const bakeami_options *o;
	bk_aws *aws;
} secret_reader;

static int read_secret(char **out, const char *name, void *payload)
{
	secret_reader *r = payload;
	int rc;

	if (!r->aws) {
		bk_aws_config ac = {0};
		ac.access_key_id = r->o->access_key_id;
		ac.secret_access_key = r->o->secret_access_key;
		ac.session_token = r->o->session_token;
		ac.region = r->o->region;
		if ((rc = bk_aws_new(&r->aws, &ac)) < 0)
			return bk_err_wrap(rc, "reading secret %s", name);
	}
	if ((rc = bk_secrets_get_string(out, r->aws, name)) < 0)
		return bk_err_wrap(rc, "reading secret %s", name);
	return 0;
}

/* The validation pass; its notes are added to warnings once each. */
static int validate_into(bk_template **out, const bakeami_options *o, bk_strv *warnings)
{
	bk_template_source src = source_of(o);
	secret_reader reader = {o, NULL};
	bk_strv mine = BK_STRV_INIT;
	int rc;

	src.secret = read_secret;
	src.secret_payload = &reader;
	rc = bk_template_validate(out, &mine, &src);
	bk_aws_free(reader.aws);

	for (size_t i = 0; i < mine.count; i++) {
		size_t j = 0;
		while (j < warnings->count && strcmp(warnings->items[j], mine.items[i]))
			j++;
		if (j == warnings->count && bk_strv_push(warnings, mine.items[i]) < 0 && rc == 0)
			rc = bk_oom();
	}
	bk_strv_free(&mine);
	return rc;
}

static void log_warnings(const bk_logger *log, bk_strv *warnings)
{
	for (size_t i = 0; log && i < warnings->count; i++)
		bk_logf(log, BK_LOG_WARN, "%s", warnings->items[i]);
	bk_strv_free(warnings);
}

/* The validation pass, whose notes go out as WARN events on log: a bake's
 * and `bakeami validate` print them the same way. No AWS call. */
int bk_bake_validate(bk_template **out, const bakeami_options *o, const bk_logger *log)
{
	bk_strv warnings = BK_STRV_INIT;
	int rc = validate_into(out, o, &warnings);

	log_warnings(log, &warnings);
	return rc;
}

int bk_bake_select(bk_build_list *out, const bakeami_options *o)
{
	bk_template_source src = source_of(o);
	secret_reader reader = {o, NULL};
	int rc;

	src.secret = read_secret;   /* the names may use variables */
	src.secret_payload = &reader;
	rc = bk_template_select(out, &src);
	bk_aws_free(reader.aws);
	return rc;
}

/* Output files are written after cleanup; a bad path found then would fail
 * a bake whose image already exists. So their folders are made, and
 * checked writable, before anything is created. */
static int output_ready(const char *path, const char *option)
{
	char *dir;
	int rc = 0;

	if (!path)
		return 0;
	if (!(dir = bk_strdup(path)))
		return bk_oom();
	char *slash = strrchr(dir, '/');
	if (slash && slash != dir) {
		*slash = '\0';
		rc = bk_mkdirs(dir, 0755);
	} else if (!slash) {
		strcpy(dir, ".");
	}
	if (rc == 0 && access(dir, W_OK) != 0)
		rc = bk_err(BAKEAMI_EINVALID, "%s %s: folder %s is not writable", option, path, dir);
	else if (rc < 0)
		rc = bk_err_wrap(BAKEAMI_EINVALID, "%s %s", option, path);
	free(dir);
	return rc;
}

/* The file itself: a folder (or FIFO) of that name, or a read-only file,
 * would fail only when the bake is over. */
static int output_file_ready(const char *path, const char *option)
{
	struct stat st;
	size_t n = path ? strlen(path) : 0;

	if (!path)
		return 0;
	if (n && path[n - 1] == '/')
		return bk_err(BAKEAMI_EINVALID, "%s %s: names a folder, not a file", option, path);
	if (stat(path, &st) != 0)
		return output_ready(path, option);   /* a new file: its folder made now */
	if (!S_ISREG(st.st_mode))
		return bk_err(BAKEAMI_EINVALID, "%s %s: is %s, not a file", option, path,
			      S_ISDIR(st.st_mode) ? "a folder" : "not a regular file");
	if (access(path, W_OK) != 0)
		return bk_err(BAKEAMI_EINVALID, "%s %s: the file is not writable", option, path);
	return output_ready(path, option);
}

/* The manifest post-processors' files too: they are written after the
 * image exists. */
static int outputs_ready(const bakeami_options *o, const bk_build_config *c)
{
	int rc;

	if ((rc = output_file_ready(o->manifest_path, "manifest_path")) < 0 ||
	    (rc = output_file_ready(o->result_path, "result_path")) < 0 ||
	    (rc = output_file_ready(o->junit_path, "junit_path")) < 0)
		return rc;
	for (size_t i = 0; i < c->post_processors_count; i++) {
		const bk_post_processor *pp = &c->post_processors[i];
		char *what = pp->is_manifest ? bk_sprintf("%s.output", pp->path) : NULL;
		rc = !pp->is_manifest ? 0 : what ? output_file_ready(pp->manifest.output
				? pp->manifest.output : BK_MANIFEST_DEFAULT, what) : bk_oom();
		free(what);
		if (rc < 0)
			return rc;
	}
	return 0;
}

/* The provisioning logs' folder is made at PROVISION; what would stop
 * that (a file of its name or of a parent's, a folder we cannot write)
 * fails now instead, before any AWS call. Nothing is made yet: a bake
 * that never provisions leaves no empty folder. */
static int log_dir_ready(const bakeami_bake *b)
{
	char *dir;
	struct stat st;
	int rc = 0;

	if (b->kind != BK_RUN_BAKE || !bk_template_config(b->tpl)->provisioners_count)
		return 0;
	if (!(dir = bk_strdup(bk_log_dir(b))))
		return bk_oom();
	/* the folder itself, else the nearest parent that exists */
	while (stat(dir, &st) != 0 && strrchr(dir, '/') && strrchr(dir, '/') != dir)
		*strrchr(dir, '/') = '\0';
	if (stat(dir, &st) != 0 && !strchr(dir, '/'))
		strcpy(dir, ".");   /* a relative name with no parent given */
	if (stat(dir, &st) == 0 && !S_ISDIR(st.st_mode))
		rc = bk_err(BAKEAMI_EINVALID, "log_dir %s: %s is not a folder", bk_log_dir(b), dir);
	else if (access(dir, W_OK | X_OK) != 0)
		rc = bk_err(BAKEAMI_EINVALID, "log_dir %s: folder %s is not writable", bk_log_dir(b),
			    dir);
	free(dir);
	return rc;
}

/* The agent is the bake's environment, not the template's: checked here
 * for a bake (`bakeami validate` runs elsewhere), before any AWS call,
 * instead of failing after the instance is launched. */
static int agent_ready(const bk_build_config *c)
{
	const char *sock = getenv("SSH_AUTH_SOCK");
	const char *opt = c->ssh_agent_auth ? "ssh_agent_auth"
		: c->ssh_bastion_host && c->ssh_bastion_agent_auth ? "ssh_bastion_agent_auth" : NULL;

	if (!opt || c->communicator_none || (sock && *sock))
		return 0;
	return bk_err(BAKEAMI_EINVALID, "%s: SSH_AUTH_SOCK is not set: start ssh-agent and add "
		      "the key (ssh-add) in the bake's environment", opt);
}

/* The build region is known now (--region, AWS_REGION, the profile's), and
 * so is --reuse: the template's check again with both. */
static int skip_save_ready(const bakeami_bake *b, const bk_build_config *c)
{
	bool reuse = b->opts.reuse ? b->opts.reuse > 0 : c->reuse.enabled;

	if (b->kind == BK_RUN_PROMOTION)
		return 0;
	return bk_skip_save_check(c, b->opts.template_path, bk_aws_region(b->aws), reuse);
}

static int make_aws(bakeami_bake *b, const bk_build_config *c)
{
	bk_aws_config ac = bk_bake_aws_config(b, c);
	int rc;

	ac.region = b->opts.region ? b->opts.region : (c->region && *c->region ? c->region : NULL);
	ac.max_retries = c->max_retries > 0 ? c->max_retries : 0;
	if ((rc = bk_aws_new(&b->aws, &ac)) < 0)
		return rc;
	if (c->custom_endpoint_ec2)
		bk_step(b, "EC2 and IAM calls go to %s (custom_endpoint_ec2)", c->custom_endpoint_ec2);
	if (b->opts.role_arn && c->assume_role.role_arn)
		bk_warn(b, "the template's assume_role (%s) is not used: the caller's role %s is",
			c->assume_role.role_arn, b->opts.role_arn);
	/* Temporary credentials from the chain are secrets too. */
	const bk_aws_creds *cr = bk_aws_credentials(b->aws);
	if ((rc = bk_add_secret(b, cr->secret_access_key)) < 0 ||
	    (rc = bk_add_secret(b, cr->session_token)) < 0)
		return rc;
	return 0;
}

static int open_journal(bakeami_bake *b, const bk_build_config *c)
{
	const bool template_role = !b->opts.role_arn && c->assume_role.role_arn;
	bk_run_access a = {c->custom_endpoint_ec2, c->insecure_skip_tls_verify,
			   template_role ? c->assume_role.role_arn : NULL,
			   template_role ? c->assume_role.external_id : NULL};
	char *path = b->opts.journal_path ? bk_strdup(b->opts.journal_path)
		: bk_sprintf(".bakeami/journal/%s.jsonl", b->run_id);
	int rc;

	if (!path)
		return bk_oom();
	rc = bk_journal_open(&b->journal, path, b->run_id, bk_aws_region(b->aws));
	if (rc == 0 && (a.endpoint || a.role_arn))
		rc = bk_journal_access(b->journal, &a);
	if (rc == 0)
		bk_step(b, "run %s, journal %s", b->run_id, path);
	free(path);
	return rc;
}

int bk_stage_validate(bakeami_bake *b)
{
	bk_logger log = bk_bake_logger(b);
	const bk_strv *sec;
	int rc;

	/* A promotion's VALIDATE has loaded it already, to check it first. */
	if ((!b->tpl && (rc = bk_bake_validate(&b->tpl, &b->opts, &log)) < 0) ||
	    (rc = outputs_ready(&b->opts, bk_template_config(b->tpl))) < 0 ||
	    (rc = log_dir_ready(b)) < 0 ||
	    (b->kind == BK_RUN_BAKE && (rc = agent_ready(bk_template_config(b->tpl))) < 0))
		return rc;
	sec = bk_template_secrets(b->tpl);
	for (size_t i = 0; i < sec->count; i++)
		if ((rc = bk_add_secret(b, sec->items[i])) < 0)
			return rc;
	bk_step(b, "template %s (%s)", b->opts.template_path,
		bk_template_config(b->tpl)->builder_type);
	bk_run_use_builder_list(b, bk_template_config(b->tpl));
	if ((rc = make_aws(b, bk_template_config(b->tpl))) < 0 ||
	    (rc = skip_save_ready(b, bk_template_config(b->tpl))) < 0)
		return rc;
	return open_journal(b, bk_template_config(b->tpl));
}

/* `bakeami validate` has no bake: its events come from the VALIDATE stage
 * at time 0, formatted as a bake's. */
static void validate_emit(bk_log_level level, const char *msg, void *payload)
{
	const bakeami_options *o = payload;
	bakeami_event ev = {BAKEAMI_EVENT_VERSION, bk_event_kind_of(level), 0,
			    bk_state_stage(BK_VALIDATE), msg, NULL, NULL, 0, o->build};
	char *line = NULL, *json = NULL;

	if (o->log_cb && level != BK_LOG_DEBUG && bk_event_render(&ev, NULL, &line, &json) == 0)
		o->log_cb(&ev, o->log_payload);
	free(line);
	free(json);
}

/* Adds tpl's build (and, the first time, the variables) to dump. */
static int dump_add(cJSON *dump, const bk_template *tpl)
{
	cJSON *build = NULL, *vars = NULL;
	int rc;

	if (!cJSON_GetObjectItemCaseSensitive(dump, "variables")) {
		if ((rc = bk_template_dump_vars(&vars, tpl)) < 0)
			return rc;
		cJSON_AddItemToObject(dump, "variables", vars);
	}
	if ((rc = bk_template_dump(&build, tpl)) < 0)
		return rc;
	cJSON_AddItemToArray(cJSON_GetObjectItemCaseSensitive(dump, "builds"), build);
	return 0;
}

/* Every selected build (or opts->build), each its own plan, added to dump
 * (may be NULL); the notes once. */
static int validate_builds(const bakeami_options *opts, const bk_logger *log, cJSON *dump)
{
	bk_build_list builds = {0};
	bk_build_info one_build = {.name = (char *)opts->build};
	bk_strv warnings = BK_STRV_INIT;
	const bk_build_info *items = &one_build;
	size_t n = 1;
	int rc = 0;

	if (!opts->build && (rc = bk_bake_select(&builds, opts)) < 0)
		return rc;
	if (!opts->build)
		items = builds.items, n = builds.count;
	for (size_t i = 0; rc == 0 && i < n; i++) {
		bakeami_options one = *opts;
		bk_template *tpl = NULL;
		one.build = items[i].name;
		rc = validate_into(&tpl, &one, &warnings);
		if (rc == 0 && dump)
			rc = dump_add(dump, tpl);
		bk_template_free(tpl);
	}
	bk_build_list_free(&builds);
	log_warnings(log, &warnings);
	return rc;
}

static int options_ok(const bakeami_options *opts)
{
	if (!opts || !bk_options_size(opts->version) || !opts->template_path)
		return bk_err(BAKEAMI_EINVALID, "bakeami_options: missing template or version");
	return 0;
}

int bakeami_template_validate(const bakeami_options *opts)
{
	bk_logger log = {validate_emit, (void *)opts};
	int rc = options_ok(opts);

	return rc < 0 ? rc : validate_builds(opts, &log, NULL);
}

int bakeami_template_dump_plan(char **out, const bakeami_options *opts)
{
	bk_logger log = {validate_emit, (void *)opts};
	cJSON *dump;
	int rc;

	if (!out)
		return bk_err(BAKEAMI_EINVALID, "bakeami_template_dump_plan: out is NULL");
	*out = NULL;
	if ((rc = options_ok(opts)) < 0)
		return rc;
	if (!(dump = cJSON_CreateObject()) || !cJSON_AddArrayToObject(dump, "builds")) {
		cJSON_Delete(dump);
		return bk_oom();
	}
	if ((rc = validate_builds(opts, &log, dump)) == 0 && !(*out = cJSON_Print(dump)))
		rc = bk_oom();
	cJSON_Delete(dump);
	return rc;
}

int bakeami_template_check_syntax(const bakeami_options *opts)
{
	bk_template_source src;

	/* source_of reads version 1 fields only */
	if (!opts || !bk_options_size(opts->version) || !opts->template_path)
		return bk_err(BAKEAMI_EINVALID, "bakeami_options: missing template or version");
	src = source_of(opts);
	return bk_template_check_syntax(&src);
}

int bakeami_template_inspect(char **out, const bakeami_options *opts)
{
	bk_template_source src;

	*out = NULL;
	if (!opts || !bk_options_size(opts->version) || !opts->template_path)
		return bk_err(BAKEAMI_EINVALID, "bakeami_options: missing template or version");
	src = source_of(opts);
	return bk_template_inspect(out, &src);
}
