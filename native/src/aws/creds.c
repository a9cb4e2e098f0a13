/*
 * creds.c - the credential chain and region, following the AWS SDKs:
 * explicit keys, environment, shared profile (static keys, or role_arn +
 * source_profile through STS AssumeRole), then the instance role (IMDSv2).
 * Temporary credentials are renewed before they expire.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "aws_int.h"

#define MAX_ROLE_HOPS 4
#define RENEW_BEFORE_S 300

static const char no_creds_msg[] =
	"no AWS credentials: set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, AWS_PROFILE, "
	"or run on an instance with a role";

/* ---- credentials values --------------------------------------------------- */

static void wipe_free(char *s)
{
	if (s)
		explicit_bzero(s, strlen(s));
	free(s);
}

void bk_aws__creds_clear(bk_aws_creds *c)
{
	free(c->access_key_id);
	wipe_free(c->secret_access_key);
	wipe_free(c->session_token);
	free(c->source);
	memset(c, 0, sizeof(*c));
}

int bk_aws__creds_set(bk_aws_creds *c, const char *access_key, const char *secret,
		      const char *token, const char *source, double expires)
{
	bk_aws_creds n = {bk_strdup(access_key), bk_strdup(secret),
			  token && *token ? bk_strdup(token) : NULL, bk_strdup(source), expires};

	if (!n.access_key_id || !n.secret_access_key || !n.source ||
	    (token && *token && !n.session_token)) {
		bk_aws__creds_clear(&n);
		return bk_oom();
	}
	*c = n;
	return 0;
}

double bk_aws__parse_time(const char *iso)
{
	struct tm tm;
	int n = 0;

	memset(&tm, 0, sizeof(tm));
	if (!iso || sscanf(iso, "%4d-%2d-%2dT%2d:%2d:%2d%n", &tm.tm_year, &tm.tm_mon,
			   &tm.tm_mday, &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &n) != 6)
		return 0;
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	/* AWS always answers in UTC ("Z"); fractions of seconds don't matter. */
	return (double)timegm(&tm);
}

/* ---- profiles ---------------------------------------------------------------- */

typedef struct {
	char *credentials;       /* file bodies, NULL when absent */
	char *config;
	char *credentials_path;
	char *config_path;
} profile_files;

static char *aws_path(const char *env, const char *name)
{
	const char *v = getenv(env), *home = getenv("HOME");

	if (v && *v)
		return bk_strdup(v);
	return home && *home ? bk_sprintf("%s/.aws/%s", home, name) : NULL;
}

static int read_optional(char **out, const char *path)
{
	int rc;

	*out = NULL;
	if (!path)
		return 0;
	rc = bk_file_read(out, NULL, path);
	return rc == BAKEAMI_ENOTFOUND ? 0 : rc;
}

static void files_free(profile_files *f)
{
	wipe_free(f->credentials);
	wipe_free(f->config);
	free(f->credentials_path);
	free(f->config_path);
}

static int files_load(profile_files *f, const bk_aws_config *cfg)
{
	int rc;

	memset(f, 0, sizeof(*f));
	f->credentials_path = cfg->credentials_file ? bk_strdup(cfg->credentials_file)
		: aws_path("AWS_SHARED_CREDENTIALS_FILE", "credentials");
	f->config_path = aws_path("AWS_CONFIG_FILE", "config");
	rc = read_optional(&f->credentials, f->credentials_path);
	if (rc == 0)
		rc = read_optional(&f->config, f->config_path);
	if (rc < 0)
		files_free(f);
	return rc;
}

static const char *profile_name(const bk_aws_config *cfg, bool *explicit_choice)
{
	const char *env = getenv("AWS_PROFILE");

	*explicit_choice = true;
	if (cfg->profile && *cfg->profile)
		return cfg->profile;
	if (env && *env)
		return env;
	*explicit_choice = false;
	return "default";
}

/* config names sections "profile NAME", except "default" (either form). */
static char *config_get(const char *config, const char *profile, const char *key)
{
	char section[300];
	char *v;

	snprintf(section, sizeof(section), "profile %s", profile);
	v = bk_ini_get(config, section, key);
	if (!v && strcmp(profile, "default") == 0)
		v = bk_ini_get(config, "default", key);
	return v;
}

