/*
 * config.c - the builder: one amazon-ebs or amazon-instance object, rendered,
 * read field by field through a table into bk_build_config, then checked as
 * a whole. Unknown keys are errors (a typo would otherwise be silently
 * ignored); the harmless Packer keys we do not act on are in the table as
 * "accepted", with their types still checked.
 */
#include <arpa/inet.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../aws/aws.h"
#include "../verify/verify.h"
#include "template_int.h"

typedef int (*setter)(bk_cfg_ctx *c, const cJSON *v, const char *path, size_t off);

typedef struct {
	const char *key;
	setter set;
	size_t off;
	unsigned flags;
} field;

/* SSH_ONLY: required only when the communicator is ssh; BLOCK: a Packer tag
 * block (tag, run_tag, ...), read after the maps it adds to, as Packer's
 * CopyOn does */
enum { INSTANCE_ONLY = 1, REQUIRED = 2, SSH_ONLY = 4, BLOCK = 8, EBS_ONLY = 16 };

#define OFF(f) offsetof(bk_build_config, f)
#define AT(c, off, type) ((type *)((char *)(c)->cfg + (off)))

static int set_str(bk_cfg_ctx *c, const cJSON *v, const char *path, size_t off)
{
	return bk_tpl_get_str(AT(c, off, char *), c, v, path);
}

static int set_bool(bk_cfg_ctx *c, const cJSON *v, const char *path, size_t off)
{
	return bk_tpl_get_bool(AT(c, off, int), c, v, path);
}

static int set_int(bk_cfg_ctx *c, const cJSON *v, const char *path, size_t off)
{
	long long n = *AT(c, off, int);   /* a null keeps it */
	int rc = bk_tpl_get_int(&n, c, v, path);

	if (rc == 0 && (n < 0 || n > 1000000))
		return bk_tpl_err(c->file, path, "%lld is out of range (0 to 1000000)", n);
	if (rc == 0)
		*AT(c, off, int) = (int)n;
	return rc;
}

static int set_tri(bk_cfg_ctx *c, const cJSON *v, const char *path, size_t off)
{
	return bk_tpl_get_tri(AT(c, off, int), c, v, path);
}

static int set_dur(bk_cfg_ctx *c, const cJSON *v, const char *path, size_t off)
{
	return bk_tpl_get_dur(AT(c, off, double), c, v, path);
}

static int set_strv(bk_cfg_ctx *c, const cJSON *v, const char *path, size_t off)
{
	return bk_tpl_get_strv(AT(c, off, bk_strv), c, v, path);
}

static int set_kv(bk_cfg_ctx *c, const cJSON *v, const char *path, size_t off)
{
	return bk_tpl_get_kv(AT(c, off, bk_kv), c, v, path);
}

/* Accepted and type-checked, not stored: the rendered object keeps it. */
static int check_str(bk_cfg_ctx *c, const cJSON *v, const char *path, size_t off)
{
	char *s = NULL;
	int rc = bk_tpl_get_str(&s, c, v, path);

	(void)off;
	free(s);
	return rc;
}

static int check_bool(bk_cfg_ctx *c, const cJSON *v, const char *path, size_t off)
{
	int b;

	(void)off;
	return bk_tpl_get_bool(&b, c, v, path);
}

static int check_int(bk_cfg_ctx *c, const cJSON *v, const char *path, size_t off)
{
	long long n;

	(void)off;
	return bk_tpl_get_int(&n, c, v, path);
}

static int check_dur(bk_cfg_ctx *c, const cJSON *v, const char *path, size_t off)
{
	double d;

	(void)off;
	return bk_tpl_get_dur(&d, c, v, path);
}

static int check_strv(bk_cfg_ctx *c, const cJSON *v, const char *path, size_t off)
{
	bk_strv s = BK_STRV_INIT;
	int rc = bk_tpl_get_strv(&s, c, v, path);

	(void)off;
	bk_strv_free(&s);
	return rc;
}

static int check_any(bk_cfg_ctx *c, const cJSON *v, const char *path, size_t off)
{
	(void)c, (void)v, (void)path, (void)off;
	return 0;
}


/* Keyboard-interactive asks a person at the bake; nobody answers in CI. */
static int set_no_interactive(bk_cfg_ctx *c, const cJSON *v, const char *path, size_t off)
{
	int on = 0, rc = bk_tpl_get_bool(&on, c, v, path);

	(void)off;
	if (rc == 0 && on)
		rc = bk_tpl_err(c->file, path, "keyboard-interactive login to the bastion is not "
				"supported (nobody answers its prompts in an unattended bake): use "
				"ssh_bastion_private_key_file or ssh_bastion_agent_auth");
	return rc;
}

/* A password in a template ends up in logs and journals; keys do not. */
static int no_bastion_password(bk_cfg_ctx *c, const cJSON *v, const char *path, size_t off)
{
	char *s = NULL;
	int rc = bk_tpl_get_str(&s, c, v, path);

	(void)off;
	if (rc == 0 && s && *s)
		rc = bk_tpl_err(c->file, path, "password login to the bastion is not supported: "
				"use ssh_bastion_private_key_file or ssh_bastion_agent_auth");
	free(s);
	return rc;
}

/* Packer's IsSpotInstance: "" and "0" are on-demand; "auto", else a price
 * (EC2 takes a decimal: refused here rather than at launch). */
static int set_spot(bk_cfg_ctx *c, const cJSON *v, const char *path, size_t off)
{
	char *s = NULL, *end = NULL;
	int rc = bk_tpl_get_str(&s, c, v, path);

	(void)off;
	/* a null leaves s NULL: nothing set, as in Packer */
	if (rc == 0 && s && *s && strcmp(s, "0") && strcmp(s, "auto") &&
	    (strtod(s, &end) <= 0 || *end || strspn(s, "0123456789.") != strlen(s)))
		rc = bk_tpl_err(c->file, path, "\"%s\" is not a price: give \"auto\" or a "
				"price in US dollars an hour, like \"0.05\"", s);
	free(c->cfg->spot_price);
	c->cfg->spot_price = rc == 0 && s && *s && strcmp(s, "0") ? s : NULL;
	if (c->cfg->spot_price != s)
		free(s);
	return rc;
}

/* One of Packer 1.6.6's statements: Effect, Action and Resource only
 * (its struct has no Sid or Condition, and refuses unknown keys). */
