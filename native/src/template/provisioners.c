/*
 * provisioners.c - the "provisioners" list: rendered, filtered by
 * only/except, merged with override[build name], then read through one
 * table per type into the typed bk_provisioner (template.h), checked as a
 * whole, with local paths (scripts, upload sources, manifests) replaced by
 * the file found so the provisioner does not have to search again.
 *
 * A type is a row of `kinds`: its name, its key table and its cross-field
 * check. Whether this build can run it is the provision layer's answer
 * (bk_provision_supported), asked by the validation pass (plan.c).
 */
#include <dirent.h>
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "../provision/cmdtmpl.h"
#include "template_int.h"

typedef struct {
	bk_cfg_ctx *c;
	cJSON *obj;          /* the rendered provisioner */
	const char *path;    /* "provisioners[2]" */
	const char *what;    /* "a shell provisioner", for messages */
	bk_provisioner *pv;  /* what the keys are read into */
	const cJSON *src;    /* as written: only/except/override keys name raw builds */
} prov;

/* kind: as bk_tpl_get_opt, plus 'n' integer list, 'l' one string appended
 * to a list, 'v' a list appended, '*' anything. Keys without a field are
 * type-checked only. Keys are read in table order (command before inline,
 * script before scripts), whatever the template's order. */
typedef struct {
	const char *key;
	char kind;
	size_t off;          /* into bk_provisioner; NONE: not kept */
} pkey;

#define NONE ((size_t)-1)
#define U(type, f) (offsetof(bk_provisioner, u) + offsetof(type, f))
#define SH(f) U(bk_prov_shell_cfg, f)
#define FI(f) U(bk_prov_file_cfg, f)
#define LO(f) U(bk_prov_local_cfg, f)
#define PU(f) U(bk_prov_puppet_cfg, f)
#define AL(f) U(bk_prov_ansible_local_cfg, f)
#define AN(f) U(bk_prov_ansible_cfg, f)

#define META_KEYS {"type", 's', NONE}, {"only", 'v', NONE}, {"except", 'v', NONE}, \
	{"override", '*', NONE}, {"pause_before", 'd', offsetof(bk_provisioner, pause_before_s)}, \
	{"max_retries", 'i', offsetof(bk_provisioner, max_retries)}, \
	{"timeout", 'd', offsetof(bk_provisioner, timeout_s)}

static const pkey shell_keys[] = {META_KEYS,
	{"inline", 'v', SH(inline_lines)}, {"script", 'l', SH(scripts)},
	{"scripts", 'v', SH(scripts)}, {"environment_vars", 'v', SH(environment_vars)},
	{"execute_command", 's', SH(execute_command)}, {"inline_shebang", 's', SH(inline_shebang)},
	{"remote_folder", 's', SH(remote_folder)}, {"remote_file", 's', SH(remote_file)},
	{"remote_path", 's', SH(remote_path)}, {"expect_disconnect", 'b', SH(expect_disconnect)},
	{"valid_exit_codes", 'n', SH(valid_exit_codes)}, {"skip_clean", 'b', SH(skip_clean)},
	{"binary", 'b', SH(binary)}, {"start_retry_timeout", 'd', SH(start_retry_timeout_s)},
	{"use_env_var_file", 'b', SH(use_env_var_file)},
	{"env_var_format", 's', SH(env_var_format)}, {"env", 'k', SH(env)},
	{"pause_after", 'd', SH(pause_after_s)}, {NULL, 0, 0}};
static const pkey file_keys[] = {META_KEYS,
	{"source", 'l', FI(sources)}, {"sources", 'v', FI(sources)},
	{"destination", 's', FI(destination)}, {"direction", 's', NONE},
	{"generated", 'b', FI(generated)}, {"content", 's', FI(content)}, {NULL, 0, 0}};
/* Packer's shell-local keys: bakeami acts on those with a field and
 * type-checks the others (the rest of Packer's shell-local). */
#define LOCAL_KEYS \
	{"command", 'l', LO(inline_lines)}, {"inline", 'v', LO(inline_lines)}, \
	{"script", 'l', LO(scripts)}, {"scripts", 'v', LO(scripts)}, \
	{"inline_shebang", 's', LO(inline_shebang)}, \
	{"environment_vars", 'v', LO(environment_vars)}, \
	{"valid_exit_codes", 'n', LO(valid_exit_codes)}, \
	{"execute_command", 'v', NONE}, {"env_var_format", 's', NONE}, \
	{"only_on", 'v', NONE}, {"tempfile_extension", 's', NONE}, \
	{"use_linux_pathing", 'b', NONE}
static const pkey local_keys[] = {META_KEYS, LOCAL_KEYS, {"env", 'k', LO(env)},
	{NULL, 0, 0}};
/* The shell-local post-processor: the same body (Packer's sdk shell-local
 * Config, which has no env map), and what Packer's core reads of every
 * post-processor. */
static const pkey local_pp_keys[] = {{"type", 's', NONE}, {"name", 's', NONE},
	{"only", 'v', NONE}, {"except", 'v', NONE}, {"keep_input_artifact", 'b', NONE},
	LOCAL_KEYS, {NULL, 0, 0}};
#define PUPPET_KEYS {"facter", 'k', PU(facter)}, \
	{"extra_arguments", 'v', PU(extra_arguments)}, \
	{"execute_command", 's', PU(execute_command)}, {"prevent_sudo", 'b', PU(prevent_sudo)}, \
	{"ignore_exit_codes", 'b', PU(ignore_exit_codes)}, \
	{"working_directory", 's', PU(working_dir)}, {"puppet_bin_dir", 's', PU(puppet_bin_dir)}, \
	{"guest_os_type", 's', PU(guest_os_type)}, \
	{"clean_staging_directory", 'b', PU(clean_staging_dir)}