/* A profile setting: credentials file first, then config. Empty = absent. */
static char *prof_get(const profile_files *f, const char *profile, const char *key)
{
	char *v = f->credentials ? bk_ini_get(f->credentials, profile, key) : NULL;

	if (!v && f->config)
		v = config_get(f->config, profile, key);
	if (v && !*v) {
		free(v);
		v = NULL;
	}
	return v;
}

static bool profile_exists(const profile_files *f, const char *profile)
{
	char section[300];

	snprintf(section, sizeof(section), "profile %s", profile);
	return (f->credentials && bk_ini__has_section(f->credentials, profile)) ||
	       (f->config && (bk_ini__has_section(f->config, section) ||
			      (strcmp(profile, "default") == 0 &&
			       bk_ini__has_section(f->config, "default"))));
}

/* ---- region -------------------------------------------------------------------- */

static const char *first_set(const char *a, const char *b, const char *c)
{
	if (a && *a)
		return a;
	if (b && *b)
		return b;
	return c && *c ? c : NULL;
}

static const char *region_source(const bk_aws_config *cfg)
{
	const char *env = getenv("AWS_REGION");

	if (cfg->region && *cfg->region)
		return "region";
	return env && *env ? "AWS_REGION" : "AWS_DEFAULT_REGION";
}

int bk_aws__resolve_region(char **out, const bk_aws_config *cfg)
{
	const char *v = first_set(cfg->region, getenv("AWS_REGION"), getenv("AWS_DEFAULT_REGION"));
	profile_files f;
	bool chosen;
	const char *profile = profile_name(cfg, &chosen);
	int rc;

	if (v) {
		if ((rc = bk_aws_region_check(v, region_source(cfg))) < 0)
			return rc;
		return (*out = bk_strdup(v)) ? 0 : bk_oom();
	}
	if ((rc = files_load(&f, cfg)) < 0)
		return rc;
	*out = prof_get(&f, profile, "region");
	files_free(&f);
	if (!*out)
		return bk_err(BAKEAMI_EINVALID,
			      "no AWS region: set the region option, AWS_REGION, "
			      "AWS_DEFAULT_REGION, or region in AWS profile \"%s\"", profile);
	if ((rc = bk_aws_region_check(*out, "AWS profile region")) < 0) {
		free(*out);
		*out = NULL;
	}
	return rc;
}

/* ---- STS AssumeRole ------------------------------------------------------------- */

void bk_aws__refresh_clear(bk_refresh *r)
{
	bk_aws__creds_clear(&r->source);
	free(r->role_arn);
	free(r->external_id);
	free(r->session_name);
	bk_kv_free(&r->session);
	free(r->mfa_serial);
	wipe_free(r->mfa_token);
	memset(r, 0, sizeof(*r));
}

static int parse_assumed(bk_aws_creds *out, xmlDocPtr doc, const char *role_arn)
{
	xmlNodePtr c = bk_xml_find(xmlDocGetRootElement(doc), "Credentials");
	char *ak = bk_xml_child_text(c, "AccessKeyId");
	char *sk = bk_xml_child_text(c, "SecretAccessKey");
	char *tok = bk_xml_child_text(c, "SessionToken");
	char *exp = bk_xml_child_text(c, "Expiration");
	char *source = bk_sprintf("assume-role %s", role_arn);
	int rc;

	if (!ak || !sk || !tok || !source)
		rc = bk_err(BAKEAMI_EAWS, "AssumeRole: no Credentials in the response");
	else
		rc = bk_aws__creds_set(out, ak, sk, tok, source, bk_aws__parse_time(exp));
	free(ak);
	wipe_free(sk);
	wipe_free(tok);
	free(exp);
	free(source);
	return rc;
}

