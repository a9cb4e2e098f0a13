/*
 * provisioners.c - the "provisioners" list: rendered, filtered by
 * only/except, merged with override[build name], checked per type, with
 * local paths (scripts, upload sources, manifests) rewritten to the file
 * found so the provisioner does not have to search again.
 */
#include <stdlib.h>
#include <string.h>

#include "template_int.h"

typedef struct {
	bk_cfg_ctx *c;
	cJSON *obj;          /* the rendered provisioner */
	const char *path;    /* "provisioners[2]" */
	const char *what;    /* "a shell provisioner", for messages */
} prov;

typedef struct {
	const char *key;
	char kind;           /* as bk_tpl_get_opt, plus 'n' integer list, '*' anything */
} pkey;

#define META_KEYS {"type", 's'}, {"only", 'v'}, {"except", 'v'}, {"override", '*'}, \
	{"pause_before", 'd'}, {"max_retries", 'i'}, {"timeout", 'd'}

static const pkey shell_keys[] = {META_KEYS,
	{"inline", 'v'}, {"script", 's'}, {"scripts", 'v'}, {"environment_vars", 'v'},
	{"execute_command", 's'}, {"inline_shebang", 's'}, {"remote_folder", 's'},
	{"remote_file", 's'}, {"remote_path", 's'}, {"expect_disconnect", 'b'},
	{"valid_exit_codes", 'n'}, {"skip_clean", 'b'}, {"binary", 'b'},
	{"start_retry_timeout", 'd'}, {"use_env_var_file", 'b'}, {"env_var_format", 's'},
	{"env", 'k'}, {"pause_after", 'd'}, {NULL, 0}};
static const pkey file_keys[] = {META_KEYS,
	{"source", 's'}, {"sources", 'v'}, {"destination", 's'}, {"direction", 's'},
	{"generated", 'b'}, {"content", 's'}, {NULL, 0}};
static const pkey puppet_server_keys[] = {META_KEYS,
	{"options", 's'}, {"facter", 'k'}, {"extra_arguments", 'v'}, {"puppet_server", 's'},
	{"puppet_node", 's'}, {"ignore_exit_codes", 'b'}, {"staging_dir", 's'},
	{"execute_command", 's'}, {"prevent_sudo", 'b'}, {"client_cert_path", 's'},
	{"client_private_key_path", 's'}, {"puppet_bin_dir", 's'},
	{"working_directory", 's'}, {"guest_os_type", 's'}, {NULL, 0}};
static const pkey puppet_masterless_keys[] = {META_KEYS,
	{"manifest_file", 's'}, {"manifest_dir", 's'}, {"module_paths", 'v'},
	{"hiera_config_path", 's'}, {"facter", 'k'}, {"extra_arguments", 'v'},
	{"execute_command", 's'}, {"staging_directory", 's'}, {"prevent_sudo", 'b'},
	{"ignore_exit_codes", 'b'}, {"working_directory", 's'}, {"puppet_bin_dir", 's'},
	{"guest_os_type", 's'}, {"clean_staging_directory", 'b'}, {NULL, 0}};
/* Other types: only the meta keys are checked for now. */
static const pkey meta_keys[] = {META_KEYS, {NULL, 0}};

static int check_shell(prov *p);
static int check_file(prov *p);
static int check_puppet_server(prov *p);
static int check_puppet_masterless(prov *p);
static int check_ansible_local(prov *p);

static const struct {
	const char *name;
	bk_prov_type type;
	const pkey *keys;
	bool strict;         /* unknown keys are errors */
	int (*check)(prov *p);
} kinds[] = {
	{"shell", BK_PROV_SHELL, shell_keys, true, check_shell},
	{"file", BK_PROV_FILE, file_keys, true, check_file},
	{"shell-local", BK_PROV_SHELL_LOCAL, meta_keys, false, NULL},
	{"puppet-masterless", BK_PROV_PUPPET_MASTERLESS, puppet_masterless_keys, true,
	 check_puppet_masterless},
	{"puppet-server", BK_PROV_PUPPET_SERVER, puppet_server_keys, true, check_puppet_server},
	{"ansible-local", BK_PROV_ANSIBLE_LOCAL, meta_keys, false, check_ansible_local},
};

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