static const pkey puppet_server_keys[] = {META_KEYS, PUPPET_KEYS,
	{"options", 's', PU(options)}, {"puppet_server", 's', PU(puppet_server)},
	{"puppet_node", 's', PU(puppet_node)}, {"staging_dir", 's', PU(staging_dir)},
	{"client_cert_path", 's', PU(client_cert_path)},
	{"client_private_key_path", 's', PU(client_private_key_path)}, {NULL, 0, 0}};
static const pkey puppet_masterless_keys[] = {META_KEYS, PUPPET_KEYS,
	{"manifest_file", 's', PU(manifest_file)}, {"manifest_dir", 's', PU(manifest_dir)},
	{"module_paths", 'v', PU(module_paths)},
	{"hiera_config_path", 's', PU(hiera_config_path)},
	{"staging_directory", 's', PU(staging_dir)}, {NULL, 0, 0}};
/* Packer 1.6.6's keys, every one. */
static const pkey ansible_local_keys[] = {META_KEYS,
	{"playbook_file", 's', AL(playbook_file)}, {"playbook_files", 'v', AL(playbook_files)},
	{"playbook_dir", 's', AL(playbook_dir)}, {"playbook_paths", 'v', AL(playbook_paths)},
	{"role_paths", 'v', AL(role_paths)}, {"group_vars", 's', AL(group_vars)},
	{"host_vars", 's', AL(host_vars)}, {"extra_arguments", 'v', AL(extra_arguments)},
	{"inventory_groups", 'v', AL(inventory_groups)},
	{"inventory_file", 's', AL(inventory_file)}, {"galaxy_file", 's', AL(galaxy_file)},
	{"galaxy_command", 's', AL(galaxy_command)},
	{"staging_directory", 's', AL(staging_directory)},
	{"clean_staging_directory", 'b', AL(clean_staging_directory)},
	{"command", 's', AL(command)}, {NULL, 0, 0}};
/* Packer 1.6.6's keys, every one; the proxy's (NONE) are checked for
 * their type and warned about: we connect directly. */
static const pkey ansible_keys[] = {META_KEYS,
	{"playbook_file", 's', AN(playbook_file)}, {"user", 's', AN(user)},
	{"command", 's', AN(command)}, {"extra_arguments", 'v', AN(extra_arguments)},
	{"ansible_env_vars", 'v', AN(ansible_env_vars)},
	{"ansible_ssh_extra_args", 'v', AN(ansible_ssh_extra_args)},
	{"groups", 'v', AN(groups)}, {"empty_groups", 'v', AN(empty_groups)},
	{"host_alias", 's', AN(host_alias)},
	{"inventory_file_template", 's', AN(inventory_file_template)},
	{"inventory_file", 's', AN(inventory_file)},
	{"inventory_directory", 's', AN(inventory_directory)},
	{"keep_inventory_file", 'b', AN(keep_inventory_file)},
	{"galaxy_file", 's', AN(galaxy_file)}, {"galaxy_command", 's', AN(galaxy_command)},
	{"galaxy_force_install", 'b', AN(galaxy_force_install)},
	{"roles_path", 's', AN(roles_path)}, {"collections_path", 's', AN(collections_path)},
	{"use_proxy", 'b', NONE}, {"local_port", 'i', NONE}, {"ssh_host_key_file", 's', NONE},
	{"ssh_authorized_key_file", 's', NONE}, {"sftp_command", 's', NONE},
	{"use_sftp", 'b', NONE}, {"skip_version_check", 'b', NONE}, {NULL, 0, 0}};

static int check_shell(prov *p);
static int check_file(prov *p);
static int check_local(prov *p);
static int check_puppet_server(prov *p);
static int check_puppet_masterless(prov *p);
static int check_ansible_local(prov *p);
static int check_ansible(prov *p);

static const struct {
	const char *name;
	bk_prov_type type;
	const pkey *keys;
	bool strict;         /* unknown keys are errors */
	int (*check)(prov *p);
} kinds[] = {
	{"shell", BK_PROV_SHELL, shell_keys, true, check_shell},
	{"file", BK_PROV_FILE, file_keys, true, check_file},
	{"shell-local", BK_PROV_SHELL_LOCAL, local_keys, true, check_local},
	{"puppet-masterless", BK_PROV_PUPPET_MASTERLESS, puppet_masterless_keys, true,
	 check_puppet_masterless},
	{"puppet-server", BK_PROV_PUPPET_SERVER, puppet_server_keys, true, check_puppet_server},
	{"ansible-local", BK_PROV_ANSIBLE_LOCAL, ansible_local_keys, true, check_ansible_local},
	{"ansible", BK_PROV_ANSIBLE, ansible_keys, true, check_ansible},
};

/* ---- reading keys ---------------------------------------------------- */

static char *sub(const prov *p, const char *key)
{
	return bk_tpl_jpath_key(p->path, key);
}

static int perr_key(const prov *p, const char *key, const char *what)
{
	char *s = sub(p, key);
	int rc = bk_tpl_err(p->c->file, s ? s : p->path, "%s", what);

	free(s);
	return rc;
}

