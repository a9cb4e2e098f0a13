/*
 * dump.c - `bakeami validate --dump-plan`: one build's plan as JSON, for
 * comparing values with Packer's. Every option the template sets appears
 * under its JSON path as decoded by Packer 1.6.6's rules (readers.c
 * records each one as it is read), then the defaults Packer would use for
 * a few options left out (taken from the plan itself, so the dump shows
 * what a bake uses): communicator, ssh_port, ssh_timeout, the bastion's
 * port and key file, inline_shebang,
 * a manifest's output. Durations are seconds. Secrets are masked.
 */
#include <stdlib.h>
#include <string.h>

#include "template_int.h"

/* value under parent.key unless the template set it. Takes value. */
static int add_default(cJSON *values, const char *parent, const char *key, cJSON *value)
{
	char *path = bk_tpl_jpath_key(parent, key);

	if (!path || !value) {
		free(path);
		cJSON_Delete(value);
		return bk_oom();
	}
	if (cJSON_GetObjectItemCaseSensitive(values, path))
		cJSON_Delete(value);
	else
		cJSON_AddItemToObject(values, path, value);
	free(path);
	return 0;
}

/* Packer's prepareSSH: port 22, and the instance's key file for the
 * bastion too, as the template wrote it. */
static int bastion_defaults(cJSON *values, const char *b, const bk_build_config *c)
{
	char *path = bk_tpl_jpath_key(b, "ssh_private_key_file");
	const cJSON *key = path ? cJSON_GetObjectItemCaseSensitive(values, path) : NULL;
	int rc = path ? add_default(values, b, "ssh_bastion_port",
				    cJSON_CreateNumber(c->ssh_bastion_port)) : bk_oom();

	free(path);
	if (rc == 0 && key)
		rc = add_default(values, b, "ssh_bastion_private_key_file", cJSON_Duplicate(key, 1));
	return rc;
}

static int builder_defaults(cJSON *values, const bk_template *tpl)
{
	const bk_build_config *c = tpl->cfg;
	const char *b = tpl->builder_path;
	int rc = add_default(values, b, "communicator",
			     cJSON_CreateString(c->communicator_none ? "none" : "ssh"));

	if (rc == 0)
		rc = add_default(values, b, "ssh_port", cJSON_CreateNumber(c->ssh_port));
	if (rc == 0)
		rc = add_default(values, b, "ssh_timeout", cJSON_CreateNumber(c->ssh_timeout_s));
	if (rc == 0 && c->ssh_bastion_host)
		rc = bastion_defaults(values, b, c);
	return rc;
}

/* Inline lines run under inline_shebang, "/bin/sh -e" unless set. */
static int provisioner_defaults(cJSON *values, const bk_provisioner *p)
{
	const char *shebang;
	size_t lines;

	if (p->type == BK_PROV_SHELL)
		shebang = p->u.shell.inline_shebang, lines = p->u.shell.inline_lines.count;
	else if (p->type == BK_PROV_SHELL_LOCAL)
		shebang = p->u.local.inline_shebang, lines = p->u.local.inline_lines.count;
	else
		return 0;
	if (!lines)
		return 0;
	return add_default(values, p->path, "inline_shebang",
			   cJSON_CreateString(shebang && *shebang ? shebang : "/bin/sh -e"));
}

static int post_processor_defaults(cJSON *values, const bk_post_processor *pp)
{
	if (!pp->is_manifest)
		return provisioner_defaults(values, &pp->local);
	return add_default(values, pp->path, "output", cJSON_CreateString(
				   pp->manifest.output ? pp->manifest.output : BK_MANIFEST_DEFAULT));
}

/* Each string of the tree through bk_tpl_mask. */
static int mask_tree(const bk_template *tpl, cJSON *j)
{
	for (cJSON *it = j; it; it = it->next) {
		if (cJSON_IsString(it)) {
			char *m = bk_tpl_mask(tpl, it->valuestring);
			if (!m || bk_tpl_json_set_string(it, m) < 0) {
				free(m);
				return bk_oom();
			}
			free(m);
		}
		if (it->child && mask_tree(tpl, it->child) < 0)
			return bk_oom();
	}
	return 0;
}

static int add_provisioner(cJSON *list, const bk_provisioner *p)
{
	cJSON *e = cJSON_CreateObject();

	if (!e || !cJSON_AddStringToObject(e, "path", p->path) ||
	    !cJSON_AddStringToObject(e, "type", p->type_name)) {
		cJSON_Delete(e);
		return bk_oom();
	}
	cJSON_AddItemToArray(list, e);
	return 0;
}

/* The provisioners the build runs, then the error-cleanup-provisioner. */
static cJSON *provisioner_list(const bk_build_config *c)
{
	cJSON *list = cJSON_CreateArray();
	int rc = list ? 0 : bk_oom();

	for (size_t i = 0; rc == 0 && i < c->provisioners_count; i++)
		rc = add_provisioner(list, &c->provisioners[i]);
	if (rc == 0 && c->error_cleanup)
		rc = add_provisioner(list, c->error_cleanup);
	if (rc != 0) {
		cJSON_Delete(list);
		return NULL;
	}
	return list;
}

int bk_template_dump(cJSON **out, const bk_template *tpl)
{
	const bk_build_config *c = tpl->cfg;
	cJSON *d = cJSON_CreateObject();
	cJSON *values = c->decoded ? cJSON_Duplicate(c->decoded, 1) : cJSON_CreateObject();
	int rc = d && values ? builder_defaults(values, tpl) : bk_oom();

	for (size_t i = 0; rc == 0 && i < c->provisioners_count; i++)
		rc = provisioner_defaults(values, &c->provisioners[i]);
	if (rc == 0 && c->error_cleanup)
		rc = provisioner_defaults(values, c->error_cleanup);
	for (size_t i = 0; rc == 0 && i < c->post_processors_count; i++)
		rc = post_processor_defaults(values, &c->post_processors[i]);
	if (rc == 0 && (!cJSON_AddStringToObject(d, "name", c->build_name) ||
			!cJSON_AddStringToObject(d, "type", c->builder_type) ||
			!cJSON_AddItemToObject(d, "provisioners", provisioner_list(c))))
		rc = bk_oom();
	if (rc == 0) {
		cJSON_AddItemToObject(d, "values", values);
		values = NULL;
		rc = mask_tree(tpl, d->child);
	}
	cJSON_Delete(values);
	if (rc != 0) {
		cJSON_Delete(d);
		return rc;
	}
	*out = d;
	return 0;
}

int bk_template_dump_vars(cJSON **out, const bk_template *tpl)
{
	cJSON *v = cJSON_CreateObject();
	int rc = 0;

	for (size_t i = 0; v && rc == 0 && i < tpl->vars.count; i++)
		if (!cJSON_AddStringToObject(v, tpl->vars.keys[i], tpl->vars.vals[i]))
			rc = bk_oom();
	if (!v || rc != 0 || (rc = mask_tree(tpl, v->child)) != 0) {
		cJSON_Delete(v);
		return rc ? rc : bk_oom();
	}
	*out = v;
	return 0;
}