static int read_statement(cJSON **out, bk_cfg_ctx *c, const cJSON *v, const char *path)
{
	static const char *const keys[] = {"Effect", "Action", "Resource", NULL};
	char *effect = NULL;
	bk_strv action = BK_STRV_INIT, resource = BK_STRV_INIT;
	int rc = bk_tpl_only_keys(c, v, path, keys, "a policy statement (Packer's has Effect, "
				  "Action and Resource)");

	if (rc == 0)
		rc = bk_tpl_get_opt(&effect, c, v, "Effect", path, 's');
	if (rc == 0)
		rc = bk_tpl_get_opt(&action, c, v, "Action", path, 'v');
	if (rc == 0)
		rc = bk_tpl_get_opt(&resource, c, v, "Resource", path, 'v');
	if (rc == 0 && (!effect || (strcmp(effect, "Allow") && strcmp(effect, "Deny"))))
		rc = bk_tpl_err(c->file, path, "Effect must be \"Allow\" or \"Deny\"");
	else if (rc == 0 && (!action.count || !resource.count))
		rc = bk_tpl_err(c->file, path, "needs Action and Resource");
	if (rc == 0 && (!(*out = cJSON_CreateObject()) ||
			!cJSON_AddStringToObject(*out, "Effect", effect) ||
			!cJSON_AddItemToObject(*out, "Action", cJSON_CreateStringArray(
				(const char *const *)action.items, (int)action.count)) ||
			!cJSON_AddItemToObject(*out, "Resource", cJSON_CreateStringArray(
				(const char *const *)resource.items, (int)resource.count))))
		rc = bk_oom();
	free(effect);
	bk_strv_free(&action);
	bk_strv_free(&resource);
	return rc;
}

/* Packer's PolicyDocument; an empty Version (Packer sends "", which IAM
 * refuses) is IAM's current one. */
static int set_iam_policy(bk_cfg_ctx *c, const cJSON *v, const char *path, size_t off)
{
	static const char *const keys[] = {"Version", "Statement", NULL};
	const cJSON *st = cJSON_GetObjectItemCaseSensitive(v, "Statement"), *it;
	char *version = NULL, *spath = bk_tpl_jpath_key(path, "Statement");
	cJSON *doc = cJSON_CreateObject(), *list = cJSON_AddArrayToObject(doc, "Statement");
	size_t i = 0;
	int rc = !spath || !list ? bk_oom() : bk_tpl_only_keys(c, v, path, keys, "a policy document");

	(void)off;
	if (rc == 0)
		rc = bk_tpl_get_opt(&version, c, v, "Version", path, 's');
	if (rc == 0 && !cJSON_IsArray(st) && !cJSON_IsObject(st))
		rc = bk_tpl_err(c->file, spath, "needs at least one statement");
	/* mapstructure's weak decoding: one object is a list of one */
	for (it = cJSON_IsArray(st) ? st->child : st; rc == 0 && it; it = cJSON_IsArray(st) ? it->next : NULL) {
		char *sub = cJSON_IsArray(st) ? bk_tpl_jpath_index(spath, i++) : bk_strdup(spath);
		cJSON *one = NULL;
		rc = sub ? read_statement(&one, c, it, sub) : bk_oom();
		if (one)
			cJSON_AddItemToArray(list, one);
		free(sub);
	}
	if (rc == 0 && cJSON_GetArraySize(list) == 0)
		rc = bk_tpl_err(c->file, spath, "needs at least one statement");
	if (rc == 0 && !cJSON_AddStringToObject(doc, "Version", version && *version ? version
						: "2012-10-17"))
		rc = bk_oom();
	free(c->cfg->temp_iam_policy);
	c->cfg->temp_iam_policy = rc == 0 ? cJSON_PrintUnformatted(doc) : NULL;
	if (rc == 0 && !c->cfg->temp_iam_policy)
		rc = bk_oom();
	cJSON_Delete(doc);
	free(version);
	free(spath);
	return rc;
}

static int set_communicator(bk_cfg_ctx *c, const cJSON *v, const char *path, size_t off)
{
	(void)off;
	if (cJSON_IsString(v) && strcmp(v->valuestring, "ssh") == 0)
		return 0;
	if (cJSON_IsString(v) && strcmp(v->valuestring, "none") == 0) {
		c->cfg->communicator_none = 1;
		return 0;
	}
	return bk_tpl_err(c->file, path, "\"%s\" is not supported: \"ssh\" or \"none\" (winrm "
			  "is for Windows, which bakeami does not bake)",
			  cJSON_IsString(v) ? v->valuestring : "?");
}

static int set_sg_id(bk_cfg_ctx *c, const cJSON *v, const char *path, size_t off)
{
	char *s = NULL;
	int rc = bk_tpl_get_str(&s, c, v, path);

	(void)off;
	if (rc == 0 && *s)
		rc = bk_strv_push(&c->cfg->security_group_ids, s);
	free(s);
	return rc;
}

static int set_sg_ids(bk_cfg_ctx *c, const cJSON *v, const char *path, size_t off)
{
	bk_strv ids = BK_STRV_INIT;
	int rc = bk_tpl_get_strv(&ids, c, v, path);

	(void)off;
	for (size_t i = 0; rc == 0 && i < ids.count; i++)
		rc = bk_strv_push(&c->cfg->security_group_ids, ids.items[i]);
	bk_strv_free(&ids);
	return rc;
}

static bool valid_cidr(const char *s)
{
	const char *slash = strchr(s, '/');
	unsigned char addr[16];
	char host[64], *end;
	long bits;

	if (!slash || (size_t)(slash - s) >= sizeof(host))
		return false;
	memcpy(host, s, (size_t)(slash - s));
	host[slash - s] = '\0';
	bits = strtol(slash + 1, &end, 10);
	if (!slash[1] || *end || bits < 0)
		return false;
	if (inet_pton(AF_INET, host, addr) == 1)
		return bits <= 32;
	return inet_pton(AF_INET6, host, addr) == 1 && bits <= 128;
}

static int set_cidrs(bk_cfg_ctx *c, const cJSON *v, const char *path, size_t off)
{
	bk_strv *cidrs = AT(c, off, bk_strv);
	int rc = bk_tpl_get_strv(cidrs, c, v, path);

	for (size_t i = 0; rc == 0 && i < cidrs->count; i++)
		if (!valid_cidr(cidrs->items[i])) {
			char *sub = bk_tpl_jpath_index(path, i);
			rc = bk_tpl_err(c->file, sub ? sub : path, "\"%s\" is not a CIDR block "
					"like 203.0.113.7/32", cidrs->items[i]);
			free(sub);
		}
	return rc;
}

static int set_filter(bk_cfg_ctx *c, const cJSON *v, const char *path, size_t off)
{
	static const char *const keys[] = {"filters", "owners", "most_recent", NULL};
	bk_build_config *cfg = c->cfg;
	int rc = bk_tpl_only_keys(c, v, path, keys, NULL);

	(void)off;
	if (rc == 0)
		rc = bk_tpl_get_opt(&cfg->source_ami_filters, c, v, "filters", path, 'k');
	if (rc == 0)
		rc = bk_tpl_get_opt(&cfg->source_ami_owners, c, v, "owners", path, 'v');
	if (rc == 0)
		rc = bk_tpl_get_opt(&cfg->source_ami_most_recent, c, v, "most_recent", path, 'b');
	if (rc == 0 && cfg->source_ami_filters.count == 0)
		rc = bk_tpl_err(c->file, path, "needs at least one entry in filters");
	/* Packer's rule: never pick an image from just anyone. */
	if (rc == 0 && cfg->source_ami_owners.count == 0 &&
	    !bk_kv_get(&cfg->source_ami_filters, "owner-id") &&
	    !bk_kv_get(&cfg->source_ami_filters, "owner-alias"))
		rc = bk_tpl_err(c->file, path, "owners is required (e.g. [\"amazon\"] or an "
				"account id) unless filters has owner-id or owner-alias");
	return rc;
}