static int assume_role_params(bk_params *p, const bk_refresh *r)
{
	int rc = bk_params_add(p, "RoleArn", r->role_arn);

	if (rc == 0)
		rc = bk_params_add(p, "RoleSessionName", r->session_name);
	if (rc == 0 && r->external_id)
		rc = bk_params_add(p, "ExternalId", r->external_id);
	if (rc == 0 && r->duration > 0)
		rc = bk_params_addf(p, "DurationSeconds", "%d", r->duration);
	for (size_t i = 0; rc == 0 && i < r->session.count; i++)
		rc = bk_params_add(p, r->session.keys[i], r->session.vals[i]);
	if (rc == 0 && r->mfa_token)
		rc = bk_params_add(p, "SerialNumber", r->mfa_serial);
	if (rc == 0 && r->mfa_token)
		rc = bk_params_add(p, "TokenCode", r->mfa_token);
	return rc;
}

/* Temporary credentials for r->role_arn, signed with r->source, or by the
 * base client with its own (renewed) credentials. */
int bk_aws__assume_role(bk_aws *aws, const bk_refresh *r, bk_aws_creds *out)
{
	bk_params p = BK_KV_INIT;
	bk_aws_call call = {"sts", NULL, "AssumeRole", &p, r->base ? NULL : &r->source, false,
			    NULL, false};
	xmlDocPtr doc = NULL;
	int rc = assume_role_params(&p, r);

	if (rc == 0)
		rc = bk_aws__query(&doc, r->base ? r->base : aws, &call, NULL);
	if (rc == 0)
		rc = parse_assumed(out, doc, r->role_arn);
	xmlFreeDoc(doc);
	bk_kv_free(&p);
	return rc;
}

/* ---- the profile chain -------------------------------------------------------- */

static int from_profile(bk_aws *aws, const profile_files *f, const char *name, int hops,
			bk_aws_creds *out, bk_refresh *refresh);

static int static_keys(const profile_files *f, const char *name, bk_aws_creds *out)
{
	char *ak = prof_get(f, name, "aws_access_key_id");
	char *sk = prof_get(f, name, "aws_secret_access_key");
	char *tok = prof_get(f, name, "aws_session_token");
	char *source = bk_sprintf("profile %s", name);
	int rc;

	if (!source)
		rc = bk_oom();
	else if (!ak || !sk)
		rc = bk_err(BAKEAMI_ENOTFOUND, "AWS profile \"%s\" has no aws_access_key_id "
			    "and aws_secret_access_key", name);
	else
		rc = bk_aws__creds_set(out, ak, sk, tok, source, 0);
	free(ak);
	wipe_free(sk);
	wipe_free(tok);
	free(source);
	return rc;
}

/* Fill r from the profile's role settings (role_arn already known). */
static int role_settings(const profile_files *f, const char *name, bk_refresh *r)
{
	char *mfa = prof_get(f, name, "mfa_serial");
	char *duration = prof_get(f, name, "duration_seconds");
	char hex[9];
	int rc = 0;

	if (mfa)
		rc = bk_err(BAKEAMI_EINVALID, "AWS profile \"%s\" needs an MFA code (mfa_serial), "
			    "which bakeami cannot ask for", name);
	r->external_id = prof_get(f, name, "external_id");
	r->session_name = prof_get(f, name, "role_session_name");
	r->duration = duration ? atoi(duration) : 0;
	if (rc == 0 && !r->session_name && (rc = bk_random_hex(hex, 4)) == 0 &&
	    !(r->session_name = bk_sprintf("bakeami-%s", hex)))
		rc = bk_oom();
	free(mfa);
	free(duration);
	return rc;
}

/* The credentials that call AssumeRole for profile `name`. */
static int role_source(bk_aws *aws, const profile_files *f, const char *name, int hops,
		       bk_aws_creds *out)
{
	char *src = prof_get(f, name, "source_profile");
	bk_refresh inner = {0};
	int rc;

	if (!src)
		return bk_err(BAKEAMI_EINVALID, "AWS profile \"%s\": role_arn needs source_profile "
			      "(credential_source is not supported)", name);
	if (hops >= MAX_ROLE_HOPS)
		rc = bk_err(BAKEAMI_EINVALID, "AWS profile \"%s\": source_profile chain longer "
			    "than %d", name, MAX_ROLE_HOPS);
	else if (strcmp(src, name) == 0)   /* a profile may assume a role with its own keys */
		rc = static_keys(f, name, out);
	else if ((rc = from_profile(aws, f, src, hops + 1, out, &inner)) == BAKEAMI_ENOTFOUND)
		rc = bk_err(BAKEAMI_EINVALID, "AWS profile \"%s\": source_profile \"%s\" has no "
			    "credentials", name, src);
	if (rc == BAKEAMI_ENOTFOUND)   /* a role_arn profile promised credentials */
		rc = BAKEAMI_EINVALID;
	bk_aws__refresh_clear(&inner);   /* only the last hop is renewed */
	free(src);
	return rc;
}

