/*
 * file.c - Packer's "file" provisioner: upload (default) or download
 * files and directories over SFTP, or write "content" to a remote file.
 * Local paths that are relative resolve against the template's directory.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "provision_internal.h"

static int upload_one(const bk_provision_ctx *ctx, const char *src, const char *dst,
		      bool generated)
{
	char *local = bk_prov_local_path(ctx->cfg, src);
	struct stat st;
	int rc;

	if (!local)
		return bk_err(BAKEAMI_ENOMEM, "out of memory");
	/* A "generated" source is made by an earlier step, so it may not
	 * have existed when the template was checked; now it must. */
	if (stat(local, &st) < 0) {
		rc = bk_prov_fail(ctx, generated ? BAKEAMI_EIO : BAKEAMI_EINVALID,
				  "source %s does not exist (%s)", local, strerror(errno));
		free(local);
		return rc;
	}
	bk_prov_log(ctx, "uploading %s to %s", src, dst);
	rc = bk_ssh_upload(ctx->ssh, local, dst);
	free(local);
	return rc < 0 ? bk_prov_wrap(ctx, rc) : 0;
}

static int download_one(const bk_provision_ctx *ctx, const char *src, const char *dst)
{
	char *local = bk_prov_local_path(ctx->cfg, dst);
	int rc;

	if (!local)
		return bk_err(BAKEAMI_ENOMEM, "out of memory");
	bk_prov_log(ctx, "downloading %s to %s", src, local);
	rc = bk_ssh_download(ctx->ssh, src, local);
	free(local);
	return rc < 0 ? bk_prov_wrap(ctx, rc) : 0;
}

static int put_content(const bk_provision_ctx *ctx, const char *content, const char *dst)
{
	int rc;

	bk_prov_log(ctx, "writing content to %s", dst);
	rc = bk_ssh_put(ctx->ssh, dst, content, strlen(content), 0644);
	return rc < 0 ? bk_prov_wrap(ctx, rc) : 0;
}

static int check_config(const bk_provision_ctx *ctx, const char *dst, const char *dir,
			size_t nsources, bool content)
{
	if (!dst || !*dst)
		return bk_prov_fail(ctx, BAKEAMI_EINVALID, "destination is required");
	if (strcmp(dir, "upload") != 0 && strcmp(dir, "download") != 0)
		return bk_prov_fail(ctx, BAKEAMI_EINVALID, "direction must be upload or download, "
				    "not %s", dir);
	if (content && (nsources > 0 || strcmp(dir, "upload") != 0))
		return bk_prov_fail(ctx, BAKEAMI_EINVALID, "content cannot go with sources or a "
				    "download");
	if (!content && nsources == 0)
		return bk_prov_fail(ctx, BAKEAMI_EINVALID, "needs source, sources or content");
	/* Several sources all land in one directory, which the slash marks. */
	if (nsources > 1 && !bk_str_ends(dst, "/"))
		return bk_prov_fail(ctx, BAKEAMI_EINVALID, "destination must end in / when there "
				    "are several sources");
	return 0;
}

int bk_prov_file(const bk_prov_run *r)
{
	const bk_provision_ctx *ctx = r->ctx;
	const cJSON *cfg = ctx->prov->cfg;
	const char *dst = bk_prov_str(cfg, "destination"), *dir = bk_prov_str(cfg, "direction");
	const char *content = bk_prov_str(cfg, "content");
	bool generated = bk_prov_bool(cfg, "generated", false);
	bk_strv src = BK_STRV_INIT;
	int rc = bk_prov_strv(cfg, "source", &src);

	rc = rc ? rc : bk_prov_strv(cfg, "sources", &src);
	if (!dir || !*dir)
		dir = "upload";
	rc = rc ? rc : check_config(ctx, dst, dir, src.count, content != NULL);
	if (rc == 0 && content)
		rc = put_content(ctx, content, dst);
	for (size_t i = 0; rc == 0 && i < src.count; i++) {
		double left;
		/* Transfers themselves only stop on cancel; the timeout is
		 * checked between sources. */
		if (bk_cancelled(ctx->cancel))
			rc = bk_prov_fail(ctx, BAKEAMI_ECANCELLED, "cancelled");
		else if ((rc = bk_prov_time_left(r, &left)) < 0)
			break;
		else if (strcmp(dir, "upload") == 0)
			rc = upload_one(ctx, src.items[i], dst, generated);
		else
			rc = download_one(ctx, src.items[i], dst);
	}
	bk_strv_free(&src);
	return rc;
}
