/*
 * stage_upload_bundle.c - UPLOAD_BUNDLE (amazon-instance): the bundle
 * uploaded to s3_bucket by bundle_upload_command on the instance, as
 * Packer's StepUploadBundle; then the x509 pair is removed. The bundle's
 * objects are a ledger entry from before the command runs, so a failure
 * (or a kill) after it leaves nothing in S3.
 */
#include <stdlib.h>
#include <string.h>

#include "bake.h"

/* The credentials as ec2-upload-bundle reads them from its environment;
 * AWS keys and tokens are base64 and never hold a quote. */
static int credentials_text(bk_buf *out, const bk_aws_creds *cr)
{
	const char *vals[] = {cr->access_key_id, cr->secret_access_key, cr->session_token};
	const char *names[] = {"AWS_ACCESS_KEY", "AWS_SECRET_KEY", "AWS_DELEGATION_TOKEN"};
	int rc = 0;

	for (size_t i = 0; rc == 0 && i < BK_ARRAY_SIZE(vals); i++) {
		if (vals[i] && strchr(vals[i], '\''))
			return bk_err(BAKEAMI_EINVALID, "the AWS credentials hold a quote (%s)", names[i]);
		if (vals[i] && *vals[i])
			rc = bk_buf_printf(out, "export %s='%s'\n", names[i], vals[i]);
	}
	return rc < 0 ? bk_oom() : 0;
}

/* A command that names {{.CredentialsFile}} (the default) gets the keys in
 * a file only its user reads, not on its command line; *path is where. */
static int put_credentials(char **path, bakeami_bake *b, const bk_aws_creds *cr)
{
	bk_buf text = BK_BUF_INIT;
	int rc;

	*path = NULL;
	if (!strstr(b->cfg->bundle_upload_command, ".CredentialsFile"))
		return 0;
	if (!(*path = bk_sprintf("%s/bakeami-upload-%s.env", b->cfg->x509_upload_path, b->run_id)))
		return bk_oom();
	rc = credentials_text(&text, cr);
	if (rc == 0)
		rc = bk_ssh_put(b->ssh, *path, text.ptr ? text.ptr : "", text.len, 0600);
	bk_buf_free(&text);
	return rc;
}

/* The command removes the file once read; this is for when it did not. */
static void remove_credentials(bakeami_bake *b, const char *path)
{
	char *cmd = path ? bk_sprintf("rm -f -- '%s'", path) : NULL;
	int status = -1;

	if (cmd && b->ssh && (bk_ssh_exec(&status, b->ssh, cmd, 60, bk_output_line, b) < 0 ||
			      status != 0))
		bk_warn(b, "%s may still be on %s (mode 0600; it goes with the instance)", path,
			b->instance.id);
	free(cmd);
}

/* Packer's hint for exit status 3 (StepUploadBundle). */
#define UPLOAD_HINT "check that the bucket does not exist, or exists and is writable by " \
	"these credentials"

static int upload(bakeami_bake *b)
{
	const bk_build_config *c = b->cfg;
	const bk_aws_creds *cr = bk_aws_credentials(b->aws);
	char *creds = NULL;
	bk_bundle_field f[] = {
		{"AccessKey", cr->access_key_id}, {"BucketName", c->s3_bucket},
		{"BundleDirectory", c->bundle_destination}, {"CredentialsFile", NULL},
		{"ManifestPath", b->manifest_path}, {"ManifestName", strrchr(b->manifest_path, '/') + 1},
		{"Prefix", c->bundle_prefix}, {"Region", bk_aws_region(b->aws)},
		{"SecretKey", cr->secret_access_key}, {"Token", cr->session_token},
	};
	int rc;

	/* Already in the set from VALIDATE; said again where they are used. */
	if ((rc = bk_add_secret(b, cr->secret_access_key)) < 0 ||
	    (rc = bk_add_secret(b, cr->session_token)) < 0)
		return rc;
	if ((rc = put_credentials(&creds, b, cr)) < 0) {
		remove_credentials(b, creds);
		free(creds);
		return rc;
	}
	f[3].value = creds;
	if (!(b->bundle_id = bk_sprintf("%s/%s", c->s3_bucket, c->bundle_prefix)))
		return bk_oom();
	if ((rc = bk_journal_intent(b->journal, "s3-bundle", b->bundle_id)) < 0)
		return rc;
	rc = bk_bundle_run(b, "bundle_upload_command", c->bundle_upload_command, f,
			   BK_ARRAY_SIZE(f), 3, UPLOAD_HINT);
	remove_credentials(b, creds);
	free(creds);
	/* A failed upload may have written some parts: created either way, so
	 * CLEANUP removes whatever is there. */
	int jrc = bk_journal_created(b->journal, "s3-bundle", b->bundle_id);
	return rc < 0 ? rc : jrc;
}

int bk_stage_upload_bundle(bakeami_bake *b)
{
	int rc;

	if (b->cfg->skip_create_ami)
		return 0;
	rc = upload(b);
	if (rc == 0) {
		bk_step(b, "bundle uploaded to s3://%s/%s.*", b->cfg->s3_bucket, b->cfg->bundle_prefix);
		return bk_bundle_remove_x509(b);
	}
	char *why = bk_strdup(bk_err_msg());
	bk_bundle_remove_x509(b);
	bk_err(rc, "%s", why ? why : "the bundle upload failed");
	free(why);
	return rc;
}