/* 'l' and 'v': appended, so script and scripts share one list. */
static int read_into_list(const prov *p, const pkey *k, bk_strv *out)
{
	bk_strv tmp = BK_STRV_INIT;
	char *s = NULL;
	int rc = bk_tpl_get_opt(k->kind == 'l' ? (void *)&s : (void *)&tmp, p->c, p->obj,
				k->key, p->path, k->kind == 'l' ? 's' : 'v');

	if (rc == 0 && s)
		rc = bk_strv_push(out, s);
	for (size_t i = 0; rc == 0 && i < tmp.count; i++)
		rc = bk_strv_push(out, tmp.items[i]);
	free(s);
	bk_strv_free(&tmp);
	return rc;
}

/* Type-check a key nobody keeps. */
static int check_only(const prov *p, const pkey *k)
{
	union { char *s; int i; double d; bk_strv v; bk_intv n; bk_kv k; } tmp;
	int rc;

	memset(&tmp, 0, sizeof(tmp));
	rc = bk_tpl_get_opt(&tmp, p->c, p->obj, k->key, p->path, k->kind);
	if (k->kind == 's')
		free(tmp.s);
	else if (k->kind == 'v')
		bk_strv_free(&tmp.v);
	else if (k->kind == 'k')
		bk_kv_free(&tmp.k);
	else if (k->kind == 'n')
		free(tmp.n.items);
	return rc;
}

static int read_key(const prov *p, const pkey *k)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(p->obj, k->key);
	/* No pointer is formed for a key that is checked only (NONE): p->pv +
	 * (size_t)-1 is undefined even unused. */
	void *dst = k->off == NONE ? NULL : (char *)p->pv + k->off;

	if (!v || k->kind == '*')
		return 0;
	if (k->off == NONE)
		return check_only(p, k);
	if (k->kind == 'l' || k->kind == 'v')
		return read_into_list(p, k, dst);
	return bk_tpl_get_opt(dst, p->c, p->obj, k->key, p->path, k->kind);
}

static bool known_key(const pkey *keys, const char *key)
{
	for (const pkey *k = keys; k->key; k++)
		if (strcmp(k->key, key) == 0)
			return true;
	return false;
}

static int read_keys(const prov *p, const pkey *keys, bool strict)
{
	int rc = 0;

	for (const cJSON *it = p->obj->child; it && rc == 0 && strict; it = it->next)
		if (!known_key(keys, it->string)) {
			char *path = sub(p, it->string);
			size_t n = 0;
			while (keys[n].key)
				n++;
			rc = bk_tpl_unknown_key(p->c, path ? path : p->path, it->string, keys,
						sizeof(*keys), n, p->what);
			free(path);
		}
	for (const pkey *k = keys; k->key && rc == 0; k++)
		rc = read_key(p, k);
	return rc;
}

/* NULL for a null too: Packer's decoding leaves such an option unset. */
static const cJSON *get(const prov *p, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(p->obj, key);

	return cJSON_IsNull(v) ? NULL : v;
}

/* ---- local paths ----------------------------------------------------- */

/* Replace a local path by the file that exists. */
static int resolve(const prov *p, char **s, const char *path)
{
	char *found = NULL;
	int rc;

	if (!*s)
		return 0;
	if ((rc = bk_tpl_find_local(&found, p->c, *s, path)) == 0) {
		free(*s);
		*s = found;
	}
	return rc;
}

static int resolve_str(const prov *p, char **s, const char *key)
{
	char *path = sub(p, key);
	int rc = path ? resolve(p, s, path) : bk_oom();

	free(path);
	return rc;
}

/* A list read from `one` (a string) or `many` (an array): the messages
 * name the key the template used. */
static int resolve_list(const prov *p, bk_strv *v, const char *one, const char *many)
{
	char *path = sub(p, get(p, one) ? one : many);
	int rc = path ? 0 : bk_oom();

	for (size_t i = 0; rc == 0 && i < v->count; i++) {
		char *ip = get(p, one) ? bk_strdup(path) : bk_tpl_jpath_index(path, i);
		rc = ip ? resolve(p, &v->items[i], ip) : bk_oom();
		free(ip);
	}
	free(path);
	return rc;
}

/* ---- checks per type ------------------------------------------------- */

/* A command's Go-template forms checked now, against the fields the
 * provisioner fills, so a typo fails before any AWS call. */
static int check_command(const prov *p, const char *key, const char *tmpl,
			 const bk_cmd_field *f, size_t n)
{
	char *path, *what, *out = NULL;
	int rc;

	if (!tmpl)
		return 0;
	/* "key[3]": an item of a list */
	if (strchr(key, '[')) {
		char *list = bk_strndup(key, strcspn(key, "["));
		char *lp = list ? sub(p, list) : NULL;
		path = lp ? bk_tpl_jpath_index(lp, (size_t)atoi(strchr(key, '[') + 1)) : NULL;
		free(lp);
		free(list);
	} else {
		path = sub(p, key);
	}
	what = path ? bk_sprintf("%s: %s", p->c->file, path) : NULL;
	rc = what ? bk_cmd_render(&out, tmpl, f, n, what) : bk_oom();
	free(out);
	free(what);
	free(path);
	return rc;
}

static bool valid_env_name(const char *s, size_t n)
{
	if (n == 0 || (s[0] >= '0' && s[0] <= '9'))
		return false;
	for (size_t i = 0; i < n; i++)
		if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_", s[i]))
			return false;
	return true;
}