static int from_role(bk_aws *aws, const profile_files *f, const char *name, int hops,
		     char *role_arn, bk_aws_creds *out, bk_refresh *r)
{
	int rc;

	r->kind = BK_REFRESH_ASSUME_ROLE;
	r->role_arn = role_arn;
	rc = role_settings(f, name, r);
	if (rc == 0)
		rc = role_source(aws, f, name, hops, &r->source);
	if (rc == 0 && (rc = bk_aws__assume_role(aws, r, out)) < 0)
		bk_err_wrap(rc, "AWS profile \"%s\"", name);
	if (rc < 0)
		bk_aws__refresh_clear(r);
	return rc;
}

/* 0 with credentials, BAKEAMI_ENOTFOUND if the profile has none. */
static int from_profile(bk_aws *aws, const profile_files *f, const char *name, int hops,
			bk_aws_creds *out, bk_refresh *refresh)
{
	char *role_arn = prof_get(f, name, "role_arn");

	if (role_arn)
		return from_role(aws, f, name, hops, role_arn, out, refresh);
	return static_keys(f, name, out);
}

/* ---- the chain ------------------------------------------------------------- */

static int from_env(bk_aws_creds *out)
{
	const char *ak = getenv("AWS_ACCESS_KEY_ID"), *sk = getenv("AWS_SECRET_ACCESS_KEY");

	if ((!ak || !*ak) && (!sk || !*sk))
		return BAKEAMI_ENOTFOUND;
	if (!ak || !*ak || !sk || !*sk)
		return bk_err(BAKEAMI_EINVALID, "%s is set but %s is not",
			      ak && *ak ? "AWS_ACCESS_KEY_ID" : "AWS_SECRET_ACCESS_KEY",
			      ak && *ak ? "AWS_SECRET_ACCESS_KEY" : "AWS_ACCESS_KEY_ID");
	return bk_aws__creds_set(out, ak, sk, getenv("AWS_SESSION_TOKEN"), "env", 0);
}

static int from_files(bk_aws *aws, const bk_aws_config *cfg)
{
	profile_files f;
	bool chosen;
	const char *name = profile_name(cfg, &chosen);
	int rc = files_load(&f, cfg);

	if (rc < 0)
		return rc;
	if (!profile_exists(&f, name))
		rc = chosen ? bk_err(BAKEAMI_EINVALID, "AWS profile \"%s\" not found in %s or %s",
				     name, f.credentials_path ? f.credentials_path : "(no HOME)",
				     f.config_path ? f.config_path : "(no HOME)")
			    : BAKEAMI_ENOTFOUND;
	else
		rc = from_profile(aws, &f, name, 0, &aws->creds, &aws->refresh);
	/* A profile picked by name must work; the default one may be absent. */
	if (rc == BAKEAMI_ENOTFOUND && chosen)
		rc = BAKEAMI_EINVALID;
	files_free(&f);
	return rc;
}

static int from_imds(bk_aws *aws)
{
	int rc = bk_aws__imds_creds(&aws->creds);

	if (rc == 0)
		aws->refresh.kind = BK_REFRESH_IMDS;
	else if (rc == BAKEAMI_ENOTFOUND)
		bk_logf(&aws->log, BK_LOG_DEBUG, "no instance-role credentials: %s", bk_err_msg());
	return rc;
}

