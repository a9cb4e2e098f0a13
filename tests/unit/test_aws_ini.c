/*
 * test_aws_ini.c - AWS shared config files (aws/ini.c) and the parts of the
 * credential chain that need no network: explicit keys, environment,
 * static profiles, region lookup and the error messages. (AssumeRole is
 * exercised against moto in tests/e2e/test_aws_signing.py.)
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "aws/aws.h"
#include "aws/aws_int.h"

static const char config[] =
	"# comment\n"
	"; another comment\n"
	"[default]\n"
	"region = us-east-1\n"
	"output=json\n"
	"\n"
	"[profile  dev]\r\n"
	"region = eu-west-1\r\n"
	"role_arn = arn:aws:iam::123456789012:role/bake\r\n"
	"s3 =\n"
	"  region = nested-ignored\n"
	"empty =\n"
	"[ profile prod ]\n"
	"region=ap-southeast-2\n"
	"region = later-wins\n"
	"url = http://x/?a=b\n";

static void reads_keys_by_section(void **state)
{
	char *v;

	(void)state;
	v = bk_ini_get(config, "default", "region");
	assert_string_equal(v, "us-east-1");
	free(v);
	v = bk_ini_get(config, "default", "output");
	assert_string_equal(v, "json");
	free(v);
	/* Inner blanks collapse, CRLF is trimmed, nested blocks are skipped. */
	v = bk_ini_get(config, "profile dev", "region");
	assert_string_equal(v, "eu-west-1");
	free(v);
	v = bk_ini_get(config, "profile dev", "role_arn");
	assert_string_equal(v, "arn:aws:iam::123456789012:role/bake");
	free(v);
	v = bk_ini_get(config, "profile dev", "empty");
	assert_string_equal(v, "");
	free(v);
	v = bk_ini_get(config, "profile prod", "region");
	assert_string_equal(v, "later-wins");
	free(v);
	/* Only the first '=' splits. */
	v = bk_ini_get(config, "profile prod", "url");
	assert_string_equal(v, "http://x/?a=b");
	free(v);
}

static void missing_things_are_null(void **state)
{
	(void)state;
	assert_null(bk_ini_get(config, "profile dev", "output"));
	assert_null(bk_ini_get(config, "dev", "region"));
	assert_null(bk_ini_get(config, "profile nope", "region"));
	assert_null(bk_ini_get(config, "default", "# comment"));
	assert_null(bk_ini_get("", "default", "region"));
	assert_null(bk_ini_get(NULL, "default", "region"));
	assert_null(bk_ini_get("region = top-level\n[default]\n", "default", "region"));
	assert_true(bk_ini__has_section(config, "profile dev"));
	assert_false(bk_ini__has_section(config, "profile de"));
}

/* ---- the chain ------------------------------------------------------------------ */

typedef struct {
	char dir[64];
	char creds_path[96];
	char config_path[96];
} files;

static void clear_env(void)
{
	static const char *const vars[] = {
		"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE",
		"AWS_REGION", "AWS_DEFAULT_REGION", "AWS_SHARED_CREDENTIALS_FILE", "AWS_CONFIG_FILE",
		"AWS_ENDPOINT_URL"};

	for (size_t i = 0; i < BK_ARRAY_SIZE(vars); i++)
		unsetenv(vars[i]);
	/* Never reach for an instance metadata service from a unit test. */
	setenv("AWS_EC2_METADATA_DISABLED", "true", 1);
}

static int files_setup(void **state)
{
	static files f;
	static const char creds[] =
		"[default]\naws_access_key_id = AKIDDEFAULT\naws_secret_access_key = s1\n"
		"[ci]\naws_access_key_id=AKIDCI\naws_secret_access_key=s2\naws_session_token=t2\n"
		"[half]\naws_access_key_id = AKIDHALF\n";
	static const char cfg[] =
		"[default]\nregion = us-east-2\n"
		"[profile ci]\nregion = eu-central-1\n"
		"[profile norole]\nrole_arn = arn:aws:iam::1:role/r\n"
		"[profile mfa]\nrole_arn = arn:aws:iam::1:role/r\nsource_profile = ci\n"
		"mfa_serial = arn:aws:iam::1:mfa/me\n"
		"[profile regiononly]\nregion = sa-east-1\n";

	clear_env();
	snprintf(f.dir, sizeof(f.dir), "/tmp/bk-ini-XXXXXX");
	assert_non_null(mkdtemp(f.dir));
	snprintf(f.creds_path, sizeof(f.creds_path), "%s/credentials", f.dir);
	snprintf(f.config_path, sizeof(f.config_path), "%s/config", f.dir);
	assert_int_equal(bk_file_write(f.creds_path, creds, strlen(creds), 0600), 0);
	assert_int_equal(bk_file_write(f.config_path, cfg, strlen(cfg), 0600), 0);
	setenv("AWS_SHARED_CREDENTIALS_FILE", f.creds_path, 1);
	setenv("AWS_CONFIG_FILE", f.config_path, 1);
	*state = &f;
	return 0;
}

