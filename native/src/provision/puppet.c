/*
 * puppet.c - Packer's "puppet-masterless" and "puppet-server"
 * provisioners (1.6.6): make the staging directory, upload what the run
 * needs over SFTP (manifests, module paths, hiera config; or the client
 * certificate and key directories, kept private), run `puppet apply` or
 * `puppet agent --onetime` with --detailed-exitcodes through execute_command
 * (Go-template forms, cmdtmpl.h), stream its output, judge its exit code,
 * and remove the staging directory on every way out.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cmdtmpl.h"
#include "provision_internal.h"

#define CLEANUP_TIMEOUT_S 60.0
#define PRIVATE_MKDIR "mkdir -m 0700"

/* Packer 1.6.6's unix defaults. */
#define MASTERLESS_COMMAND                                                               \
	"cd {{.WorkingDir}} && {{if ne .FacterVars \"\"}}{{.FacterVars}} {{end}}"           \
	"{{if .Sudo}}sudo -E {{end}}{{if ne .PuppetBinDir \"\"}}{{.PuppetBinDir}}/{{end}}"  \
	"puppet apply --detailed-exitcodes {{if .Debug}}--debug {{end}}"                    \
	"{{if ne .ModulePath \"\"}}--modulepath='{{.ModulePath}}' {{end}}"                  \
	"{{if ne .HieraConfigPath \"\"}}--hiera_config='{{.HieraConfigPath}}' {{end}}"      \
	"{{if ne .ManifestDir \"\"}}--manifestdir='{{.ManifestDir}}' {{end}}"               \
	"{{if ne .ExtraArguments \"\"}}{{.ExtraArguments}} {{end}}{{.ManifestFile}}"
#define SERVER_COMMAND                                                                   \
	"cd {{.WorkingDir}} && {{if ne .FacterVars \"\"}}{{.FacterVars}} {{end}}"           \
	"{{if .Sudo}}sudo -E {{end}}{{if ne .PuppetBinDir \"\"}}{{.PuppetBinDir}}/{{end}}"  \
	"puppet agent --onetime --no-daemonize --detailed-exitcodes "                       \
	"{{if .Debug}}--debug {{end}}"                                                      \
	"{{if ne .PuppetServer \"\"}}--server='{{.PuppetServer}}' {{end}}"                  \
	"{{if ne .PuppetNode \"\"}}--certname='{{.PuppetNode}}' {{end}}"                    \
	"{{if ne .ClientCertPath \"\"}}--certdir='{{.ClientCertPath}}' {{end}}"             \
	"{{if ne .ClientPrivateKeyPath \"\"}}--privatekeydir='{{.ClientPrivateKeyPath}}' {{end}}" \
	"{{if ne .ExtraArguments \"\"}}{{.ExtraArguments}} {{end}}"

typedef struct {
	const bk_prov_run *r;
	const bk_provision_ctx *ctx;
	const bk_prov_puppet_cfg *cfg;
	bool server, sudo;
	const char *staging;
	char *manifest_file, *manifest_dir, *hiera, *module_path;   /* remote */
	char *cert_dir, *key_dir;                                   /* remote */
	char *facter_vars, *extra_args;
	bool staged;                 /* the staging directory may exist: remove it */
} puppet;

/* ---- remote commands ------------------------------------------------ */

/* Run cmd, its output streamed; BAKEAMI_EPROVISION naming what on a
 * non-zero status. cleanup: its own time limit, not the provisioner's. */
static int remote(puppet *pp, const char *what, const char *cmd, bool cleanup)
{
	double left = CLEANUP_TIMEOUT_S;
	int status = -1, rc = cleanup ? 0 : bk_prov_time_left(pp->r, &left);

	rc = rc ? rc : bk_ssh_exec(&status, pp->ctx->ssh, cmd, left, pp->ctx->output,
				   pp->ctx->output_payload);
	if (rc < 0)
		return bk_prov_wrap(pp->ctx, rc);
	if (status != 0)
		return bk_prov_fail(pp->ctx, BAKEAMI_EPROVISION, "%s failed (status %d)", what, status);
	return 0;
}