static int resolve_chain(bk_aws *aws, const bk_aws_config *cfg)
{
	int rc;

	if (cfg->access_key_id && *cfg->access_key_id) {
		if (!cfg->secret_access_key || !*cfg->secret_access_key)
			return bk_err(BAKEAMI_EINVALID, "an AWS access key id was given without "
				      "its secret access key");
		return bk_aws__creds_set(&aws->creds, cfg->access_key_id, cfg->secret_access_key,
					 cfg->session_token, "explicit", 0);
	}
	if ((rc = from_env(&aws->creds)) != BAKEAMI_ENOTFOUND)
		return rc;
	if ((rc = from_files(aws, cfg)) != BAKEAMI_ENOTFOUND)
		return rc;
	if ((rc = from_imds(aws)) != BAKEAMI_ENOTFOUND)
		return rc;
	return bk_err(BAKEAMI_EINVALID, no_creds_msg);
}

/* ---- the caller's role ------------------------------------------------------ */

/* What STS's AssumeRole accepts ([\w+=,.@-], and ":/" in an external id). */
static bool sts_chars(const char *s, size_t min, size_t max, bool id)
{
	size_t n = strlen(s);

	if (n < min || n > max)
		return false;
	for (; *s; s++)
		if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') ||
		      strchr("+=,.@_-", *s) || (id && strchr(":/", *s))))
			return false;
	return true;
}

/* arn:<partition>:iam::<12 digits>:role/<path/>name */
static bool role_arn_form(const char *arn)
{
	const char *p = arn;
	size_t digits = 0;

	if (!bk_str_starts(p, "arn:aws") || !(p = strchr(p + 4, ':')) || !bk_str_starts(p, ":iam::"))
		return false;
	for (p += 6; *p >= '0' && *p <= '9'; p++)
		digits++;
	return digits == 12 && bk_str_starts(p, ":role/") && p[6] && p[strlen(p) - 1] != '/';
}

int bk_aws_role_check(const char *role_arn, const char *external_id, const char *session_name,
		      const char *where)
{
	if (!role_arn || !role_arn_form(role_arn))
		return bk_err(BAKEAMI_EINVALID, "%s: \"%s\" is not an IAM role ARN (like "
			      "arn:aws:iam::123456789012:role/NAME)", where, role_arn ? role_arn : "");
	if (external_id && !sts_chars(external_id, 2, 1224, true))
		return bk_err(BAKEAMI_EINVALID, "%s: the external id must be 2 to 1224 characters "
			      "of letters, digits and +=,.@_-:/", where);
	if (session_name && !sts_chars(session_name, 2, 64, false))
		return bk_err(BAKEAMI_EINVALID, "%s: the role session name \"%s\" must be 2 to 64 "
			      "characters of letters, digits and +=,.@_-", where, session_name);
	return 0;
}

/* MFA serial numbers: an ARN (arn:aws:iam::ACCOUNT:mfa/NAME) or a device's
 * serial; STS's TokenCode: six digits. */
int bk_aws_role_mfa_check(int duration, const char *mfa_serial, const char *mfa_token,
			  const char *where)
{
	size_t digits = 0;

	if (duration && (duration < 900 || duration > 43200))
		return bk_err(BAKEAMI_EINVALID, "%s: the role session duration must be 900 to 43200 "
			      "seconds (what STS allows), not %d", where, duration);
	if (mfa_token && !mfa_serial)
		return bk_err(BAKEAMI_EINVALID, "%s: an MFA code was given without the serial number "
			      "of its MFA device", where);
	if (!mfa_serial)
		return 0;
	if (!sts_chars(mfa_serial, 9, 256, true))
		return bk_err(BAKEAMI_EINVALID, "%s: the MFA serial number \"%s\" must be 9 to 256 "
			      "characters of letters, digits and +=,.@_-:/", where, mfa_serial);
	if (!mfa_token)
		return bk_err(BAKEAMI_EINVALID, "%s: the role asks for a code from MFA device %s: none "
			      "was given", where, mfa_serial);
	while (mfa_token[digits] >= '0' && mfa_token[digits] <= '9')
		digits++;
	if (digits != 6 || mfa_token[digits])
		return bk_err(BAKEAMI_EINVALID, "%s: the MFA code must be the 6 digits the device "
			      "shows", where);
	return 0;
}

static int caller_role_mfa(bk_refresh *r, const bk_aws_config *cfg)
{
	r->duration = cfg->role_duration;
	if (!cfg->role_mfa_serial)
		return 0;
	r->kind = BK_REFRESH_MFA;
	return (r->mfa_serial = bk_strdup(cfg->role_mfa_serial)) &&
	       (r->mfa_token = bk_strdup(cfg->role_mfa_token)) ? 0 : bk_oom();
}

