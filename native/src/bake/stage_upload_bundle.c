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

/* Packer's hint for exit status 3 (StepUploadBundle). */
#define UPLOAD_HINT "check that the bucket does not exist, or exists and is writable by " \
	"these credentials"

static int upload(bakeami_bake *b)
{
	const bk_build_config *c = b->cfg;
	const bk_aws_creds *cr = bk_aws_credentials(b->aws);
	bk_bundle_field f[] = {
		{"AccessKey", cr->access_key_id}, {"BucketName", c->s3_bucket},
		{"BundleDirectory", c->bundle_destination}, {"ManifestPath", b->manifest_path},
		{"ManifestName", strrchr(b->manifest_path, '/') + 1},
		{"Prefix", c->bundle_prefix}, {"Region", bk_aws_region(b->aws)},
		{"SecretKey", cr->secret_access_key}, {"Token", cr->session_token},
	};
	int rc;

	/* Already in the set from VALIDATE; said again where they are used. */
	if ((rc = bk_add_secret(b, cr->secret_access_key)) < 0 ||
	    (rc = bk_add_secret(b, cr->session_token)) < 0)
		return rc;
	if (!(b->bundle_id = bk_sprintf("%s/%s", c->s3_bucket, c->bundle_prefix)))
		return bk_oom();
	if ((rc = bk_journal_intent(b->journal, "s3-bundle", b->bundle_id)) < 0)
		return rc;
	rc = bk_bundle_run(b, "bundle_upload_command", c->bundle_upload_command, f,
			   BK_ARRAY_SIZE(f), 3, UPLOAD_HINT);
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