/* "[sudo ]<verb> '<path>'", as Packer's guest commands. */
static int path_cmd(puppet *pp, const char *what, const char *verb, const char *path,
		    bool cleanup)
{
	bk_buf cmd = BK_BUF_INIT;
	/* The private directory is the SSH user's own, made without sudo. */
	bool sudo = pp->sudo && strcmp(verb, PRIVATE_MKDIR) != 0;
	int rc = bk_buf_printf(&cmd, "%s%s ", sudo ? "sudo " : "", verb);

	rc = rc ? rc : bk_sh_quote(&cmd, path);
	rc = rc ? rc : remote(pp, what, cmd.ptr, cleanup);
	bk_buf_free(&cmd);
	return rc;
}

/* Packer's: sudo mkdir -p, then chmod 0777 so the SSH user can upload into
 * it. A private one (the client's keys) is the SSH user's own, 0700, made
 * inside that staging directory without sudo. */
static int make_dir(puppet *pp, const char *dir, bool private_dir)
{
	int rc;

	bk_prov_log(pp->ctx, "creating directory %s", dir);
	if (private_dir)
		return path_cmd(pp, "creating the directory", PRIVATE_MKDIR, dir, false);
	rc = path_cmd(pp, "creating the directory", "mkdir -p", dir, false);
	return rc ? rc : path_cmd(pp, "setting the directory's mode", "chmod 0777", dir, false);
}

/* ---- uploads --------------------------------------------------------- */

static int upload(puppet *pp, const char *local, const char *remote_path)
{
	int rc = bk_ssh_upload(pp->ctx->ssh, local, remote_path);

	return rc < 0 ? bk_prov_wrap(pp->ctx, rc) : 0;
}

/* A local directory's contents into a new remote directory. */
static int upload_dir(puppet *pp, char **out, const char *local, const char *name,
		      bool private_dir)
{
	char *src = bk_sprintf("%s%s", local, bk_str_ends(local, "/") ? "" : "/");
	int rc;

	*out = bk_sprintf("%s/%s", pp->staging, name);
	if (!src || !*out) {
		free(src);
		return bk_oom();
	}
	bk_prov_log(pp->ctx, "uploading %s to %s", local, *out);
	rc = make_dir(pp, *out, private_dir);
	rc = rc ? rc : upload(pp, src, *out);
	free(src);
	return rc;
}

static int upload_hiera(puppet *pp)
{
	if (!pp->cfg->hiera_config_path)
		return 0;
	if (!(pp->hiera = bk_sprintf("%s/hiera.yaml", pp->staging)))
		return bk_oom();
	bk_prov_log(pp->ctx, "uploading hiera configuration %s", pp->cfg->hiera_config_path);
	return upload(pp, pp->cfg->hiera_config_path, pp->hiera);
}

static int upload_modules(puppet *pp)
{
	const bk_strv *paths = &pp->cfg->module_paths;
	bk_buf joined = BK_BUF_INIT;
	int rc = 0;

	for (size_t i = 0; rc == 0 && i < paths->count; i++) {
		char name[32], *dst = NULL;
		snprintf(name, sizeof(name), "module-%zu", i);
		rc = upload_dir(pp, &dst, paths->items[i], name, false);
		rc = rc ? rc : bk_buf_printf(&joined, "%s%s", i ? ":" : "", dst);
		free(dst);
	}
	pp->module_path = rc == 0 ? bk_buf_detach(&joined) : NULL;
	bk_buf_free(&joined);
	return rc ? rc : pp->module_path || paths->count == 0 ? 0 : bk_oom();
}