static int files_teardown(void **state)
{
	files *f = *state;

	unlink(f->creds_path);
	unlink(f->config_path);
	rmdir(f->dir);
	clear_env();
	return 0;
}

/* bk_aws_new with cfg; on success the source, key and region as "src|key|region". */
static int chain(char *out, size_t n, const bk_aws_config *cfg)
{
	bk_aws *aws = NULL;
	int rc = bk_aws_new(&aws, cfg);

	if (rc == 0) {
		const bk_aws_creds *c = bk_aws_credentials(aws);
		snprintf(out, n, "%s|%s|%s|%s", c->source, c->access_key_id,
			 c->session_token ? c->session_token : "-", bk_aws_region(aws));
	}
	bk_aws_free(aws);
	return rc;
}

static void explicit_then_env_then_profile(void **state)
{
	bk_aws_config cfg = {0};
	char got[256];

	(void)state;
	assert_int_equal(chain(got, sizeof(got), &cfg), 0);
	assert_string_equal(got, "profile default|AKIDDEFAULT|-|us-east-2");
	setenv("AWS_ACCESS_KEY_ID", "AKIDENV", 1);
	setenv("AWS_SECRET_ACCESS_KEY", "senv", 1);
	setenv("AWS_SESSION_TOKEN", "tenv", 1);
	setenv("AWS_REGION", "us-west-2", 1);
	assert_int_equal(chain(got, sizeof(got), &cfg), 0);
	assert_string_equal(got, "env|AKIDENV|tenv|us-west-2");
	cfg.access_key_id = "AKIDX";
	cfg.secret_access_key = "sx";
	cfg.region = "ca-central-1";
	assert_int_equal(chain(got, sizeof(got), &cfg), 0);
	assert_string_equal(got, "explicit|AKIDX|-|ca-central-1");
	clear_env();
	setenv("AWS_SHARED_CREDENTIALS_FILE", ((files *)*state)->creds_path, 1);
	setenv("AWS_CONFIG_FILE", ((files *)*state)->config_path, 1);
}

static void named_profile_gives_keys_and_region(void **state)
{
	bk_aws_config cfg = {0};
	char got[256];

	(void)state;
	setenv("AWS_PROFILE", "ci", 1);
	assert_int_equal(chain(got, sizeof(got), &cfg), 0);
	assert_string_equal(got, "profile ci|AKIDCI|t2|eu-central-1");
	/* AWS_DEFAULT_REGION beats the profile's region; the option beats the env. */
	setenv("AWS_DEFAULT_REGION", "us-west-1", 1);
	assert_int_equal(chain(got, sizeof(got), &cfg), 0);
	assert_string_equal(got, "profile ci|AKIDCI|t2|us-west-1");
	cfg.profile = "default";
	assert_int_equal(chain(got, sizeof(got), &cfg), 0);
	assert_string_equal(got, "profile default|AKIDDEFAULT|-|us-west-1");
	unsetenv("AWS_DEFAULT_REGION");
	unsetenv("AWS_PROFILE");
}