static int check_int_list(const prov *p, const cJSON *v, const char *path)
{
	size_t i = 0;
	long long n;
	int rc = 0;

	if (!cJSON_IsArray(v))
		return bk_tpl_err(p->c->file, path, "expected an array of integers, got %s",
				  bk_tpl_json_type(v));
	for (const cJSON *it = v->child; it && rc == 0; it = it->next, i++) {
		char *s = bk_tpl_jpath_index(path, i);
		rc = s ? bk_tpl_get_int(&n, p->c, it, s) : bk_err(BAKEAMI_ENOMEM, "out of memory");
		free(s);
	}
	return rc;
}

/* Type-check one key; *known tells whether the type's table has it. */
static int check_key(const prov *p, const pkey *keys, const cJSON *it, bool *known)
{
	union { char *s; int i; double d; bk_strv v; bk_kv k; } tmp;
	int rc = 0;

	*known = false;
	for (const pkey *k = keys; k->key && !*known; k++) {
		if (strcmp(k->key, it->string) != 0)
			continue;
		*known = true;
		memset(&tmp, 0, sizeof(tmp));
		if (k->kind == 'n') {
			char *s = sub(p, it->string);
			rc = s ? check_int_list(p, it, s) : bk_err(BAKEAMI_ENOMEM, "out of memory");
			free(s);
		} else if (k->kind != '*') {
			rc = bk_tpl_get_opt(&tmp, p->c, p->obj, it->string, p->path, k->kind);
		}
		if (k->kind == 's')
			free(tmp.s);
		else if (k->kind == 'v')
			bk_strv_free(&tmp.v);
		else if (k->kind == 'k')
			bk_kv_free(&tmp.k);
	}
	return rc;
}

static int check_keys(const prov *p, const pkey *keys, bool strict)
{
	int rc = 0;
	bool known;

	for (const cJSON *it = p->obj->child; it && rc == 0; it = it->next) {
		rc = check_key(p, keys, it, &known);
		if (rc == 0 && !known && strict) {
			char what[96];
			snprintf(what, sizeof(what), "unknown key for %s", p->what);
			rc = perr_key(p, it->string, what);
		}
	}
	return rc;
}

static const cJSON *get(const prov *p, const char *key)
{
	return cJSON_GetObjectItemCaseSensitive(p->obj, key);
}

/* Replace a local path (string item) by the file that exists. */
static int resolve_item(const prov *p, cJSON *item, const char *path)
{
	char *found = NULL;
	int rc = bk_tpl_find_local(&found, p->c, item->valuestring, path);

	if (rc == 0)
		rc = bk_tpl_json_set_string(item, found);
	free(found);
	return rc;
}