/* vpc_filter, subnet_filter, security_group_filter: {"filters": {...}}
 * (subnet_filter also most_free, random); off says which map. */
static int set_net_filter(bk_cfg_ctx *c, const cJSON *v, const char *path, size_t off)
{
	static const char *const keys[] = {"filters", NULL};
	static const char *const subnet_keys[] = {"filters", "most_free", "random", NULL};
	bk_build_config *cfg = c->cfg;
	bool subnet = off == OFF(subnet_filters);
	int rc = bk_tpl_only_keys(c, v, path, subnet ? subnet_keys : keys, NULL);

	if (rc == 0)
		rc = bk_tpl_get_opt((char *)cfg + off, c, v, "filters", path, 'k');
	if (rc == 0 && subnet)
		rc = bk_tpl_get_opt(&cfg->subnet_most_free, c, v, "most_free", path, 'b');
	if (rc == 0 && subnet)
		rc = bk_tpl_get_opt(&cfg->subnet_random, c, v, "random", path, 'b');
	/* Both true: most_free wins, as in Packer 1.6.6 (stage_secgroup.c asks
	 * most_free first), which accepts the pair. */
	if (rc == 0 && subnet && cfg->subnet_most_free == 1 && cfg->subnet_random == 1)
		bk_tpl_warn(c->warnings, "%s: %s: most_free and random are both true: most_free "
			"wins, as in Packer", c->file, path);
	return rc;
}

static int set_metadata(bk_cfg_ctx *c, const cJSON *v, const char *path, size_t off)
{
	static const char *const keys[] = {"http_endpoint", "http_tokens",
		"http_put_response_hop_limit", "instance_metadata_tags", NULL};
	bk_build_config *cfg = c->cfg;
	char *tags = NULL;
	int rc = bk_tpl_only_keys(c, v, path, keys, NULL);

	(void)off;
	if (rc == 0)
		rc = bk_tpl_get_opt(&cfg->http_endpoint, c, v, "http_endpoint", path, 's');
	if (rc == 0)
		rc = bk_tpl_get_opt(&cfg->http_tokens, c, v, "http_tokens", path, 's');
	if (rc == 0)
		rc = bk_tpl_get_opt(&cfg->http_put_response_hop_limit, c, v,
				"http_put_response_hop_limit", path, 'i');
	if (rc == 0)
		rc = bk_tpl_get_opt(&tags, c, v, "instance_metadata_tags", path, 's');
	free(tags);
	return rc;
}

/* Packer 1.6.6's assume_role block; checked whole in validate.c. */
static int set_assume_role(bk_cfg_ctx *c, const cJSON *v, const char *path, size_t off)
{
	static const char *const keys[] = {"role_arn", "session_name", "external_id",
		"duration_seconds", "policy", "policy_arns", "tags", "transitive_tag_keys", NULL};
	static const struct { const char *key; char kind; size_t at; } parts[] = {
		{"role_arn", 's', offsetof(bk_build_config, assume_role.role_arn)},
		{"session_name", 's', offsetof(bk_build_config, assume_role.session_name)},
		{"external_id", 's', offsetof(bk_build_config, assume_role.external_id)},
		{"policy", 's', offsetof(bk_build_config, assume_role.policy)},
		{"duration_seconds", 'i', offsetof(bk_build_config, assume_role.duration_seconds)},
		{"policy_arns", 'v', offsetof(bk_build_config, assume_role.policy_arns)},
		{"transitive_tag_keys", 'v', offsetof(bk_build_config, assume_role.transitive_tag_keys)},
		{"tags", 'k', offsetof(bk_build_config, assume_role.tags)},
	};
	int rc = bk_tpl_only_keys(c, v, path, keys, NULL);

	(void)off;
	for (size_t i = 0; rc == 0 && i < BK_ARRAY_SIZE(parts); i++)
		rc = bk_tpl_get_opt((char *)c->cfg + parts[i].at, c, v, parts[i].key, path,
				    parts[i].kind);
	return rc;
}

/* Packer's aws_polling drives the waiters: a wait lasts delay x attempts
 * (the SDK's 15 s x 40, and 120 attempts for images, when unset). */
static int set_polling(bk_cfg_ctx *c, const cJSON *v, const char *path, size_t off)
{
	static const char *const keys[] = {"delay_seconds", "max_attempts", NULL};
	bk_build_config *cfg = c->cfg;
	int delay = 0, attempts = 0;
	int rc = bk_tpl_only_keys(c, v, path, keys, NULL);

	(void)off;
	if (rc == 0)
		rc = bk_tpl_get_opt(&delay, c, v, "delay_seconds", path, 'i');
	if (rc == 0)
		rc = bk_tpl_get_opt(&attempts, c, v, "max_attempts", path, 'i');
	if (rc != 0)
		return rc;
	cfg->poll_delay_s = delay;
	cfg->instance_timeout_s = (delay ? delay : 15) * (attempts ? attempts : 40);
	cfg->image_timeout_s = (delay ? delay : 15) * (attempts ? attempts : 120);
	return 0;
}

static int read_bdm(bk_cfg_ctx *c, const cJSON *o, const char *path, bk_bdm *d)
{
	static const char *const keys[] = {"device_name", "volume_size", "volume_type",
		"delete_on_termination", "encrypted", "iops", "throughput", "snapshot_id",
		"kms_key_id", "no_device", "virtual_name", NULL};
	char *virt = NULL;
	int rc = bk_tpl_only_keys(c, o, path, keys, "a block device mapping");

	d->delete_on_termination = d->encrypted = -1;
	if (rc == 0)
		rc = bk_tpl_get_opt((char **)&d->device_name, c, o, "device_name", path, 's');
	if (rc == 0)
		rc = bk_tpl_get_opt((char **)&d->volume_type, c, o, "volume_type", path, 's');
	if (rc == 0)
		rc = bk_tpl_get_opt((char **)&d->snapshot_id, c, o, "snapshot_id", path, 's');
	if (rc == 0)
		rc = bk_tpl_get_opt((char **)&d->kms_key_id, c, o, "kms_key_id", path, 's');
	if (rc == 0)
		rc = bk_tpl_get_opt(&virt, c, o, "virtual_name", path, 's');
	if (rc == 0)
		rc = bk_tpl_get_opt(&d->volume_size, c, o, "volume_size", path, 'i');
	if (rc == 0)
		rc = bk_tpl_get_opt(&d->iops, c, o, "iops", path, 'i');
	if (rc == 0)
		rc = bk_tpl_get_opt(&d->throughput, c, o, "throughput", path, 'i');
	if (rc == 0)
		rc = bk_tpl_get_opt(&d->delete_on_termination, c, o, "delete_on_termination", path, 'b');
	if (rc == 0)
		rc = bk_tpl_get_opt(&d->encrypted, c, o, "encrypted", path, 'b');
	if (rc == 0)
		rc = bk_tpl_get_opt(&d->no_device, c, o, "no_device", path, 'b');
	free(virt);
	if (rc == 0 && (!d->device_name || !*d->device_name))
		rc = bk_tpl_err(c->file, path, "device_name is required (e.g. \"/dev/xvda\")");
	return rc;
}