static void bad_setups_are_named(void **state)
{
	bk_aws_config cfg = {0};
	char got[256];

	(void)state;
	cfg.region = "us-east-1";
	cfg.profile = "nope";
	assert_int_equal(chain(got, sizeof(got), &cfg), BAKEAMI_EINVALID);
	assert_non_null(strstr(bk_err_msg(), "AWS profile \"nope\" not found in "));
	cfg.profile = "half";
	assert_int_equal(chain(got, sizeof(got), &cfg), BAKEAMI_EINVALID);
	assert_non_null(strstr(bk_err_msg(), "\"half\" has no aws_access_key_id"));
	cfg.profile = "norole";
	assert_int_equal(chain(got, sizeof(got), &cfg), BAKEAMI_EINVALID);
	assert_non_null(strstr(bk_err_msg(), "role_arn needs source_profile"));
	cfg.profile = "mfa";
	assert_int_equal(chain(got, sizeof(got), &cfg), BAKEAMI_EINVALID);
	assert_non_null(strstr(bk_err_msg(), "mfa_serial"));
	cfg.profile = "regiononly";
	assert_int_equal(chain(got, sizeof(got), &cfg), BAKEAMI_EINVALID);
	cfg.profile = NULL;
	setenv("AWS_ACCESS_KEY_ID", "AKIDONLY", 1);
	assert_int_equal(chain(got, sizeof(got), &cfg), BAKEAMI_EINVALID);
	assert_string_equal(bk_err_msg(), "AWS_ACCESS_KEY_ID is set but AWS_SECRET_ACCESS_KEY is not");
	unsetenv("AWS_ACCESS_KEY_ID");
	cfg.access_key_id = "AKID";
	assert_int_equal(chain(got, sizeof(got), &cfg), BAKEAMI_EINVALID);
	assert_non_null(strstr(bk_err_msg(), "without its secret access key"));
}

static void nothing_found(void **state)
{
	bk_aws_config cfg = {0};
	char got[256];

	(void)state;
	setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/credentials", 1);
	setenv("AWS_CONFIG_FILE", "/nonexistent/config", 1);
	cfg.region = "us-east-1";
	assert_int_equal(chain(got, sizeof(got), &cfg), BAKEAMI_EINVALID);
	assert_string_equal(bk_err_msg(), "no AWS credentials: set AWS_ACCESS_KEY_ID/"
			    "AWS_SECRET_ACCESS_KEY, AWS_PROFILE, or run on an instance with a role");
	cfg.region = NULL;
	cfg.access_key_id = "AKID";
	cfg.secret_access_key = "s";
	assert_int_equal(chain(got, sizeof(got), &cfg), BAKEAMI_EINVALID);
	assert_non_null(strstr(bk_err_msg(), "no AWS region: "));
	assert_non_null(strstr(bk_err_msg(), "AWS_REGION"));
	assert_non_null(strstr(bk_err_msg(), "AWS_DEFAULT_REGION"));
	setenv("AWS_SHARED_CREDENTIALS_FILE", ((files *)*state)->creds_path, 1);
	setenv("AWS_CONFIG_FILE", ((files *)*state)->config_path, 1);
}

/* The role's session length and MFA settings, checked as STS takes them
 * before any call (bk_aws_new refuses them with this message). */
static void role_mfa_settings_are_checked(void **state)
{
	const char *serial = "arn:aws:iam::123456789012:mfa/ci";

	(void)state;
	assert_int_equal(bk_aws_role_mfa_check(0, NULL, NULL, "x"), 0);
	assert_int_equal(bk_aws_role_mfa_check(900, serial, "012345", "x"), 0);
	assert_int_equal(bk_aws_role_mfa_check(43200, "GAHT12345678", "999999", "x"), 0);
	assert_int_equal(bk_aws_role_mfa_check(899, NULL, NULL, "x"), BAKEAMI_EINVALID);
	assert_non_null(strstr(bk_err_msg(), "x: the role session duration must be 900 to 43200"));
	assert_int_equal(bk_aws_role_mfa_check(43201, NULL, NULL, "x"), BAKEAMI_EINVALID);
	assert_int_equal(bk_aws_role_mfa_check(0, NULL, "123456", "x"), BAKEAMI_EINVALID);
	assert_non_null(strstr(bk_err_msg(), "an MFA code was given without the serial number"));
	assert_int_equal(bk_aws_role_mfa_check(0, serial, NULL, "x"), BAKEAMI_EINVALID);
	assert_non_null(strstr(bk_err_msg(), "asks for a code from MFA device arn:aws:iam::123456789012:mfa/ci"));
	assert_int_equal(bk_aws_role_mfa_check(0, serial, "12345", "x"), BAKEAMI_EINVALID);
	assert_non_null(strstr(bk_err_msg(), "the MFA code must be the 6 digits"));
	assert_int_equal(bk_aws_role_mfa_check(0, serial, "1234567", "x"), BAKEAMI_EINVALID);
	assert_int_equal(bk_aws_role_mfa_check(0, serial, "12345a", "x"), BAKEAMI_EINVALID);
	assert_int_equal(bk_aws_role_mfa_check(0, "short", "123456", "x"), BAKEAMI_EINVALID);
	assert_non_null(strstr(bk_err_msg(), "the MFA serial number \"short\""));
	assert_int_equal(bk_aws_role_mfa_check(0, "has space in it", "123456", "x"), BAKEAMI_EINVALID);
}