static int check_env(const prov *p, const bk_strv *vars, const bk_kv *env)
{
	int rc = 0;

	for (size_t i = 0; i < vars->count; i++) {
		const char *eq = strchr(vars->items[i], '=');
		if (eq && valid_env_name(vars->items[i], (size_t)(eq - vars->items[i])))
			continue;
		char *path = sub(p, "environment_vars"), *ip = path ? bk_tpl_jpath_index(path, i) : NULL;
		rc = bk_tpl_err(p->c->file, ip ? ip : p->path, "\"%s\" is not NAME=VALUE",
				vars->items[i]);
		free(ip);
		free(path);
		return rc;
	}
	for (size_t i = 0; i < env->count && rc == 0; i++)
		if (!valid_env_name(env->keys[i], strlen(env->keys[i]))) {
			char *path = sub(p, "env"), *kp = path ? bk_tpl_jpath_key(path, env->keys[i]) : NULL;
			rc = bk_tpl_err(p->c->file, kp ? kp : p->path, "not a variable name");
			free(kp);
			free(path);
		}
	return rc;
}

static int check_shell(prov *p)
{
	bk_prov_shell_cfg *sh = &p->pv->u.shell;
	int n = !!get(p, "inline") + !!get(p, "script") + !!get(p, "scripts");
	int rc;

	if (n != 1)
		return bk_tpl_err(p->c->file, p->path, "a shell provisioner needs exactly one "
				  "of inline, script or scripts (found %d)", n);
	if (sh->inline_lines.count + sh->scripts.count == 0)
		return perr_key(p, get(p, "inline") ? "inline" : "scripts", "must not be empty");
	static const bk_cmd_field fields[] = {{"Path", NULL, false}, {"Vars", NULL, false},
					      {"EnvVarFile", NULL, false}};

	if ((rc = check_env(p, &sh->environment_vars, &sh->env)) != 0 ||
	    (rc = check_command(p, "execute_command", sh->execute_command, fields,
				BK_ARRAY_SIZE(fields))) != 0)
		return rc;
	return resolve_list(p, &sh->scripts, "script", "scripts");
}

/* Folders deeper than this under a source are a symbolic link back up
 * the tree, not a real layout. */
#define MAX_SOURCE_DEPTH 64

static int source_err(const prov *p, const char *key, const char *path, const char *why)
{
	char *s = sub(p, key);
	int rc = bk_tpl_err(p->c->file, s ? s : p->path, "%s: %s", path, why);

	free(s);
	return rc;
}

/* What the upload would stop on half-way, found before any AWS call: an
 * entry it cannot stat (a symbolic link loop, a dangling link) or a
 * folder it cannot read, anywhere under a source folder. */
static int walk_source(const prov *p, const char *key, const char *dir, int depth)
{
	struct dirent *de;
	DIR *d;
	int rc = 0;

	if (depth > MAX_SOURCE_DEPTH)
		return source_err(p, key, dir, "folders nested more than 64 deep (a symbolic "
				  "link back up the tree?)");
	if (!(d = opendir(dir)))
		return source_err(p, key, dir, strerror(errno));
	while (rc == 0 && (de = readdir(d))) {
		struct stat st;
		char *path;

		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (!(path = bk_sprintf("%s/%s", dir, de->d_name))) {
			rc = bk_oom();
			break;
		}
		if (stat(path, &st) < 0)
			rc = source_err(p, key, path, strerror(errno));
		else if (S_ISDIR(st.st_mode))
			rc = walk_source(p, key, path, depth + 1);
		free(path);
	}
	closedir(d);
	return rc;
}

static int walk_sources(const prov *p, const bk_strv *sources)
{
	const char *key = get(p, "source") ? "source" : "sources";
	struct stat st;
	int rc = 0;

	for (size_t i = 0; rc == 0 && i < sources->count; i++)
		if (stat(sources->items[i], &st) == 0 && S_ISDIR(st.st_mode))
			rc = walk_source(p, key, sources->items[i], 0);
	return rc;
}

static int check_file(prov *p)
{
	bk_prov_file_cfg *f = &p->pv->u.file;
	const char *dir = cJSON_GetStringValue(get(p, "direction"));
	int n = !!get(p, "source") + !!get(p, "sources") + !!get(p, "content"), rc;

	if (n != 1)
		return bk_tpl_err(p->c->file, p->path, "a file provisioner needs exactly one "
				  "of source, sources or content (found %d)", n);
	if (!f->destination)
		return perr_key(p, "destination", "required but missing");
	if (!*f->destination)
		return perr_key(p, "destination", "must not be empty");
	if (dir && strcmp(dir, "upload") != 0 && strcmp(dir, "download") != 0)
		return perr_key(p, "direction", "must be \"upload\" or \"download\"");
	f->download = dir && strcmp(dir, "download") == 0;
	if (f->content && f->download)
		return perr_key(p, "content", "cannot go with a download");
	if (!f->content && f->sources.count == 0)
		return perr_key(p, "sources", "must not be empty");
	/* Several sources all land in one directory, which the slash marks. */
	if (f->sources.count > 1 && !bk_str_ends(f->destination, "/"))
		return perr_key(p, "destination", "must end in / when there are several sources");
	/* Downloads name remote files; generated ones appear during the build. */
	if (f->download || f->generated)
		return 0;
	if ((rc = resolve_list(p, &f->sources, "source", "sources")) != 0)
		return rc;
	return walk_sources(p, &f->sources);
}

static int check_local(prov *p)
{
	bk_prov_local_cfg *l = &p->pv->u.local;

	if (l->inline_lines.count + l->scripts.count == 0)
		return bk_tpl_err(p->c->file, p->path, "a shell-local provisioner needs "
				  "command, inline, script or scripts");
	return check_env(p, &l->environment_vars, &l->env);
}