static int resolve_key(const prov *p, const char *key)
{
	cJSON *v = cJSON_GetObjectItemCaseSensitive(p->obj, key);
	char *path;
	int rc = 0;
	size_t i = 0;

	if (!v)
		return 0;
	if (!(path = sub(p, key)))
		return bk_err(BAKEAMI_ENOMEM, "out of memory");
	if (cJSON_IsString(v))
		rc = resolve_item(p, v, path);
	for (cJSON *it = cJSON_IsArray(v) ? v->child : NULL; it && rc == 0; it = it->next, i++) {
		char *ip = bk_tpl_jpath_index(path, i);
		rc = ip ? resolve_item(p, it, ip) : bk_err(BAKEAMI_ENOMEM, "out of memory");
		free(ip);
	}
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

static int check_env_vars(const prov *p)
{
	const cJSON *list = get(p, "environment_vars");
	size_t i = 0;

	for (const cJSON *it = list ? list->child : NULL; it; it = it->next, i++) {
		const char *eq = strchr(it->valuestring, '=');
		if (eq && valid_env_name(it->valuestring, (size_t)(eq - it->valuestring)))
			continue;
		char *path = sub(p, "environment_vars"), *ip = path ? bk_tpl_jpath_index(path, i) : NULL;
		int rc = bk_tpl_err(p->c->file, ip ? ip : p->path, "\"%s\" is not NAME=VALUE",
				    it->valuestring);
		free(ip);
		free(path);
		return rc;
	}
	return 0;
}

static int check_shell(prov *p)
{
	int n = !!get(p, "inline") + !!get(p, "script") + !!get(p, "scripts");
	const cJSON *list = get(p, "inline") ? get(p, "inline") : get(p, "scripts");
	int rc;

	if (n != 1)
		return bk_tpl_err(p->c->file, p->path, "a shell provisioner needs exactly one "
				  "of inline, script or scripts (found %d)", n);
	if (list && cJSON_GetArraySize(list) == 0)
		return perr_key(p, get(p, "inline") ? "inline" : "scripts", "must not be empty");
	if ((rc = check_env_vars(p)) != 0)
		return rc;
	if ((rc = resolve_key(p, "script")) != 0)
		return rc;
	return resolve_key(p, "scripts");
}

static int check_file(prov *p)
{
	const char *dir = cJSON_GetStringValue(get(p, "direction"));
	const cJSON *gen = get(p, "generated");
	int n = !!get(p, "source") + !!get(p, "sources") + !!get(p, "content"), rc;

	if (n != 1)
		return bk_tpl_err(p->c->file, p->path, "a file provisioner needs exactly one "
				  "of source, sources or content (found %d)", n);
	if (!get(p, "destination"))
		return perr_key(p, "destination", "required but missing");
	if (dir && strcmp(dir, "upload") != 0 && strcmp(dir, "download") != 0)
		return perr_key(p, "direction", "must be \"upload\" or \"download\"");
	/* Downloads name remote files; generated ones appear during the build. */
	if ((dir && strcmp(dir, "download") == 0) || cJSON_IsTrue(gen) ||
	    (cJSON_IsString(gen) && strcmp(gen->valuestring, "true") == 0))
		return 0;
	if ((rc = resolve_key(p, "source")) != 0)
		return rc;
	return resolve_key(p, "sources");
}

static int check_puppet_server(prov *p)
{
	if (get(p, "options"))
		bk_tpl_warn(p->c->warnings, "%s: %s.options: the old puppet-server key (Packer "
			"replaced it with extra_arguments); accepted", p->c->file, p->path);
	return 0;
}

static int check_puppet_masterless(prov *p)
{
	int rc;

	if (!get(p, "manifest_file"))
		return perr_key(p, "manifest_file", "required but missing");
	if ((rc = resolve_key(p, "manifest_file")) == 0 &&
	    (rc = resolve_key(p, "manifest_dir")) == 0 &&
	    (rc = resolve_key(p, "module_paths")) == 0)
		rc = resolve_key(p, "hiera_config_path");
	return rc;
}

static int check_ansible_local(prov *p)
{
	const cJSON *pb = get(p, "playbook_file");

	if (!pb)
		return perr_key(p, "playbook_file", "required but missing");
	if (!cJSON_IsString(pb))
		return perr_key(p, "playbook_file", "expected a string");
	return resolve_key(p, "playbook_file");
}

static bool listed(const cJSON *list, const char *name)
{
	for (const cJSON *it = list ? list->child : NULL; it; it = it->next)
		if (cJSON_IsString(it) && strcmp(it->valuestring, name) == 0)
			return true;
	return false;
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
	mine = cJSON_GetObjectItemCaseSensitive(ov, p->c->cfg->build_name);
	if (mine && !cJSON_IsObject(mine))
		return perr_key(p, "override", "expected an object for this build");
	for (const cJSON *it = mine ? mine->child : NULL; it; it = it->next) {
		cJSON *dup = cJSON_Duplicate(it, 1);
		if (!dup)
			return bk_err(BAKEAMI_ENOMEM, "out of memory");
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
	char *s = sub(p, "type");
	int rc = bk_tpl_err(p->c->file, s ? s : p->path, "unknown provisioner type \"%s\" "
			    "(supported: shell, file, shell-local, puppet-masterless, "
			    "puppet-server, ansible-local)", type->valuestring);
	free(s);
	return rc;
}

static bool excluded(const prov *p)
{
	const char *name = p->c->cfg->build_name;
	const cJSON *only = get(p, "only");

	return (only && !listed(only, name)) || listed(get(p, "except"), name);
}

static int push(prov *p, size_t k)
{
	bk_build_config *cfg = p->c->cfg;
	bk_provisioner *arr = realloc(cfg->provisioners,
				      (cfg->provisioners_count + 1) * sizeof(*arr));
	bk_provisioner *pv;
	int rc = 0;

	if (!arr)
		return bk_err(BAKEAMI_ENOMEM, "out of memory");
	cfg->provisioners = arr;
	pv = &arr[cfg->provisioners_count++];
	memset(pv, 0, sizeof(*pv));
	pv->type = kinds[k].type;
	pv->cfg = p->obj;
	p->obj = NULL;
	pv->type_name = bk_strdup(kinds[k].name);
	pv->path = bk_strdup(p->path);
	if (!pv->type_name || !pv->path)
		return bk_err(BAKEAMI_ENOMEM, "out of memory");
	if (rc == 0)
		rc = bk_tpl_get_opt(&pv->pause_before_s, p->c, pv->cfg, "pause_before", p->path, 'd');
	if (rc == 0)
		rc = bk_tpl_get_opt(&pv->timeout_s, p->c, pv->cfg, "timeout", p->path, 'd');
	if (rc == 0)
		rc = bk_tpl_get_opt(&pv->max_retries, p->c, pv->cfg, "max_retries", p->path, 'i');
	return rc;
}

static int build_one(bk_cfg_ctx *c, const cJSON *src, size_t idx)
{
	char path[48], what[64];
	prov p = {c, NULL, path, what};
	size_t k = 0;
	int rc;

	snprintf(path, sizeof(path), "provisioners[%zu]", idx);
	if (!cJSON_IsObject(src))
		return bk_tpl_err(c->file, path, "expected an object, got %s", bk_tpl_json_type(src));
	if ((rc = bk_interp_render_json(&p.obj, c->in, src, path)) != 0)
		return rc;
	if ((rc = find_kind(&p, &k)) == 0) {
		snprintf(what, sizeof(what), "a %s provisioner", kinds[k].name);
		rc = apply_override(&p);
	}
	if (rc == 0)
		rc = check_keys(&p, kinds[k].keys, kinds[k].strict);
	if (rc == 0 && !excluded(&p) && kinds[k].check)
		rc = kinds[k].check(&p);
	if (rc == 0 && !excluded(&p))
		rc = push(&p, k);
	cJSON_Delete(p.obj);
	return rc;
}

int bk_tpl_provisioners_build(bk_cfg_ctx *c, const cJSON *list)
{
	size_t i = 0;
	int rc = 0;

	if (!list)
		return 0;
	if (!cJSON_IsArray(list))
		return bk_tpl_err(c->file, "provisioners", "expected an array, got %s",
				  bk_tpl_json_type(list));
	for (const cJSON *it = list->child; it && rc == 0; it = it->next, i++)
		rc = build_one(c, it, i);
	return rc;
}

void bk_tpl_provisioners_free(bk_build_config *cfg)
{
	for (size_t i = 0; i < cfg->provisioners_count; i++) {
		free(cfg->provisioners[i].type_name);
		free(cfg->provisioners[i].path);
		cJSON_Delete(cfg->provisioners[i].cfg);
	}
	free(cfg->provisioners);
	cfg->provisioners = NULL;
	cfg->provisioners_count = 0;
}