/* manifest_file: a directory goes whole into manifests/, a file into it. */
static int upload_manifests(puppet *pp)
{
	const char *local = pp->cfg->manifest_file, *slash = strrchr(local, '/');
	struct stat st;
	int rc;

	if (stat(local, &st) == 0 && S_ISDIR(st.st_mode))
		return upload_dir(pp, &pp->manifest_file, local, "manifests", false);
	if (!(pp->manifest_file = bk_sprintf("%s/manifests/%s", pp->staging,
					      slash ? slash + 1 : local)))
		return bk_oom();
	char *dir = bk_sprintf("%s/manifests", pp->staging);
	rc = dir ? make_dir(pp, dir, false) : bk_oom();
	free(dir);
	bk_prov_log(pp->ctx, "uploading manifest %s", local);
	return rc ? rc : upload(pp, local, pp->manifest_file);
}

static int upload_masterless(puppet *pp)
{
	int rc = upload_hiera(pp);

	if (rc == 0 && pp->cfg->manifest_dir)
		rc = upload_dir(pp, &pp->manifest_dir, pp->cfg->manifest_dir, "manifests", false);
	rc = rc ? rc : upload_modules(pp);
	return rc ? rc : upload_manifests(pp);
}

/* The client's certificate and key directories: private to the SSH user
 * (0700, files 0600), gone with the staging directory. */
static int upload_client_keys(puppet *pp)
{
	int rc = 0;

	if (pp->cfg->client_cert_path)
		rc = upload_dir(pp, &pp->cert_dir, pp->cfg->client_cert_path, "certs", true);
	if (rc == 0 && pp->cfg->client_private_key_path)
		rc = upload_dir(pp, &pp->key_dir, pp->cfg->client_private_key_path,
				"private_keys", true);
	if (rc == 0 && pp->cert_dir)
		rc = path_cmd(pp, "making the client certificates private", "chmod -R go=",
			      pp->cert_dir, false);
	if (rc == 0 && pp->key_dir)
		rc = path_cmd(pp, "making the client keys private", "chmod -R go=", pp->key_dir,
			      false);
	return rc;
}

/* ---- the command ----------------------------------------------------- */

/* FACTER_<name>='<value>' for each fact, by name, with Packer's two. */
static int set_facter_vars(puppet *pp)
{
	bk_kv facts = BK_KV_INIT;
	const char *name = pp->ctx->env ? bk_kv_get(pp->ctx->env, "PACKER_BUILD_NAME") : NULL;
	const char *type = pp->ctx->env ? bk_kv_get(pp->ctx->env, "PACKER_BUILDER_TYPE") : NULL;
	bk_buf b = BK_BUF_INIT;
	int rc = bk_kv_set(&facts, "packer_build_name", name ? name : "");

	rc = rc ? rc : bk_kv_set(&facts, "packer_builder_type", type ? type : "");
	for (size_t i = 0; rc == 0 && i < pp->cfg->facter.count; i++)
		rc = bk_kv_set(&facts, pp->cfg->facter.keys[i], pp->cfg->facter.vals[i]);
	/* By name: Packer walks a Go map, so any order is its; this one is stable. */
	for (size_t done = 0; rc == 0 && done < facts.count; done++) {
		size_t k = 0;
		for (size_t i = 1; i < facts.count; i++)
			if (!facts.keys[k] || (facts.keys[i] && strcmp(facts.keys[i], facts.keys[k]) < 0))
				k = i;
		rc = bk_buf_printf(&b, "%sFACTER_%s=", done ? " " : "", facts.keys[k]);
		rc = rc ? rc : bk_sh_quote(&b, facts.vals[k]);
		free(facts.keys[k]);
		facts.keys[k] = NULL;
	}
	bk_kv_free(&facts);
	pp->facter_vars = rc == 0 ? bk_buf_detach(&b) : NULL;
	bk_buf_free(&b);
	return rc ? rc : pp->facter_vars ? 0 : bk_oom();
}