/* The fields Packer 1.6.6 gives each Puppet execute_command (and its
 * extra_arguments); the provisioner fills the same names (puppet.c). */
static const bk_cmd_field masterless_fields[] = {
	{"WorkingDir", NULL, false}, {"FacterVars", NULL, false}, {"Sudo", NULL, true},
	{"PuppetBinDir", NULL, false}, {"Debug", NULL, true}, {"ModulePath", NULL, false},
	{"ModulePathJoiner", NULL, false}, {"HieraConfigPath", NULL, false},
	{"ManifestDir", NULL, false}, {"ManifestFile", NULL, false},
	{"ExtraArguments", NULL, false}};
static const bk_cmd_field server_fields[] = {
	{"WorkingDir", NULL, false}, {"FacterVars", NULL, false}, {"Sudo", NULL, true},
	{"PuppetBinDir", NULL, false}, {"Debug", NULL, true}, {"PuppetServer", NULL, false},
	{"PuppetNode", NULL, false}, {"ClientCertPath", NULL, false},
	{"ClientPrivateKeyPath", NULL, false}, {"ExtraArguments", NULL, false}};

/* A local path that must be a directory (want_dir) or a file. */
static int check_kind(const prov *p, const char *local, const char *key, bool want_dir)
{
	struct stat st;

	if (!local || (stat(local, &st) == 0 && !!S_ISDIR(st.st_mode) == want_dir))
		return 0;
	return perr_key(p, key, want_dir ? "must be a directory" : "must be a file");
}

static int check_puppet(prov *p, const bk_cmd_field *fields, size_t n)
{
	bk_prov_puppet_cfg *pu = &p->pv->u.puppet;
	const char *os = pu->guest_os_type;
	int rc = 0;

	if (os && strcasecmp(os, "unix") != 0)
		return perr_key(p, "guest_os_type", strcasecmp(os, "windows") == 0
				? "windows guests are not supported: bakeami bakes Linux images over "
				  "SSH (use \"unix\")" : "must be \"unix\"");
	for (size_t i = 0; i < pu->facter.count && rc == 0; i++)
		if (!valid_env_name(pu->facter.keys[i], strlen(pu->facter.keys[i]))) {
			char *fp = sub(p, "facter"), *kp = fp ? bk_tpl_jpath_key(fp, pu->facter.keys[i]) : NULL;
			rc = bk_tpl_err(p->c->file, kp ? kp : p->path, "a fact name becomes FACTER_<name>: "
					"letters, digits and _ only");
			free(kp);
			free(fp);
		}
	rc = rc ? rc : check_command(p, "execute_command", pu->execute_command, fields, n);
	for (size_t i = 0; rc == 0 && i < pu->extra_arguments.count; i++) {
		char key[40];
		snprintf(key, sizeof(key), "extra_arguments[%zu]", i);
		rc = check_command(p, key, pu->extra_arguments.items[i], fields, n);
	}
	return rc;
}

static int check_puppet_server(prov *p)
{
	bk_prov_puppet_cfg *pu = &p->pv->u.puppet;
	int rc;

	if (get(p, "options"))
		bk_tpl_warn(p->c->warnings, "%s: %s.options: the old puppet-server key (Packer "
			"replaced it with extra_arguments); accepted", p->c->file, p->path);
	if ((rc = check_puppet(p, server_fields, BK_ARRAY_SIZE(server_fields))) == 0 &&
	    (rc = resolve_str(p, &pu->client_cert_path, "client_cert_path")) == 0 &&
	    (rc = check_kind(p, pu->client_cert_path, "client_cert_path", true)) == 0 &&
	    (rc = resolve_str(p, &pu->client_private_key_path, "client_private_key_path")) == 0)
		rc = check_kind(p, pu->client_private_key_path, "client_private_key_path", true);
	return rc;
}

static int check_module_paths(prov *p, bk_prov_puppet_cfg *pu)
{
	int rc = resolve_list(p, &pu->module_paths, "", "module_paths");

	for (size_t i = 0; rc == 0 && i < pu->module_paths.count; i++) {
		char key[40];
		snprintf(key, sizeof(key), "module_paths[%zu]", i);
		rc = check_kind(p, pu->module_paths.items[i], key, true);
	}
	return rc;
}

static int check_puppet_masterless(prov *p)
{
	bk_prov_puppet_cfg *pu = &p->pv->u.puppet;
	int rc;

	if (!pu->manifest_file)
		return perr_key(p, "manifest_file", "required but missing");
	if ((rc = check_puppet(p, masterless_fields, BK_ARRAY_SIZE(masterless_fields))) == 0 &&
	    (rc = resolve_str(p, &pu->manifest_file, "manifest_file")) == 0 &&
	    (rc = resolve_str(p, &pu->manifest_dir, "manifest_dir")) == 0 &&
	    (rc = check_kind(p, pu->manifest_dir, "manifest_dir", true)) == 0 &&
	    (rc = check_module_paths(p, pu)) == 0 &&
	    (rc = resolve_str(p, &pu->hiera_config_path, "hiera_config_path")) == 0)
		rc = check_kind(p, pu->hiera_config_path, "hiera_config_path", false);
	return rc;
}