static void bdms_free(bk_bdm *b, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free((char *)b[i].device_name);
		free((char *)b[i].volume_type);
		free((char *)b[i].snapshot_id);
		free((char *)b[i].kms_key_id);
	}
	free(b);
}

static int read_bdms(bk_cfg_ctx *c, const cJSON *v, const char *path,
		     bk_bdm **out, size_t *count)
{
	size_t n = (size_t)cJSON_GetArraySize(v), i = 0;
	int rc = 0;

	if (!cJSON_IsArray(v))
		return bk_tpl_err(c->file, path, "expected an array of objects, got %s",
				  bk_tpl_json_type(v));
	bdms_free(*out, *count);
	*count = 0;
	if (!(*out = calloc(n ? n : 1, sizeof(**out))))
		return bk_oom();
	for (const cJSON *it = v->child; it && rc == 0; it = it->next, i++) {
		char *sub = bk_tpl_jpath_index(path, i);
		rc = sub ? read_bdm(c, it, sub, &(*out)[i]) : bk_oom();
		*count = i + 1;
		free(sub);
	}
	return rc;
}

static int set_launch_bdms(bk_cfg_ctx *c, const cJSON *v, const char *path, size_t off)
{
	(void)off;
	return read_bdms(c, v, path, &c->cfg->launch_bdms, &c->cfg->launch_bdms_count);
}

static int set_ami_bdms(bk_cfg_ctx *c, const cJSON *v, const char *path, size_t off)
{
	(void)off;
	return read_bdms(c, v, path, &c->cfg->ami_bdms, &c->cfg->ami_bdms_count);
}

static int set_user_data_file(bk_cfg_ctx *c, const cJSON *v, const char *path, size_t off)
{
	char *rel = NULL, *found = NULL;
	int rc = bk_tpl_get_str(&rel, c, v, path);

	(void)off;
	if (rc == 0 && *rel)
		rc = bk_tpl_find_local(&found, c, rel, path);
	if (rc == 0 && found) {
		free(c->cfg->user_data);
		c->cfg->user_data = NULL;
		if ((rc = bk_file_read(&c->cfg->user_data, NULL, found)) < 0)
			rc = bk_tpl_err(c->file, path, "%s", bk_err_msg());
	}
	free(rel);
	free(found);
	return rc;
}

/* A local file the bake uploads (the x509 pair): found now, as Packer
 * stats it at Prepare; empty is left to check_required. */
static int set_local_file(bk_cfg_ctx *c, const cJSON *v, const char *path, size_t off)
{
	char *rel = NULL, **dst = AT(c, off, char *);
	int rc = bk_tpl_get_str(&rel, c, v, path);

	if (rc == 0 && *rel) {
		free(*dst);
		*dst = NULL;
		rc = bk_tpl_find_local(dst, c, rel, path);
	} else if (rc == 0) {
		free(*dst);
		*dst = rel;
		rel = NULL;
	}
	free(rel);
	return rc;
}

static int read_tag_block(bk_cfg_ctx *c, const cJSON *o, const char *path, bk_kv *tags)
{
	static const char *const keys[] = {"key", "value", NULL};
	char *k = NULL, *v = NULL;
	int rc = bk_tpl_only_keys(c, o, path, keys, NULL);

	if (rc == 0)
		rc = bk_tpl_get_opt(&k, c, o, "key", path, 's');
	if (rc == 0)
		rc = bk_tpl_get_opt(&v, c, o, "value", path, 's');
	if (rc == 0 && (!k || !*k))
		rc = bk_tpl_err(c->file, path, "key: must not be empty");
	if (rc == 0)
		rc = bk_kv_set(tags, k, v ? v : "");
	free(k);
	free(v);
	return rc;
}

/* Packer's tag blocks in JSON: {"key": K, "value": V}, or a list of them,
 * added to (and over) the map of the same tags. */
static int set_tag_blocks(bk_cfg_ctx *c, const cJSON *v, const char *path, size_t off)
{
	const cJSON *it;
	char *ip;
	size_t i = 0;
	int rc = 0;

	if (cJSON_IsObject(v))
		return read_tag_block(c, v, path, AT(c, off, bk_kv));
	if (!cJSON_IsArray(v))
		return bk_tpl_err(c->file, path, "expected a list of {\"key\", \"value\"} objects, "
				  "got %s", bk_tpl_json_type(v));
	cJSON_ArrayForEach(it, v) {
		if (rc != 0)
			break;
		if (!(ip = bk_tpl_jpath_index(path, i++)))
			return bk_oom();
		rc = cJSON_IsObject(it) ? read_tag_block(c, it, ip, AT(c, off, bk_kv))
			: bk_tpl_err(c->file, ip, "expected an object, got %s", bk_tpl_json_type(it));
		free(ip);
	}
	return rc;
}

/* An endpoint URL, kept as the AWS layer will use it (https:// added). */
static int set_endpoint(bk_cfg_ctx *c, const cJSON *v, const char *path, size_t off)
{
	char **dst = AT(c, off, char *), *url = NULL, where[512];
	int rc = bk_tpl_get_str(dst, c, v, path);

	if (rc != 0 || !*dst || !**dst)
		return rc;
	snprintf(where, sizeof(where), "%s: %s", c->file, path);
	if ((rc = bk_aws_endpoint_parse(&url, *dst, where)) == 0) {
		free(*dst);
		*dst = url;
	}
	return rc;
}

static int noop(bk_cfg_ctx *c, const cJSON *v, const char *path, size_t off)
{
	(void)c, (void)v, (void)path, (void)off;
	return 0;   /* type and name: read before the table runs */
}

