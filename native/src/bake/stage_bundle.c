/*
 * stage_bundle.c - BUNDLE_VOLUME (amazon-instance): the x509 pair uploaded
 * to x509_upload_path (mode 0600), then bundle_vol_command run on the
 * instance, as Packer's StepUploadX509Cert and StepBundleVolume do. Also
 * the helpers UPLOAD_BUNDLE shares: a bundle command rendered and run,
 * and the pair removed again, on every way out. The fields of each command
 * are the ones template/validate.c checks it against.
 */
#include <stdlib.h>
#include <string.h>

#include "../provision/cmdtmpl.h"
#include "bake.h"

/* Packer's Go-template forms ({{.Field}}, {{if .Token}}...{{end}}) with
 * this command's fields, by the provision layer's renderer. */
static int render(char **out, const char *option, const char *tmpl,
		  const bk_bundle_field *f, size_t n)
{
	bk_cmd_field cf[16];

	if (n > BK_ARRAY_SIZE(cf))
		return bk_err(BAKEAMI_ERROR, "%s: too many fields", option);
	for (size_t i = 0; i < n; i++)
		cf[i] = (bk_cmd_field){f[i].name, f[i].value, false};
	return bk_cmd_render(out, tmpl, cf, n, option);
}

int bk_bundle_run(bakeami_bake *b, const char *option, const char *tmpl,
		  const bk_bundle_field *f, size_t n, int hint_status, const char *hint)
{
	char *cmd = NULL;
	int status = -1;
	int rc = render(&cmd, option, tmpl, f, n);

	if (rc < 0)
		return rc;
	bk_step(b, "running %s: %s", option, cmd);   /* secrets masked by the event */
	rc = bk_ssh_exec(&status, b->ssh, cmd, 0, bk_output_line, b);
	free(cmd);
	if (rc == 0 && status != 0) {
		bool say = hint && (hint_status == 0 || hint_status == status);
		rc = bk_err(BAKEAMI_EPROVISION, "%s exited with status %d%s%s", option, status,
			    say ? ": " : "", say ? hint : "");
	}
	return rc;
}

int bk_bundle_remove_x509(bakeami_bake *b)
{
	bk_buf cmd = BK_BUF_INIT;
	int status = -1, rc = 0;

	if (!b->x509_remote.count || !b->ssh)
		return 0;
	rc = bk_buf_puts(&cmd, "rm -f --");
	for (size_t i = 0; rc == 0 && i < b->x509_remote.count; i++)
		rc = bk_buf_printf(&cmd, " '%s'", b->x509_remote.items[i]);
	if (rc == 0)
		rc = bk_ssh_exec(&status, b->ssh, cmd.ptr, 60, bk_output_line, b);
	bk_buf_free(&cmd);
	if (rc == 0 && status != 0)
		rc = bk_err(BAKEAMI_EPROVISION, "removing the x509 pair from the instance exited "
			    "with status %d", status);
	if (rc == 0) {
		bk_step(b, "removed the x509 pair from %s", b->cfg->x509_upload_path);
		bk_strv_free(&b->x509_remote);
	} else {
		bk_warn(b, "the x509 pair may still be in %s on %s (it goes with the instance): %s",
			b->cfg->x509_upload_path, b->instance.id, bk_err_msg());
	}
	return rc;
}

/* The key's contents are a secret: the whole of it and each of its lines,
 * should a command print it. */
static int mask_key(bakeami_bake *b, const char *pem)
{
	const char *p = pem;
	int rc = bk_add_secret(b, pem);

	while (rc == 0 && *p) {
		size_t n = strcspn(p, "\r\n");
		char *line = n >= 16 && strncmp(p, "-----", 5) ? bk_strndup(p, n) : NULL;
		if (line)
			rc = bk_add_secret(b, line);
		free(line);
		p += n;
		p += strspn(p, "\r\n");
	}
	return rc;
}

static int upload_one(bakeami_bake *b, const char *local, const char *name, bool secret)
{
	char *data = NULL, *remote = bk_sprintf("%s/%s", b->cfg->x509_upload_path, name);
	size_t len = 0;
	int rc = remote ? bk_file_read(&data, &len, local) : bk_oom();

	if (rc == 0 && secret)
		rc = mask_key(b, data);
	/* Listed before the upload: a half-written file is removed too. */
	if (rc == 0)
		rc = bk_strv_push(&b->x509_remote, remote);
	if (rc == 0)
		rc = bk_ssh_put(b->ssh, remote, data, len, 0600);
	if (data)
		explicit_bzero(data, len);
	free(data);
	free(remote);
	return rc;
}

static int bundle_volume(bakeami_bake *b)
{
	const bk_build_config *c = b->cfg;
	char *cert = bk_sprintf("%s/cert.pem", c->x509_upload_path);
	char *key = bk_sprintf("%s/key.pem", c->x509_upload_path);
	const char *arch = b->instance.architecture ? b->instance.architecture : "x86_64";
	bk_bundle_field f[] = {
		{"AccountId", c->account_id}, {"Architecture", arch}, {"CertPath", cert},
		{"Destination", c->bundle_destination}, {"KeyPath", key},
		{"Prefix", c->bundle_prefix}, {"PrivatePath", c->x509_upload_path},
	};
	int rc = cert && key ? 0 : bk_oom();

	if (rc == 0)
		rc = bk_bundle_run(b, "bundle_vol_command", c->bundle_vol_command, f,
				   BK_ARRAY_SIZE(f), 0, "is ec2-bundle-vol (ec2-ami-tools) on the "
				   "instance's PATH?");
	if (rc == 0 && !(b->manifest_path = bk_sprintf("%s/%s.manifest.xml",
						       c->bundle_destination, c->bundle_prefix)))
		rc = bk_oom();
	free(cert);
	free(key);
	return rc;
}

int bk_stage_bundle_volume(bakeami_bake *b)
{
	const bk_build_config *c = b->cfg;
	int rc;

	if (c->skip_create_ami) {
		bk_step(b, "skip_create_ami: nothing is bundled");
		return 0;
	}
	bk_step(b, "uploading the x509 pair to %s", c->x509_upload_path);
	if ((rc = upload_one(b, c->x509_cert_path, "cert.pem", false)) == 0 &&
	    (rc = upload_one(b, c->x509_key_path, "key.pem", true)) == 0)
		rc = bundle_volume(b);
	if (rc < 0) {
		char *why = bk_strdup(bk_err_msg());
		bk_bundle_remove_x509(b);
		bk_err(rc, "%s", why ? why : "bundling failed");
		free(why);
	}
	return rc;
}