/* Found, and a folder (dir) or a file (!dir), as Packer checks them. */
static int local_kind(const prov *p, char **s, const char *key, size_t i, bool dir)
{
	char *path = sub(p, key), *ip = path && i != NONE ? bk_tpl_jpath_index(path, i) : path;
	struct stat st;
	int rc = ip ? resolve(p, s, ip) : bk_oom();

	if (rc == 0 && *s && stat(*s, &st) == 0 && !S_ISDIR(st.st_mode) == dir)
		rc = bk_tpl_err(p->c->file, ip, "%s must be a %s", *s, dir ? "folder" : "file");
	if (ip != path)
		free(ip);
	free(path);
	return rc;
}

static int local_list(const prov *p, bk_strv *v, const char *key, bool dir)
{
	int rc = 0;

	for (size_t i = 0; rc == 0 && i < v->count; i++)
		rc = local_kind(p, &v->items[i], key, i, dir);
	return rc;
}

static int check_ansible_local(prov *p)
{
	bk_prov_ansible_local_cfg *a = &p->pv->u.ansible_local;
	int rc;

	if (!!a->playbook_file + !!a->playbook_files.count != 1)
		return bk_tpl_err(p->c->file, p->path, "an ansible-local provisioner needs exactly "
				  "one of playbook_file or playbook_files");
	if ((rc = local_kind(p, &a->playbook_file, "playbook_file", NONE, false)) ||
	    (rc = local_list(p, &a->playbook_files, "playbook_files", false)) ||
	    (rc = local_kind(p, &a->playbook_dir, "playbook_dir", NONE, true)) ||
	    (rc = local_list(p, &a->playbook_paths, "playbook_paths", true)) ||
	    (rc = local_list(p, &a->role_paths, "role_paths", true)) ||
	    (rc = local_kind(p, &a->group_vars, "group_vars", NONE, true)) ||
	    (rc = local_kind(p, &a->host_vars, "host_vars", NONE, true)) ||
	    (rc = local_kind(p, &a->inventory_file, "inventory_file", NONE, false)))
		return rc;
	return local_kind(p, &a->galaxy_file, "galaxy_file", NONE, false);
}

/* The proxy's keys do nothing here: bakeami runs ansible-playbook against
 * the instance's address itself, with the bake's key and host key. */
static void warn_proxy_keys(const prov *p)
{
	static const char *const keys[] = {"use_proxy", "local_port", "ssh_host_key_file",
					   "ssh_authorized_key_file", "sftp_command"};

	for (size_t i = 0; i < BK_ARRAY_SIZE(keys); i++)
		if (get(p, keys[i]))
			bk_tpl_warn(p->c->warnings, "%s: %s.%s: ignored: bakeami connects Ansible "
				    "to the instance directly (no proxy), with the bake's SSH "
				    "key and the host key it trusted", p->c->file, p->path, keys[i]);
}

static int check_ansible(prov *p)
{
	bk_prov_ansible_cfg *a = &p->pv->u.ansible;
	int rc;

	if (!a->playbook_file)
		return perr_key(p, "playbook_file", "required but missing");
	warn_proxy_keys(p);
	for (size_t i = 0; i < a->ansible_env_vars.count; i++) {
		const char *kv = a->ansible_env_vars.items[i], *eq = strchr(kv, '=');
		if (!eq || !valid_env_name(kv, (size_t)(eq - kv))) {
			char *path = sub(p, "ansible_env_vars");
			char *ip = path ? bk_tpl_jpath_index(path, i) : NULL;
			rc = bk_tpl_err(p->c->file, ip ? ip : p->path, "\"%s\" is not NAME=VALUE", kv);
			free(ip);
			free(path);
			return rc;
		}
	}
	static const bk_cmd_field fields[] = {{"HostAlias", "", false}, {"Host", "", false},
					      {"User", "", false}, {"Port", "", false}};

	if ((rc = check_command(p, "inventory_file_template", a->inventory_file_template, fields,
				BK_ARRAY_SIZE(fields))) ||
	    (rc = local_kind(p, &a->playbook_file, "playbook_file", NONE, false)) ||
	    (rc = local_kind(p, &a->inventory_file, "inventory_file", NONE, false)) ||
	    (rc = local_kind(p, &a->inventory_directory, "inventory_directory", NONE, true)))
		return rc;
	return local_kind(p, &a->galaxy_file, "galaxy_file", NONE, false);
}

/* ---- one provisioner ------------------------------------------------- */

/* The rendered override of this build: Packer's override[rawName], the
 * key as written (rendering keeps the keys' order, so the same place). */
static const cJSON *my_override(const prov *p, const cJSON *ov)
{
	const cJSON *raw = cJSON_GetObjectItemCaseSensitive(p->src, "override");
	const char *name = bk_tpl_raw_build_name(p->c->tpl->builder);
	const cJSON *r = raw ? raw->child : NULL, *it = ov->child;

	for (; r && it; r = r->next, it = it->next)
		if (strcmp(r->string, name) == 0)
			return it;
	return NULL;
}

/* Packer's override: the keys under override[<build name>] replace ours. */
static int apply_override(prov *p)
{
	cJSON *ov = cJSON_GetObjectItemCaseSensitive(p->obj, "override");
	const cJSON *mine;

	if (!ov)
		return 0;
	if (!cJSON_IsObject(ov))
		return perr_key(p, "override", "expected an object keyed by build name");
	mine = my_override(p, ov);
	if (mine && !cJSON_IsObject(mine))
		return perr_key(p, "override", "expected an object for this build");
	for (const cJSON *it = mine ? mine->child : NULL; it; it = it->next) {
		cJSON *dup = cJSON_Duplicate(it, 1);
		if (!dup)
			return bk_oom();
		if (cJSON_GetObjectItemCaseSensitive(p->obj, it->string))
			cJSON_ReplaceItemInObjectCaseSensitive(p->obj, it->string, dup);
		else
			cJSON_AddItemToObject(p->obj, it->string, dup);
	}
	cJSON_DeleteItemFromObjectCaseSensitive(p->obj, "override");
	return 0;
}