static const field fields[] = {
	{"type", noop, 0, 0},
	{"name", noop, 0, 0},
	/* AWS access */
	{"region", set_str, OFF(region), 0},
	{"access_key", set_str, OFF(access_key), 0},
	{"secret_key", set_str, OFF(secret_key), 0},
	{"token", set_str, OFF(token), 0},
	{"profile", set_str, OFF(profile), 0},
	{"shared_credentials_file", set_local_file, OFF(shared_credentials_file), 0},
	{"assume_role", set_assume_role, 0, 0},
	{"custom_endpoint_ec2", set_endpoint, OFF(custom_endpoint_ec2), 0},
	{"insecure_skip_tls_verify", set_bool, OFF(insecure_skip_tls_verify), 0},
	{"max_retries", set_int, OFF(max_retries), 0},
	{"aws_polling", set_polling, 0, 0},
	{"skip_region_validation", set_bool, OFF(skip_region_validation), 0},
	/* source */
	{"source_ami", set_str, OFF(source_ami), 0},
	{"source_ami_filter", set_filter, 0, 0},
	/* instance */
	{"instance_type", set_str, OFF(instance_type), REQUIRED},
	{"subnet_id", set_str, OFF(subnet_id), 0},
	{"vpc_id", set_str, OFF(vpc_id), 0},
	{"vpc_filter", set_net_filter, OFF(vpc_filters), 0},
	{"subnet_filter", set_net_filter, OFF(subnet_filters), 0},
	{"security_group_filter", set_net_filter, OFF(security_group_filters), 0},
	{"availability_zone", set_str, OFF(availability_zone), 0},
	{"tenancy", set_str, OFF(tenancy), 0},
	{"enable_t2_unlimited", set_bool, OFF(enable_t2_unlimited), 0},
	{"security_group_id", set_sg_id, 0, 0},
	{"security_group_ids", set_sg_ids, 0, 0},
	{"temporary_security_group_source_cidrs", set_cidrs,
	 OFF(temporary_security_group_source_cidrs), 0},
	{"iam_instance_profile", set_str, OFF(iam_instance_profile), 0},
	{"temporary_iam_instance_profile_policy_document", set_iam_policy, 0, 0},
	{"user_data", set_str, OFF(user_data), 0},
	{"user_data_file", set_user_data_file, 0, 0},
	{"associate_public_ip_address", set_bool, OFF(associate_public_ip_address), 0},
	{"shutdown_behavior", set_str, OFF(shutdown_behavior), 0},
	{"metadata_options", set_metadata, 0, 0},
	{"launch_block_device_mappings", set_launch_bdms, 0, 0},
	{"ami_block_device_mappings", set_ami_bdms, 0, 0},
	{"ebs_optimized", set_bool, OFF(ebs_optimized), 0},
	{"ena_support", set_tri, OFF(ena_support), 0},
	{"sriov_support", set_bool, OFF(sriov_support), 0},
	/* image */
	{"ami_name", set_str, OFF(ami_name), REQUIRED},
	{"ami_description", set_str, OFF(ami_description), 0},
	{"ami_virtualization_type", set_str, OFF(ami_virtualization_type), 0},
	{"tags", set_kv, OFF(tags), 0},
	{"run_tags", set_kv, OFF(run_tags), 0},
	{"run_volume_tags", set_kv, OFF(run_volume_tags), EBS_ONLY},
	{"snapshot_tags", set_kv, OFF(snapshot_tags), 0},
	{"tag", set_tag_blocks, OFF(tags), BLOCK},
	{"run_tag", set_tag_blocks, OFF(run_tags), BLOCK},
	{"run_volume_tag", set_tag_blocks, OFF(run_volume_tags), BLOCK | EBS_ONLY},
	{"snapshot_tag", set_tag_blocks, OFF(snapshot_tags), BLOCK},
	{"skip_create_ami", set_bool, OFF(skip_create_ami), 0},
	{"force_deregister", set_bool, OFF(force_deregister), 0},
	{"force_delete_snapshot", set_bool, OFF(force_delete_snapshot), 0},
	{"ami_regions", set_strv, OFF(ami_regions), 0},
	{"ami_users", set_strv, OFF(ami_users), 0},
	{"ami_groups", set_strv, OFF(ami_groups), 0},
	{"snapshot_users", set_strv, OFF(snapshot_users), 0},
	{"snapshot_groups", set_strv, OFF(snapshot_groups), 0},
	{"encrypt_boot", set_tri, OFF(encrypt_boot), 0},
	{"kms_key_id", set_str, OFF(kms_key_id), 0},
	/* communicator */
	{"communicator", set_communicator, 0, 0},
	{"ssh_username", set_str, OFF(ssh_username), REQUIRED | SSH_ONLY},
	{"ssh_host", set_str, OFF(ssh_host), 0},
	{"ssh_port", set_int, OFF(ssh_port), 0},
	{"ssh_timeout", set_dur, OFF(ssh_timeout_s), 0},
	{"ssh_wait_timeout", set_dur, OFF(ssh_wait_timeout_s), 0},
	{"pause_before_connecting", set_dur, OFF(pause_before_connecting_s), 0},
	{"ssh_ciphers", set_strv, OFF(ssh_ciphers), 0},
	{"ssh_key_exchange_algorithms", set_strv, OFF(ssh_kex), 0},
	{"ssh_keypair_name", set_str, OFF(ssh_keypair_name), 0},
	{"ssh_private_key_file", set_str, OFF(ssh_private_key_file), 0},
	{"ssh_host_key_fingerprint", set_str, OFF(ssh_host_key_fingerprint), 0},
	{"ssh_clear_authorized_keys", set_bool, OFF(ssh_clear_authorized_keys), 0},
	{"ssh_interface", set_str, OFF(ssh_interface), 0},
	{"ssh_agent_auth", set_bool, OFF(ssh_agent_auth), 0},
	{"ssh_bastion_host", set_str, OFF(ssh_bastion_host), 0},
	{"ssh_bastion_port", set_int, OFF(ssh_bastion_port), 0},
	{"ssh_bastion_username", set_str, OFF(ssh_bastion_username), 0},
	{"ssh_bastion_private_key_file", set_str, OFF(ssh_bastion_private_key_file), 0},
	{"ssh_bastion_agent_auth", set_bool, OFF(ssh_bastion_agent_auth), 0},
	{"ssh_bastion_host_key_fingerprint", set_str, OFF(ssh_bastion_host_key_fingerprint), 0},
	{"ssh_bastion_interactive", set_no_interactive, 0, 0},
	{"ssh_bastion_password", no_bastion_password, 0, 0},
	/* accepted, not acted on (the rendered builder object keeps them) */
	{"disable_stop_instance", check_bool, 0, 0},
	{"skip_metadata_api_check", check_bool, 0, 0},
	{"skip_credential_validation", check_bool, 0, 0},
	{"skip_profile_validation", check_bool, 0, 0},
	{"decode_authorization_messages", check_bool, 0, 0},
	{"ssh_pty", set_bool, OFF(ssh_pty), 0},
	{"ssh_handshake_attempts", check_int, 0, 0},
	{"ssh_keep_alive_interval", check_dur, 0, 0},
	{"ssh_read_write_timeout", check_dur, 0, 0},
	{"ssh_file_transfer_method", set_str, OFF(ssh_file_transfer_method), 0},
	{"temporary_key_pair_name", set_str, OFF(temporary_key_pair_name), 0},
	{"temporary_key_pair_bits", check_int, 0, 0},
	{"skip_save_build_region", set_bool, OFF(skip_save_build_region), 0},
	{"no_ephemeral", set_bool, OFF(no_ephemeral), EBS_ONLY},
	{"windows_password_timeout", check_dur, 0, 0},
	{"ssh_disable_agent_forwarding", check_bool, 0, 0},
	{"temporary_key_pair_type", check_str, 0, 0},
	{"deprecate_at", check_str, 0, 0},
	{"ami_product_codes", check_strv, 0, 0},
	{"ami_org_arns", check_strv, 0, 0},
	{"ami_ou_arns", check_strv, 0, 0},
	{"region_kms_key_ids", check_any, 0, 0},
	/* Packer has these; we would silently do something else. */
	{"spot_price", set_spot, 0, 0},
	{"spot_instance_types", set_strv, OFF(spot_instance_types), 0},
	{"spot_price_auto_product", set_str, OFF(spot_price_auto_product), 0},
	{"spot_tags", set_kv, OFF(spot_tags), 0},
	{"spot_tag", set_tag_blocks, OFF(spot_tags), BLOCK},
	{"spot_fallback_on_demand", set_bool, OFF(spot_fallback_on_demand), 0},
	/* amazon-instance (instance-store bundles) */
	{"account_id", set_str, OFF(account_id), INSTANCE_ONLY | REQUIRED},
	{"s3_bucket", set_str, OFF(s3_bucket), INSTANCE_ONLY | REQUIRED},
	{"x509_cert_path", set_local_file, OFF(x509_cert_path), INSTANCE_ONLY | REQUIRED},
	{"x509_key_path", set_local_file, OFF(x509_key_path), INSTANCE_ONLY | REQUIRED},
	{"x509_upload_path", set_str, OFF(x509_upload_path), INSTANCE_ONLY},
	{"bundle_destination", set_str, OFF(bundle_destination), INSTANCE_ONLY},
	{"bundle_prefix", set_str, OFF(bundle_prefix), INSTANCE_ONLY},
	{"bundle_upload_command", set_str, OFF(bundle_upload_command), INSTANCE_ONLY},
	{"bundle_vol_command", set_str, OFF(bundle_vol_command), INSTANCE_ONLY},
};