/* ---- an MFA session is never renewed ----------------------------------- */

static int warnings;
static char last_warning[512];

static void count_warnings(bk_log_level level, const char *msg, void *payload)
{
	(void)payload;
	if (level == BK_LOG_WARN) {
		warnings++;
		snprintf(last_warning, sizeof(last_warning), "%s", msg);
	}
}

/* A client holding a session an MFA code bought (as from_caller_role leaves
 * it), expiring at `expires`, due for renewal at `renew_at`. */
static bk_aws *mfa_client(double expires, double renew_at)
{
	bk_aws *aws = calloc(1, sizeof(*aws));

	assert_non_null(aws);
	pthread_mutex_init(&aws->lock, NULL);
	pthread_mutex_init(&aws->refresh_lock, NULL);
	aws->log = (bk_logger){count_warnings, NULL};
	aws->refresh.kind = BK_REFRESH_MFA;
	aws->refresh.role_arn = strdup("arn:aws:iam::123456789012:role/baker");
	aws->refresh.mfa_serial = strdup("arn:aws:iam::123456789012:mfa/ci");
	assert_int_equal(bk_aws__creds_set(&aws->creds, "ASIAEXAMPLE", "s", "t", "assume-role x", expires), 0);
	aws->renew_at = renew_at;
	return aws;
}

/* Renewal time brings one warning and no STS call (the client has no
 * curl handle: a call would crash); expiry, or AWS saying so, an error. */
static void an_mfa_session_is_warned_about_then_refused(void **state)
{
	double now = bk_wall();
	bk_aws *aws = mfa_client(now + 100, now - 1);

	(void)state;
	warnings = 0;
	assert_int_equal(bk_aws__refresh_creds(aws, false), 0);
	assert_int_equal(bk_aws__refresh_creds(aws, false), 0);
	assert_int_equal(warnings, 1);
	assert_non_null(strstr(last_warning, "the session of role arn:aws:iam::123456789012:role/baker (MFA "
			       "device arn:aws:iam::123456789012:mfa/ci) expires at "));
	assert_non_null(strstr(last_warning, "cannot be renewed without a new MFA code"));
	assert_int_equal(bk_aws__refresh_creds(aws, true), BAKEAMI_EAWS); /* ExpiredToken from AWS */
	assert_non_null(strstr(bk_err_msg(), "a session bought with an MFA code cannot be renewed"));
	bk_aws_free(aws);

	aws = mfa_client(now - 1, now - 10);
	assert_int_equal(bk_aws__refresh_creds(aws, false), BAKEAMI_EAWS);
	assert_non_null(strstr(bk_err_msg(), "the session of role arn:aws:iam::123456789012:role/baker, "
			       "assumed with a code from MFA device arn:aws:iam::123456789012:mfa/ci, expired at "));
	assert_non_null(strstr(bk_err_msg(), "`bakeami cleanup --journal`"));
	bk_aws_free(aws);
}

int main(void)
{
	const struct CMUnitTest ini[] = {
		cmocka_unit_test(reads_keys_by_section),
		cmocka_unit_test(missing_things_are_null),
	};
	const struct CMUnitTest chain_tests[] = {
		cmocka_unit_test(explicit_then_env_then_profile),
		cmocka_unit_test(named_profile_gives_keys_and_region),
		cmocka_unit_test(bad_setups_are_named),
		cmocka_unit_test(nothing_found),
		cmocka_unit_test(role_mfa_settings_are_checked),
		cmocka_unit_test(an_mfa_session_is_warned_about_then_refused),
	};
	int failed = cmocka_run_group_tests_name("ini", ini, NULL, NULL);

	return failed + cmocka_run_group_tests_name("chain", chain_tests, files_setup,
						    files_teardown);
}