static int find_kind(const prov *p, size_t *out)
{
	const cJSON *type = get(p, "type");

	if (!type)
		return perr_key(p, "type", "required but missing");
	if (!cJSON_IsString(type))
		return perr_key(p, "type", "expected a string");
	for (size_t i = 0; i < BK_ARRAY_SIZE(kinds); i++)
		if (strcmp(kinds[i].name, type->valuestring) == 0) {
			*out = i;
			return 0;
		}
	char *s = sub(p, "type"), runs[128];
	int rc;

	bk_tpl_runnable_list(runs, sizeof(runs));
	rc = bk_tpl_err(p->c->file, s ? s : p->path, "unknown provisioner type \"%s\" (this "
			"build of bakeami runs %s)", type->valuestring, runs);
	free(s);
	return rc;
}

/* only/except as written against the build's raw name, as Packer's
 * core.go (rendering them could make two names one). */
static bool excluded(const prov *p)
{
	const char *name = bk_tpl_raw_build_name(p->c->tpl->builder);
	const cJSON *only = cJSON_GetObjectItemCaseSensitive(p->src, "only");

	return (only && !bk_tpl_json_listed(only, name)) ||
	       bk_tpl_json_listed(cJSON_GetObjectItemCaseSensitive(p->src, "except"), name);
}

static void puppet_free(bk_prov_puppet_cfg *pu)
{
	char **strs[] = {&pu->execute_command, &pu->staging_dir, &pu->working_dir,
			 &pu->puppet_bin_dir, &pu->guest_os_type, &pu->manifest_file,
			 &pu->manifest_dir, &pu->hiera_config_path, &pu->puppet_server,
			 &pu->puppet_node, &pu->client_cert_path, &pu->client_private_key_path,
			 &pu->options};

	for (size_t i = 0; i < BK_ARRAY_SIZE(strs); i++)
		free(*strs[i]);
	bk_kv_free(&pu->facter);
	bk_strv_free(&pu->extra_arguments);
	bk_strv_free(&pu->module_paths);
}

void bk_tpl_provisioner_free(bk_provisioner *pv)
{
	bk_prov_shell_cfg *sh = &pv->u.shell;
	bk_prov_file_cfg *f = &pv->u.file;
	bk_prov_local_cfg *l = &pv->u.local;
	bk_prov_ansible_local_cfg *al = &pv->u.ansible_local;
	bk_prov_ansible_cfg *an = &pv->u.ansible;

	free(pv->type_name);
	free(pv->path);
	cJSON_Delete(pv->rendered);
	switch (pv->type) {
	case BK_PROV_SHELL:
		bk_strv_free(&sh->inline_lines);
		bk_strv_free(&sh->scripts);
		bk_strv_free(&sh->environment_vars);
		bk_kv_free(&sh->env);
		free(sh->execute_command);
		free(sh->inline_shebang);
		free(sh->remote_folder);
		free(sh->remote_file);
		free(sh->remote_path);
		free(sh->env_var_format);
		free(sh->valid_exit_codes.items);
		break;
	case BK_PROV_FILE:
		bk_strv_free(&f->sources);
		free(f->destination);
		free(f->content);
		break;
	case BK_PROV_SHELL_LOCAL:
		bk_strv_free(&l->inline_lines);
		bk_strv_free(&l->scripts);
		free(l->inline_shebang);
		bk_strv_free(&l->environment_vars);
		bk_kv_free(&l->env);
		free(l->valid_exit_codes.items);
		break;
	case BK_PROV_ANSIBLE_LOCAL:
		free(al->playbook_file);
		bk_strv_free(&al->playbook_files);
		free(al->playbook_dir);
		bk_strv_free(&al->playbook_paths);
		bk_strv_free(&al->role_paths);
		free(al->group_vars);
		free(al->host_vars);
		free(al->inventory_file);
		free(al->galaxy_file);
		bk_strv_free(&al->extra_arguments);
		bk_strv_free(&al->inventory_groups);
		free(al->staging_directory);
		free(al->command);
		free(al->galaxy_command);
		break;
	case BK_PROV_ANSIBLE:
		free(an->playbook_file);
		free(an->user);
		bk_strv_free(&an->extra_arguments);
		bk_strv_free(&an->ansible_env_vars);
		bk_strv_free(&an->ansible_ssh_extra_args);
		bk_strv_free(&an->groups);
		bk_strv_free(&an->empty_groups);
		free(an->host_alias);
		free(an->inventory_file_template);
		free(an->inventory_file);
		free(an->inventory_directory);
		free(an->galaxy_file);
		free(an->galaxy_command);
		free(an->roles_path);
		free(an->collections_path);
		free(an->command);
		break;
	case BK_PROV_PUPPET_MASTERLESS:
	case BK_PROV_PUPPET_SERVER:
		puppet_free(&pv->u.puppet);
		break;
	default:
		break;
	}
	memset(pv, 0, sizeof(*pv));
}

static int push(bk_cfg_ctx *c, bk_provisioner *pv)
{
	bk_build_config *cfg = c->cfg;
	bk_provisioner *arr = realloc(cfg->provisioners,
				      (cfg->provisioners_count + 1) * sizeof(*arr));

	if (!arr)
		return bk_oom();
	cfg->provisioners = arr;
	arr[cfg->provisioners_count++] = *pv;
	memset(pv, 0, sizeof(*pv));
	return 0;
}