/* AssumeRole's list parameters: Name.member.N[.Field]. */
static int add_member(bk_params *p, const char *name, size_t n, const char *field,
		      const char *val)
{
	char key[96];

	snprintf(key, sizeof(key), "%s.member.%zu%s%s", name, n, field ? "." : "",
		 field ? field : "");
	return bk_params_add(p, key, val);
}

static int session_params(bk_params *p, const bk_aws_config *cfg)
{
	int rc = cfg->role_policy ? bk_params_add(p, "Policy", cfg->role_policy) : 0;

	for (size_t i = 0; rc == 0 && cfg->role_policy_arns && i < cfg->role_policy_arns->count; i++)
		rc = add_member(p, "PolicyArns", i + 1, "arn", cfg->role_policy_arns->items[i]);
	for (size_t i = 0; rc == 0 && cfg->role_tags && i < cfg->role_tags->count; i++) {
		rc = add_member(p, "Tags", i + 1, "Key", cfg->role_tags->keys[i]);
		if (rc == 0)
			rc = add_member(p, "Tags", i + 1, "Value", cfg->role_tags->vals[i]);
	}
	for (size_t i = 0; rc == 0 && cfg->role_transitive_tag_keys &&
	     i < cfg->role_transitive_tag_keys->count; i++)
		rc = add_member(p, "TransitiveTagKeys", i + 1, NULL,
				cfg->role_transitive_tag_keys->items[i]);
	return rc;
}

static int caller_role_settings(bk_refresh *r, const bk_aws_config *cfg)
{
	char hex[9];
	int rc;

	r->kind = BK_REFRESH_ASSUME_ROLE;
	if (!(r->role_arn = bk_strdup(cfg->role_arn)) ||
	    (cfg->role_external_id && !(r->external_id = bk_strdup(cfg->role_external_id))))
		return bk_oom();
	if ((rc = caller_role_mfa(r, cfg)) < 0 || (rc = session_params(&r->session, cfg)) < 0)
		return rc;
	if (cfg->role_session_name)
		return (r->session_name = bk_strdup(cfg->role_session_name)) ? 0 : bk_oom();
	if ((rc = bk_random_hex(hex, 4)) < 0)
		return rc;
	return (r->session_name = bk_sprintf("bakeami-%s", hex)) ? 0 : bk_oom();
}

/* The role the caller names (options, --assume-role): assumed with the
 * chain's credentials, which a client of their own holds, so that they are
 * renewed too (an instance role's, a profile role's) while this client
 * renews the role's. */
static int from_caller_role(bk_aws *aws, const bk_aws_config *cfg)
{
	bk_aws_config base = *cfg;
	int rc = bk_aws_role_check(cfg->role_arn, cfg->role_external_id, cfg->role_session_name,
				   "assume role");

	if (rc == 0)
		rc = bk_aws_role_mfa_check(cfg->role_duration, cfg->role_mfa_serial,
					   cfg->role_mfa_token, "assume role");
	if (rc < 0)
		return rc;
	base.role_arn = base.role_external_id = base.role_session_name = NULL;
	base.role_mfa_serial = base.role_mfa_token = base.role_policy = NULL;
	base.role_policy_arns = base.role_transitive_tag_keys = NULL;
	base.role_tags = NULL;
	base.role_duration = 0;
	if ((rc = bk_aws_new(&aws->refresh.base, &base)) < 0)
		return rc;
	if ((rc = caller_role_settings(&aws->refresh, cfg)) < 0)
		return rc;
	rc = aws->refresh.kind == BK_REFRESH_MFA
		? bk_aws__mfa_session(aws, &aws->refresh, &aws->creds)
		: bk_aws__assume_role(aws, &aws->refresh, &aws->creds);
	if (rc < 0)
		bk_err_wrap(rc, "assuming role %s", cfg->role_arn);
	/* The code is spent: nothing keeps it past the first call. */
	wipe_free(aws->refresh.mfa_token);
	aws->refresh.mfa_token = NULL;
	return rc;
}

/* ---- renewal ----------------------------------------------------------------- */