static const char *or_empty(const char *s)
{
	return s ? s : "";
}

/* The fields of Packer's ExecuteTemplate (the same names as the
 * validation pass's tables in template/provisioners.c). */
static size_t fields(const puppet *pp, bk_cmd_field *f, const char *extra)
{
	const char *sudo = pp->sudo ? "true" : "false";
	const char *wd = pp->cfg->working_dir ? pp->cfg->working_dir : pp->staging;
	size_t n = 0;

	f[n++] = (bk_cmd_field){"WorkingDir", wd, false};
	f[n++] = (bk_cmd_field){"FacterVars", pp->facter_vars, false};
	f[n++] = (bk_cmd_field){"Sudo", sudo, true};
	f[n++] = (bk_cmd_field){"PuppetBinDir", or_empty(pp->cfg->puppet_bin_dir), false};
	f[n++] = (bk_cmd_field){"Debug", "false", true};
	f[n++] = (bk_cmd_field){"ExtraArguments", extra, false};
	if (pp->server) {
		f[n++] = (bk_cmd_field){"PuppetServer", or_empty(pp->cfg->puppet_server), false};
		f[n++] = (bk_cmd_field){"PuppetNode", or_empty(pp->cfg->puppet_node), false};
		f[n++] = (bk_cmd_field){"ClientCertPath", or_empty(pp->cert_dir), false};
		f[n++] = (bk_cmd_field){"ClientPrivateKeyPath", or_empty(pp->key_dir), false};
		return n;
	}
	f[n++] = (bk_cmd_field){"ModulePath", or_empty(pp->module_path), false};
	f[n++] = (bk_cmd_field){"ModulePathJoiner", ":", false};
	f[n++] = (bk_cmd_field){"HieraConfigPath", or_empty(pp->hiera), false};
	f[n++] = (bk_cmd_field){"ManifestDir", or_empty(pp->manifest_dir), false};
	f[n++] = (bk_cmd_field){"ManifestFile", or_empty(pp->manifest_file), false};
	return n;
}

static int render(const puppet *pp, char **out, const char *tmpl, const char *key,
		  const char *extra)
{
	bk_cmd_field f[16];
	size_t n = fields(pp, f, extra);
	char *what = bk_sprintf("%s.%s", pp->ctx->prov->path ? pp->ctx->prov->path : "provisioner",
				key);
	int rc = what ? bk_cmd_render(out, tmpl, f, n, what) : bk_oom();

	free(what);
	return rc;
}

/* extra_arguments joined by spaces (then the old `options`), rendered with
 * the same fields as the command, as Packer does. */
static int set_extra_args(puppet *pp)
{
	const bk_strv *args = &pp->cfg->extra_arguments;
	bk_buf b = BK_BUF_INIT;
	int rc = 0;

	for (size_t i = 0; rc == 0 && i < args->count; i++)
		rc = bk_buf_printf(&b, "%s%s", i ? " " : "", args->items[i]);
	if (rc == 0 && pp->cfg->options && *pp->cfg->options)
		rc = bk_buf_printf(&b, "%s%s", b.len ? " " : "", pp->cfg->options);
	rc = rc ? rc : bk_buf_puts(&b, "");
	rc = rc ? rc : render(pp, &pp->extra_args, b.ptr, "extra_arguments", "");
	bk_buf_free(&b);
	return rc;
}

/* Why a failed run may have printed nothing: puppet agent (not apply)
 * logs to syslog unless told where, and Packer's command does not say. */
static const char *silence_hint(const puppet *pp, size_t printed)
{
	return pp->server && printed == 0 ? " (it printed nothing: puppet agent logs to syslog "
		"unless told otherwise; add --test, --verbose or --logdest=console to "
		"extra_arguments)" : "";
}