static int read_one(prov *p, size_t k)
{
	bk_provisioner *pv = p->pv;
	int rc;

	pv->type = kinds[k].type;
	if (kinds[k].type == BK_PROV_SHELL)
		pv->u.shell.start_retry_timeout_s = 300;   /* Packer's default */
	if (kinds[k].type == BK_PROV_PUPPET_MASTERLESS || kinds[k].type == BK_PROV_PUPPET_SERVER)
		pv->u.puppet.clean_staging_dir = -1;
	pv->type_name = bk_strdup(kinds[k].name);
	pv->path = bk_strdup(p->path);
	if (!pv->type_name || !pv->path)
		return bk_oom();
	if ((rc = read_keys(p, kinds[k].keys, kinds[k].strict)) != 0 || excluded(p))
		return rc;
	return kinds[k].check(p);
}

/* The provisioner object at `path` (rendered, read, checked) into *pv;
 * *kept: whether only/except keep it for this build. */
static int build_one(bk_cfg_ctx *c, const cJSON *src, const char *path, bk_provisioner *pv,
		     bool *kept)
{
	char what[64];
	prov p = {c, NULL, path, what, pv, src};
	size_t k = 0;
	int rc;

	*kept = false;
	memset(pv, 0, sizeof(*pv));
	if (!cJSON_IsObject(src))
		return bk_tpl_err(c->file, path, "expected an object, got %s", bk_tpl_json_type(src));
	if ((rc = bk_interp_render_json(&p.obj, c->in, src, path)) != 0)
		return rc;
	if ((rc = find_kind(&p, &k)) == 0) {
		snprintf(what, sizeof(what), "a %s provisioner", kinds[k].name);
		rc = apply_override(&p);
	}
	if (rc == 0)
		rc = read_one(&p, k);
	if (rc == 0 && !excluded(&p)) {
		pv->rendered = p.obj;   /* kept for the inputs digest */
		p.obj = NULL;
		*kept = true;
	} else if (rc == 0) {
		bk_tpl_decoded_forget(c->cfg, path);
	}
	cJSON_Delete(p.obj);
	return rc;
}

int bk_tpl_provisioners_build(bk_cfg_ctx *c, const cJSON *list)
{
	char path[48];
	bk_provisioner pv;
	bool kept;
	size_t i = 0;
	int rc = 0;

	if (!list)
		return 0;
	if (!cJSON_IsArray(list))
		return bk_tpl_err(c->file, "provisioners", "expected an array, got %s",
				  bk_tpl_json_type(list));
	for (const cJSON *it = list->child; it && rc == 0; it = it->next, i++) {
		snprintf(path, sizeof(path), "provisioners[%zu]", i);
		if ((rc = build_one(c, it, path, &pv, &kept)) == 0 && kept)
			rc = push(c, &pv);
		bk_tpl_provisioner_free(&pv);
	}
	return rc;
}

/* Packer's "error-cleanup-provisioner": one provisioner, read as the
 * others, that a bake runs only after provisioning or its tests failed. */
int bk_tpl_error_cleanup_build(bk_cfg_ctx *c, const cJSON *obj)
{
	bk_provisioner pv;
	bool kept;
	int rc;

	if (!obj)
		return 0;
	if ((rc = build_one(c, obj, "error-cleanup-provisioner", &pv, &kept)) == 0 && kept) {
		if (!(c->cfg->error_cleanup = malloc(sizeof(pv))))
			rc = bk_oom();
		else
			*c->cfg->error_cleanup = pv;
	}
	if (rc != 0 || !kept)
		bk_tpl_provisioner_free(&pv);
	return rc;
}

int bk_tpl_local_pp_build(bk_cfg_ctx *c, cJSON *rendered, const char *path,
			  bk_provisioner *out)
{
	prov p = {c, rendered, path, "a shell-local post-processor", out, NULL};
	int n = !!get(&p, "command") + !!get(&p, "inline") + !!get(&p, "script") +
		!!get(&p, "scripts");
	int rc;

	memset(out, 0, sizeof(*out));
	out->type = BK_PROV_SHELL_LOCAL;
	if (!(out->type_name = bk_strdup("shell-local")) || !(out->path = bk_strdup(path)))
		return bk_oom();
	if ((rc = read_keys(&p, local_pp_keys, true)) != 0)
		return rc;
	if (n != 1)   /* Packer's rule for the post-processor */
		return bk_tpl_err(c->file, path, "a shell-local post-processor needs exactly one "
				  "of command, inline, script or scripts (found %d), as in Packer", n);
	return check_local(&p);
}

const char *bk_tpl_prov_kind(size_t i, bk_prov_type *type)
{
	if (i >= BK_ARRAY_SIZE(kinds))
		return NULL;
	*type = kinds[i].type;
	return kinds[i].name;
}

void bk_tpl_provisioners_free(bk_build_config *cfg)
{
	for (size_t i = 0; i < cfg->provisioners_count; i++)
		bk_tpl_provisioner_free(&cfg->provisioners[i]);
	free(cfg->provisioners);
	cfg->provisioners = NULL;
	cfg->provisioners_count = 0;
	if (cfg->error_cleanup)
		bk_tpl_provisioner_free(cfg->error_cleanup);
	free(cfg->error_cleanup);
	cfg->error_cleanup = NULL;
}