static const char NO_TUNNELS[] = "not supported: bakeami forwards no ports for the provisioners";
static const char NO_SSM[] = "not supported: bakeami reaches the instance over SSH, not through "
	"Session Manager";

/* Packer 1.6.6 has these; bakeami refuses them, saying why, rather than
 * bake without what they ask for. A key ending in '_' is a prefix. */
static const struct {
	const char *key, *why;
} refused[] = {
	{"ssh_password", "not supported: a password in a template ends up in logs and "
	 "journals; log in with a key (ssh_private_key_file, or the temporary key pair) or the "
	 "agent (ssh_agent_auth)"},
	{"ssh_certificate_file", "not supported: log in with a key file or the agent"},
	{"ssh_bastion_certificate_file", "not supported: log in to the bastion with a key file "
	 "or the agent"},
	{"ssh_proxy_", "not supported: bakeami goes through no SOCKS proxy; a bastion "
	 "(ssh_bastion_host) is supported"},
	{"ssh_local_tunnels", NO_TUNNELS},
	{"ssh_remote_tunnels", NO_TUNNELS},
	{"session_manager_port", NO_SSM},
	{"pause_before_ssm", NO_SSM},
	{"mfa_code", "not supported in a template: give the MFA code in the options "
	 "(role_mfa_serial, role_mfa_token) with the role it unlocks"},
	{"vault_aws_engine", "not supported: bakeami reads no credentials from Vault; give the "
	 "bake AWS credentials (environment, profile, instance role, or a role to assume)"},
	{"block_duration_minutes", "not supported: EC2 no longer sells spot blocks "
	 "(defined-duration spot instances)"},
	{"winrm_", "not supported: WinRM is for Windows, which bakeami does not bake"},
	/* the amazon plugin's (Packer 1.7 on), unknown to 1.6.6: not silently ignored */
	{"placement_tenancy", "not a Packer 1.6.6 option (the amazon plugin's): set tenancy, "
	 "which bakeami sends as Placement.Tenancy"},
	{"enable_unlimited_credits", "not a Packer 1.6.6 option (the amazon plugin's): "
	 "enable_t2_unlimited asks for unlimited credits on a t2 instance"},
	{"imds_support", "not a Packer 1.6.6 option (the amazon plugin's): bakeami does not "
	 "set the image's ImdsSupport"},
	{"temporary_security_group_source_public_ip", "not a Packer 1.6.6 option (the amazon "
	 "plugin's): list the addresses in temporary_security_group_source_cidrs"},
};

static const char *why_refused(const char *key)
{
	for (size_t i = 0; i < BK_ARRAY_SIZE(refused); i++) {
		size_t n = strlen(refused[i].key);
		if (refused[i].key[n - 1] == '_' ? !strncmp(refused[i].key, key, n)
		    : !strcmp(refused[i].key, key))
			return refused[i].why;
	}
	return NULL;
}

/* Accepted, but Packer acts on them and bakeami does not: why, warned when
 * the template gives one a value (true, non-empty). */
static const struct {
	const char *key, *why;
} not_acted_on[] = {
	{"ami_product_codes", "the product codes are not attached to the image "
	 "(ModifyImageAttribute ProductCodes can attach them after the bake)"},
};

static const char *why_not_acted_on(const char *key)
{
	for (size_t i = 0; i < BK_ARRAY_SIZE(not_acted_on); i++)
		if (strcmp(not_acted_on[i].key, key) == 0)
			return not_acted_on[i].why;
	return NULL;
}

static const field *find_field(const char *key)
{
	for (size_t i = 0; i < BK_ARRAY_SIZE(fields); i++)
		if (strcmp(fields[i].key, key) == 0)
			return &fields[i];
	return NULL;
}

static bool is_instance(const bk_cfg_ctx *c)
{
	return strcmp(c->cfg->builder_type, "amazon-instance") == 0;
}

/* A value that asks for something: true, a non-empty string or list. */
static bool given(const cJSON *v)
{
	const char *s = cJSON_GetStringValue(v);

	if (s)
		return *s && strcmp(s, "false") && strcmp(s, "0");
	return cJSON_IsTrue(v) || (cJSON_IsArray(v) && cJSON_GetArraySize(v) > 0) ||
	       (cJSON_IsNumber(v) && v->valuedouble != 0);
}

/* One option: refused with the reason, unknown, unset (null), or read. */
static int read_field(bk_cfg_ctx *c, const cJSON *it, const char *path)
{
	const field *f = find_field(it->string);
	char what[64];
	int rc;

	if (why_refused(it->string))
		return cJSON_IsNull(it) ? 0 : bk_tpl_err(c->file, path, "%s", why_refused(it->string));
	if (!f || ((f->flags & INSTANCE_ONLY) && !is_instance(c)) ||
	    ((f->flags & EBS_ONLY) && is_instance(c))) {
		snprintf(what, sizeof(what), "an %s builder", c->cfg->builder_type);
		return bk_tpl_unknown_key(c, path, it->string, fields, sizeof(*fields),
					  BK_ARRAY_SIZE(fields), what);
	}
	if (cJSON_IsNull(it))   /* Packer's decoding: null leaves an option unset, whatever its type */
		return 0;
	if ((rc = f->set(c, it, path, f->off)) == 0 && given(it) && why_not_acted_on(it->string))
		bk_tpl_warn(c->warnings, "%s is accepted and not acted on: %s", path,
			    why_not_acted_on(it->string));
	return rc;
}