/* --detailed-exitcodes: 0 nothing changed, 2 changes, 4 failures, 6 both. */
static int judge(puppet *pp, int status, size_t printed)
{
	const char *verb = pp->server ? "puppet agent" : "puppet apply";
	const char *hint = silence_hint(pp, printed);

	if (status == 0 || status == 2 || pp->cfg->ignore_exit_codes) {
		if (status != 0 && status != 2)
			bk_prov_log(pp->ctx, "%s exited %d, ignored (ignore_exit_codes)", verb, status);
		return 0;
	}
	if (status == 4)
		return bk_prov_fail(pp->ctx, BAKEAMI_EPROVISION, "%s exited 4: the run had failures%s",
				    verb, hint);
	if (status == 6)
		return bk_prov_fail(pp->ctx, BAKEAMI_EPROVISION, "%s exited 6: the run had changes "
				    "and failures%s", verb, hint);
	if (status == 1)
		return bk_prov_fail(pp->ctx, BAKEAMI_EPROVISION, "%s exited 1: the run failed%s", verb,
				    printed ? " (see its output above)" : hint);
	return bk_prov_fail(pp->ctx, BAKEAMI_EPROVISION, "%s exited with status %d%s", verb, status,
			    hint);
}

/* The run's lines on their way to the console, counted for silence_hint. */
typedef struct {
	const bk_provision_ctx *ctx;
	size_t lines;
} counted;

static void count_line(int stream, const char *line, size_t len, void *payload)
{
	counted *c = payload;

	c->lines++;
	if (c->ctx->output)
		c->ctx->output(stream, line, len, c->ctx->output_payload);
}

/* The first line the command printed (its version, for check_manifestdir). */
static void first_line(int stream, const char *line, size_t len, void *payload)
{
	bk_buf *b = payload;

	(void)stream;
	if (b->len == 0)
		(void)bk_buf_printf(b, "%.*s", (int)len, line);
}

/* Puppet 4 removed --manifestdir, which Packer's default command still
 * passes for manifest_dir: ask the instance's Puppet its version first, so
 * that such a run fails saying why (and what to do) instead of with
 * Puppet's own "invalid option". A Puppet 3 runs it as Packer does. */
static int check_manifestdir(puppet *pp, const char *cmd)
{
	const char *bin = pp->cfg->puppet_bin_dir;
	bk_buf probe = BK_BUF_INIT, version = BK_BUF_INIT;
	double left;
	int status = -1, rc;

	if (!pp->manifest_dir || !strstr(cmd, "--manifestdir"))
		return 0;
	rc = bk_buf_printf(&probe, "%s%s%spuppet --version", pp->sudo ? "sudo -E " : "",
			   bin ? bin : "", bin && *bin ? "/" : "");
	if (rc == 0)
		bk_prov_log(pp->ctx, "manifest_dir: asking the instance's Puppet its version "
			    "(execute_command passes --manifestdir)");
	rc = rc ? rc : bk_prov_time_left(pp->r, &left);
	rc = rc ? rc : bk_ssh_exec(&status, pp->ctx->ssh, probe.ptr, left, first_line, &version);
	if (rc < 0)
		rc = bk_prov_wrap(pp->ctx, rc);
	else if (status == 0 && version.len && atoi(version.ptr) >= 4)
		rc = bk_prov_fail(pp->ctx, BAKEAMI_EPROVISION, "manifest_dir: Puppet %s on the "
				  "instance has no --manifestdir (Puppet 4 removed it; execute_command "
				  "passes it): give manifest_file the directory instead, or leave "
				  "--manifestdir out of execute_command", version.ptr);
	bk_buf_free(&probe);
	bk_buf_free(&version);
	return rc;
}

