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
		return bk_oom();
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
		return bk_oom();
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

int bk_prov_file(const bk_prov_run *r)
{
	const bk_provision_ctx *ctx = r->ctx;
	const bk_prov_file_cfg *f = &ctx->prov->u.file;
	int rc = 0;

	/* The shape (destination, one of sources or content, the slash for
	 * several sources) was checked by template/ before the bake began. */
	if (f->content)
		rc = put_content(ctx, f->content, f->destination);
	for (size_t i = 0; rc == 0 && i < f->sources.count; i++) {
		double left;
		/* Transfers themselves only stop on cancel; the timeout is
		 * checked between sources. */
		if (bk_cancelled(ctx->cancel))
			rc = bk_prov_fail(ctx, BAKEAMI_ECANCELLED, "cancelled");
		else if ((rc = bk_prov_time_left(r, &left)) < 0)
			break;
		else if (!f->download)
			rc = upload_one(ctx, f->sources.items[i], f->destination, f->generated);
		else
			rc = download_one(ctx, f->sources.items[i], f->destination);
	}
	return rc;
}