static bool is_block(const char *key)
{
	const field *f = find_field(key);

	return f && (f->flags & BLOCK);
}

/* The tag blocks last, over the maps they add to. */
static int read_fields(bk_cfg_ctx *c, const char *bpath)
{
	int rc = 0;

	for (int blocks = 0; blocks < 2; blocks++) {
		for (const cJSON *it = c->cfg->builder->child; it && rc == 0; it = it->next) {
			char *path;
			if (is_block(it->string) != (blocks == 1))
				continue;
			if (!(path = bk_tpl_jpath_key(bpath, it->string)))
				return bk_oom();
			rc = read_field(c, it, path);
			free(path);
		}
	}
	return rc;
}

static int check_required(bk_cfg_ctx *c, const char *bpath)
{
	for (size_t i = 0; i < BK_ARRAY_SIZE(fields); i++) {
		const field *f = &fields[i];
		const cJSON *v = cJSON_GetObjectItemCaseSensitive(c->cfg->builder, f->key);
		char path[128];

		if (!(f->flags & REQUIRED) || ((f->flags & INSTANCE_ONLY) && !is_instance(c)) ||
		    ((f->flags & SSH_ONLY) && c->cfg->communicator_none) ||
		    (strcmp(f->key, "ami_name") == 0 && c->cfg->skip_create_ami) ||
		    (strcmp(f->key, "instance_type") == 0 && c->cfg->spot_instance_types.count))
			continue;
		snprintf(path, sizeof(path), "%s.%s", bpath, f->key);
		/* A null sets nothing, as in Packer: the key is as good as missing. */
		if (!v || cJSON_IsNull(v))
			return bk_tpl_err(c->file, path, "required but missing");
		/* the value as decoded (Packer's weak types): a number is not empty */
		if (f->set == set_str ? !*AT(c, f->off, char *) || !**AT(c, f->off, char *)
				     : cJSON_IsString(v) && !*v->valuestring)
			return bk_tpl_err(c->file, path, "must not be empty");
	}
	return 0;
}

/* Optional strings left empty (often by an unset variable) mean unset. */
static void empty_to_null(bk_build_config *cfg)
{
	for (size_t i = 0; i < BK_ARRAY_SIZE(fields); i++) {
		char **s = (char **)((char *)cfg + fields[i].off);
		if (fields[i].set != set_str || (fields[i].flags & REQUIRED) || !*s || **s)
			continue;
		free(*s);
		*s = NULL;
	}
}

static int set_defaults(bk_build_config *cfg, const bk_template *tpl)
{
	cfg->ssh_port = 22;
	cfg->ssh_timeout_s = 300;
	cfg->ssh_clear_authorized_keys = 1;
	cfg->instance_timeout_s = 600;
	cfg->image_timeout_s = 1800;
	cfg->associate_public_ip_address = -1;
	cfg->encrypt_boot = cfg->ebs_optimized = cfg->ena_support = cfg->sriov_support = -1;
	cfg->max_retries = -1;
	cfg->http_tokens = bk_strdup("required");
	cfg->template_path = bk_strdup(tpl->path);
	cfg->template_dir = bk_strdup(tpl->dir);
	if (!cfg->http_tokens || !cfg->template_path || !cfg->template_dir)
		return bk_oom();
	return 0;
}

/* Packer's bundle commands (builder/amazon/instance/builder.go, 1.6.6):
 * with an instance profile the uploader finds its own credentials. */
#define BUNDLE_VOL_DEFAULT "sudo -i -n ec2-bundle-vol -k {{.KeyPath}} -u {{.AccountId}} " \
	"-c {{.CertPath}} -r {{.Architecture}} -e {{.PrivatePath}}/* -d {{.Destination}} " \
	"-p {{.Prefix}} --batch --no-filter"
#define BUNDLE_UPLOAD_HEAD "sudo -i -n ec2-upload-bundle -b {{.BucketName}} -m {{.ManifestPath}} "
#define BUNDLE_UPLOAD_TAIL "-d {{.BundleDirectory}} --batch --region {{.Region}} --retry"
/* Packer's default passes the keys as -a {{.AccessKey}} -s {{.SecretKey}}:
 * the secret key is then on the instance's process list for every user to
 * read. Ours gives the same tool the same keys through the environment it
 * reads them from when -a/-s/-t are not given (AWS_ACCESS_KEY,
 * AWS_SECRET_KEY, AWS_DELEGATION_TOKEN), sourced by root from a 0600 file
 * the bake uploads (stage_upload_bundle.c), removed once read. The folders
 * and names are plain characters (validate.c), safe inside the quotes. */
#define BUNDLE_UPLOAD_ENV "sudo -i -n sh -c '. {{.CredentialsFile}} && rm -f " \
	"{{.CredentialsFile}} && exec ec2-upload-bundle -b {{.BucketName}} -m {{.ManifestPath}} " \
	BUNDLE_UPLOAD_TAIL "'"

/* Unset or empty (an unset variable) takes Packer's default. */
static int default_str(char **s, const char *value)
{
	if (*s && **s)
		return 0;
	free(*s);
	return (*s = bk_strdup(value)) ? 0 : bk_oom();
}

/* Strip the dashes of account_id as Packer does ("1234-5678-9012"). */
static void strip_dashes(char *s)
{
	char *w = s;

	for (; s && *s; s++)
		if (*s != '-')
			*w++ = *s;
	if (w)
		*w = '\0';
}

static bool mapped(const bk_build_config *cfg, const char *device)
{
	for (size_t i = 0; i < cfg->launch_bdms_count; i++)
		if (!strcmp(cfg->launch_bdms[i].device_name, device))
			return true;
	return false;
}

/* no_ephemeral, as Packer's StepRunSourceInstance: xvdca-xvdcz, where EC2
 * puts instance-store drives, mapped to no device at launch (a device the
 * template maps already keeps its mapping, which EC2 would refuse twice). */
static int hide_ephemeral(bk_build_config *cfg)
{
	char dev[8];
	bk_bdm *b;

	if (!cfg->no_ephemeral)
		return 0;
	for (char l = 'a'; l <= 'z'; l++) {
		snprintf(dev, sizeof(dev), "xvdc%c", l);
		if (mapped(cfg, dev))
			continue;
		if (!(b = realloc(cfg->launch_bdms, (cfg->launch_bdms_count + 1) * sizeof(*b))))
			return bk_oom();
		cfg->launch_bdms = b;
		b = &b[cfg->launch_bdms_count];
		memset(b, 0, sizeof(*b));
		b->delete_on_termination = b->encrypted = -1;
		b->no_device = 1;
		if (!(b->device_name = bk_strdup(dev)))
			return bk_oom();
		cfg->launch_bdms_count++;
	}
	return 0;
}