/* Five minutes ahead, as the SDKs do; credentials that live less than 20
 * minutes (STS's shortest session is 15) a quarter of their life ahead,
 * or every call would renew them. */
double bk_aws__renew_time(double expires, double now)
{
	double margin = (expires - now) / 4;

	if (expires <= 0)
		return 0;
	return expires - (margin < RENEW_BEFORE_S ? (margin > 0 ? margin : 0) : RENEW_BEFORE_S);
}

int bk_aws__resolve_creds(bk_aws *aws, const bk_aws_config *cfg)
{
	int rc = cfg->role_arn && *cfg->role_arn ? from_caller_role(aws, cfg)
		: resolve_chain(aws, cfg);

	if (rc == 0)
		aws->renew_at = bk_aws__renew_time(aws->creds.expires, bk_wall());
	return rc;
}

static bool expiring(bk_aws *aws)
{
	double at;

	pthread_mutex_lock(&aws->lock);
	at = aws->renew_at;
	pthread_mutex_unlock(&aws->lock);
	return at > 0 && bk_wall() >= at;
}

/* Swap in fresh credentials; the old strings stay alive until free. */
static int install(bk_aws *aws, bk_aws_creds *fresh)
{
	struct bk_creds_node *node = malloc(sizeof(*node));

	if (!node) {
		bk_aws__creds_clear(fresh);
		return bk_oom();
	}
	pthread_mutex_lock(&aws->lock);
	node->creds = aws->creds;
	node->next = aws->retired;
	aws->retired = node;
	aws->creds = *fresh;
	aws->renew_at = bk_aws__renew_time(fresh->expires, bk_wall());
	pthread_mutex_unlock(&aws->lock);
	memset(fresh, 0, sizeof(*fresh));
	return 0;
}

/* An MFA session cannot be renewed: its renewal time brings a warning,
 * its expiry (or AWS saying it expired: force) an error that says why. */
static int mfa_session_left(bk_aws *aws, bool force)
{
	const bk_refresh *r = &aws->refresh;
	char at[32];
	double expires;

	pthread_mutex_lock(&aws->lock);
	expires = aws->creds.expires;
	pthread_mutex_unlock(&aws->lock);
	bk_iso8601(at, expires);
	if (force || (expires > 0 && bk_wall() >= expires))
		return bk_err(BAKEAMI_EAWS, "the session of role %s, assumed with a code from MFA "
			      "device %s, expired at %s: a session bought with an MFA code cannot be "
			      "renewed (STS takes a code once); ask for a longer session (up to the "
			      "role's maximum) or a role without MFA, and remove what this run left "
			      "with `bakeami cleanup --journal`", r->role_arn, r->mfa_serial, at);
	pthread_mutex_lock(&aws->refresh_lock);
	if (!aws->refresh.mfa_warned && expiring(aws)) {
		aws->refresh.mfa_warned = true;
		bk_logf(&aws->log, BK_LOG_WARN, "the session of role %s (MFA device %s) expires at "
			"%s and cannot be renewed without a new MFA code: AWS calls after then fail",
			r->role_arn, r->mfa_serial, at);
	}
	pthread_mutex_unlock(&aws->refresh_lock);
	return 0;
}

int bk_aws__refresh_creds(bk_aws *aws, bool force)
{
	bk_aws_creds fresh = {0};
	int rc = 0;

	if (aws->refresh.kind == BK_REFRESH_MFA)
		return mfa_session_left(aws, force);
	if (aws->refresh.kind == BK_REFRESH_NONE || (!force && !expiring(aws)))
		return 0;
	pthread_mutex_lock(&aws->refresh_lock);
	/* Another thread may have renewed them while we waited. */
	if (force || expiring(aws)) {
		if (aws->refresh.kind == BK_REFRESH_ASSUME_ROLE)
			rc = bk_aws__assume_role(aws, &aws->refresh, &fresh);
		else
			rc = bk_aws__imds_creds(&fresh);
		if (rc == 0)
			rc = install(aws, &fresh);
		else
			bk_err_wrap(rc, "renewing AWS credentials");
	}
	pthread_mutex_unlock(&aws->refresh_lock);
	return rc;
}