static int run_puppet(puppet *pp)
{
	const char *tmpl = pp->cfg->execute_command;
	char *cmd = NULL;
	double left;
	int status = -1, rc;

	if (!tmpl || !*tmpl)
		tmpl = pp->server ? SERVER_COMMAND : MASTERLESS_COMMAND;
	rc = set_facter_vars(pp);
	rc = rc ? rc : set_extra_args(pp);
	rc = rc ? rc : render(pp, &cmd, tmpl, "execute_command", pp->extra_args);
	rc = rc ? rc : check_manifestdir(pp, cmd);
	rc = rc ? rc : bk_prov_time_left(pp->r, &left);
	if (rc == 0) {
		counted out = {pp->ctx, 0};
		bk_prov_log(pp->ctx, "running Puppet: %s", cmd);
		rc = bk_ssh_exec(&status, pp->ctx->ssh, cmd, left, count_line, &out);
		if (rc == BAKEAMI_ETIMEOUT)
			rc = bk_prov_fail(pp->ctx, rc, "timed out after %gs", pp->ctx->prov->timeout_s);
		else if (rc < 0)
			rc = bk_prov_wrap(pp->ctx, rc);
		else
			rc = judge(pp, status, out.lines);
	}
	free(cmd);
	return rc;
}

/* ---- cleanup --------------------------------------------------------- */

/* The staging directory goes (Packer's clean_staging_directory, which
 * bakeami defaults to true); when kept, the client's keys still go. A
 * failure here does not hide the run's own error. */
static int cleanup(puppet *pp, int rc)
{
	const char *gone[3] = {NULL, NULL, NULL};
	size_t n = 0;
	char *saved = rc < 0 ? bk_strdup(bk_err_msg()) : NULL;
	int crc = 0;

	if (!pp->staged)
		return rc;
	if (pp->cfg->clean_staging_dir != 0)
		gone[n++] = pp->staging;
	else {
		gone[n] = pp->cert_dir, n += !!pp->cert_dir;
		gone[n] = pp->key_dir, n += !!pp->key_dir;
	}
	if (!bk_ssh_connected(pp->ctx->ssh))
		crc = bk_prov_ensure_connected(pp->ctx, CLEANUP_TIMEOUT_S);
	for (size_t i = 0; crc == 0 && i < n; i++) {
		bk_prov_log(pp->ctx, "removing %s", gone[i]);
		crc = path_cmd(pp, "removing the staging directory", "rm -rf", gone[i], true);
	}
	if (rc < 0 && crc < 0) {
		bk_logf(&pp->ctx->log, BK_LOG_WARN, "%s", bk_err_msg());
		bk_err(rc, "%s", saved ? saved : "puppet failed");
	}
	free(saved);
	return rc < 0 ? rc : crc;
}

static void puppet_free(puppet *pp)
{
	free(pp->manifest_file);
	free(pp->manifest_dir);
	free(pp->hiera);
	free(pp->module_path);
	free(pp->cert_dir);
	free(pp->key_dir);
	free(pp->facter_vars);
	free(pp->extra_args);
}

static int run(const bk_prov_run *r, bool server)
{
	const bk_prov_puppet_cfg *cfg = &r->ctx->prov->u.puppet;
	puppet pp = {r, r->ctx, cfg, server, !cfg->prevent_sudo, cfg->staging_dir, NULL, NULL,
		     NULL, NULL, NULL, NULL, NULL, NULL, false};
	int rc;

	if (!pp.staging || !*pp.staging)
		pp.staging = server ? "/tmp/packer-puppet-server" : "/tmp/packer-puppet-masterless";
	bk_prov_log(r->ctx, "provisioning with Puppet (%s)", server ? "agent" : "apply");
	pp.staged = true;
	rc = make_dir(&pp, pp.staging, false);
	rc = rc ? rc : server ? upload_client_keys(&pp) : upload_masterless(&pp);
	rc = rc ? rc : run_puppet(&pp);
	rc = cleanup(&pp, rc);
	puppet_free(&pp);
	return rc;
}

int bk_prov_puppet_masterless(const bk_prov_run *r)
{
	return run(r, false);
}

int bk_prov_puppet_server(const bk_prov_run *r)
{
	return run(r, true);
}