static int instance_defaults(bk_cfg_ctx *c)
{
	bk_build_config *cfg = c->cfg;
	char prefix[48];
	int rc;

	if (!is_instance(c))
		return 0;
	strip_dashes(cfg->account_id);
	/* Packer renders image-{{timestamp}} once: the run's start time. */
	snprintf(prefix, sizeof(prefix), "image-%lld", (long long)bk_template_start_time(c->tpl));
	if ((rc = default_str(&cfg->x509_upload_path, "/tmp")) < 0 ||
	    (rc = default_str(&cfg->bundle_destination, "/tmp")) < 0 ||
	    (rc = default_str(&cfg->bundle_prefix, prefix)) < 0 ||
	    (rc = default_str(&cfg->bundle_vol_command, BUNDLE_VOL_DEFAULT)) < 0)
		return rc;
	return default_str(&cfg->bundle_upload_command, cfg->iam_instance_profile
			   ? BUNDLE_UPLOAD_HEAD BUNDLE_UPLOAD_TAIL : BUNDLE_UPLOAD_ENV);
}

bool bk_build_is_instance(const bk_build_config *c)
{
	return c && c->builder_type && strcmp(c->builder_type, "amazon-instance") == 0;
}

/* builds.c checked the list and the type of every selected build; this
 * is the one the plan is for. */
static int builder_build(bk_cfg_ctx *c)
{
	const char *bpath = c->tpl->builder_path;
	bk_build_config *cfg = c->cfg;
	const cJSON *b = c->tpl->builder;
	int rc;

	if (!b)
		return bk_err(BAKEAMI_ERROR, "internal error: no builder picked");
	if ((rc = bk_interp_render_json(&cfg->builder, c->in, b, bpath)) != 0)
		return rc;
	cfg->builder_type = bk_strdup(c->in->build_type);
	cfg->build_name = bk_strdup(c->in->build_name);
	if (!cfg->builder_type || !cfg->build_name)
		return bk_oom();
	if ((rc = read_fields(c, bpath)) == 0)
		rc = check_required(c, bpath);
	if (rc == 0)
		rc = instance_defaults(c);
	if (rc == 0)
		rc = hide_ephemeral(cfg);
	if (rc == 0)
		rc = bk_tpl_builder_validate(c, bpath);
	if (rc == 0)
		empty_to_null(cfg);
	if (c->tpl->force)   /* Packer's -force: the builder's two force options */
		cfg->force_deregister = cfg->force_delete_snapshot = 1;
	return rc;
}

int bk_tpl_config_build(bk_build_config **out, const bk_template *tpl,
		    const bk_build_vars *bv, bk_strv *warnings)
{
	bk_build_config *cfg = calloc(1, sizeof(*cfg));
	const cJSON *root = tpl->root;
	bk_interp in;
	bk_cfg_ctx c = {tpl, tpl->path, &in, cfg, warnings};
	int rc;

	*out = NULL;
	if (!cfg)
		return bk_oom();
	bk_interp_init(&in, tpl, bv, warnings);
	if ((rc = set_defaults(cfg, tpl)) == 0)
		rc = builder_build(&c);
	if (rc == 0)
		rc = bk_tpl_provisioners_build(&c, cJSON_GetObjectItemCaseSensitive(root, "provisioners"));
	if (rc == 0)
		rc = bk_tpl_error_cleanup_build(&c, cJSON_GetObjectItemCaseSensitive(root,
							"error-cleanup-provisioner"));
	if (rc == 0)
		rc = bk_tpl_tests_build(&c, cJSON_GetObjectItemCaseSensitive(root, "tests"));
	if (rc == 0)
		rc = bk_tpl_promote_build(&c, cJSON_GetObjectItemCaseSensitive(root, "promote"));
	if (rc == 0)
		rc = bk_tpl_reuse_build(&c, cJSON_GetObjectItemCaseSensitive(root, "reuse"));
	if (rc == 0)
		rc = bk_tpl_post_processors_build(&c, cJSON_GetObjectItemCaseSensitive(root,
									       "post-processors"));
	if (rc != 0) {
		bk_build_config_free(cfg);
		return rc;
	}
	*out = cfg;
	return 0;
}

void bk_build_config_free(bk_build_config *cfg)
{
	if (!cfg)
		return;
	for (size_t i = 0; i < BK_ARRAY_SIZE(fields); i++)
		if (fields[i].set == set_str || fields[i].set == set_local_file ||
		    fields[i].set == set_endpoint)
			free(*(char **)((char *)cfg + fields[i].off));
	free(cfg->builder_type);
	free(cfg->build_name);
	/* user_data (also user_data_file's contents) is freed by the loop. */
	free(cfg->http_tokens);
	free(cfg->http_endpoint);
	free(cfg->temp_iam_policy);
	free(cfg->spot_price);
	bk_strv_free(&cfg->spot_instance_types);
	bk_kv_free(&cfg->spot_tags);
	bk_kv_free(&cfg->source_ami_filters);
	bk_kv_free(&cfg->vpc_filters);
	bk_kv_free(&cfg->subnet_filters);
	bk_kv_free(&cfg->security_group_filters);
	bk_strv_free(&cfg->source_ami_owners);
	bk_strv_free(&cfg->security_group_ids);
	bk_strv_free(&cfg->ssh_ciphers);
	bk_strv_free(&cfg->ssh_kex);
	free(cfg->assume_role.role_arn);
	free(cfg->assume_role.session_name);
	free(cfg->assume_role.external_id);
	free(cfg->assume_role.policy);
	bk_strv_free(&cfg->assume_role.policy_arns);
	bk_strv_free(&cfg->assume_role.transitive_tag_keys);
	bk_kv_free(&cfg->assume_role.tags);
	bk_strv_free(&cfg->temporary_security_group_source_cidrs);
	bdms_free(cfg->launch_bdms, cfg->launch_bdms_count);
	bdms_free(cfg->ami_bdms, cfg->ami_bdms_count);
	bk_kv_free(&cfg->tags);
	bk_kv_free(&cfg->run_tags);
	bk_kv_free(&cfg->run_volume_tags);
	bk_kv_free(&cfg->snapshot_tags);
	bk_strv_free(&cfg->ami_regions);
	bk_strv_free(&cfg->ami_users);
	bk_strv_free(&cfg->ami_groups);
	bk_strv_free(&cfg->snapshot_users);
	bk_strv_free(&cfg->snapshot_groups);
	free(cfg->check_ip_url);
	bk_tpl_provisioners_free(cfg);
	bk_test_plan_free(cfg->tests);
	bk_promote_plan_free(&cfg->promote);
	bk_tpl_post_processors_free(cfg);
	cJSON_Delete(cfg->builder);
	cJSON_Delete(cfg->tests_json);
	cJSON_Delete(cfg->decoded);
	free(cfg->template_path);
	free(cfg->template_dir);
	free(cfg);
}
