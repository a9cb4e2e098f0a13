/*
 * keys.c - the message for a key no table knows: a key Packer 1.6.6
 * deprecated says so and what replaces it (Packer's deprecated_options.go
 * and the fixers of `packer fix`); any other names the nearest known key.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "template_int.h"

/* scope: "" everywhere, else a word of the table's description ("an
 * amazon-ebs builder", "a ansible provisioner", "a manifest post-processor"). */
static const struct {
	const char *scope, *key, *instead;
} deprecated[] = {
	{"", "iso_md5", "iso_checksum"},
	{"", "ssh_key_path", "ssh_private_key_file"},
	{"", "ssh_disable_agent", "ssh_disable_agent_forwarding"},
	{"", "ssh_host_port_min", "host_port_min"},
	{"", "ssh_host_port_max", "host_port_max"},
	{"", "ssh_skip_nat_mapping", "skip_nat_mapping"},
	{"", "iso_checksum_url", "iso_checksum \"file:<url>\""},
	{"", "iso_checksum_type", "iso_checksum \"<type>:<value>\""},
	{"amazon", "shutdown_behaviour", "shutdown_behavior"},
	{"amazon", "enhanced_networking", "ena_support"},
	{"amazon", "ssh_private_ip", "\"ssh_interface\": \"private_ip\" (for true) or "
	 "\"public_ip\" (for false)"},
	{"amazon", "temporary_security_group_source_cidr",
	 "temporary_security_group_source_cidrs, a list"},
	{"amazon", "clean_ami_name", "the template function clean_resource_name"},
	{"a ansible provisioner", "galaxycommand", "galaxy_command"},
	{"manifest", "filename", "output"},
};

static const char *replacement(const char *key, const char *what)
{
	for (size_t i = 0; i < BK_ARRAY_SIZE(deprecated); i++)
		if (strcmp(deprecated[i].key, key) == 0 &&
		    (!*deprecated[i].scope || (what && strstr(what, deprecated[i].scope))))
			return deprecated[i].instead;
	return NULL;
}

/* Levenshtein distance, two rows; keys are short. */
static size_t distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b), row[2][128];

	if (la >= 127 || lb >= 127)
		return (size_t)-1;
	for (size_t j = 0; j <= lb; j++)
		row[0][j] = j;
	for (size_t i = 1; i <= la; i++) {
		size_t *prev = row[(i - 1) & 1], *cur = row[i & 1];
		cur[0] = i;
		for (size_t j = 1; j <= lb; j++) {
			size_t sub = prev[j - 1] + (a[i - 1] != b[j - 1]);
			size_t del = prev[j] + 1, ins = cur[j - 1] + 1;
			cur[j] = sub < del ? (sub < ins ? sub : ins) : (del < ins ? del : ins);
		}
	}
	return row[la & 1][lb];
}

const char *bk_tpl_nearest_key(const char *key, const void *table, size_t stride, size_t n)
{
	size_t best = (size_t)-1, limit = strlen(key) / 3 > 2 ? strlen(key) / 3 : 2;
	const char *pick = NULL;

	for (size_t i = 0; i < n; i++) {
		const char *k = *(const char *const *)((const char *)table + i * stride);
		size_t d = k ? distance(key, k) : (size_t)-1;
		if (d > 0 && d < best && d <= limit) {
			best = d;
			pick = k;
		}
	}
	return pick;
}

int bk_tpl_unknown_key(const bk_cfg_ctx *c, const char *path, const char *key,
		       const void *table, size_t stride, size_t n, const char *what)
{
	const char *instead = replacement(key, what);
	const char *near = instead ? NULL : bk_tpl_nearest_key(key, table, stride, n);

	if (instead)
		return bk_tpl_err(c->file, path, "deprecated key%s%s: use %s instead (Packer 1.6.6 "
				  "refuses it too; `packer fix` rewrites it)", what ? " for " : "",
				  what ? what : "", instead);
	if (near)
		return bk_tpl_err(c->file, path, "unknown key%s%s (did you mean \"%s\"?)",
				  what ? " for " : "", what ? what : "", near);
	return bk_tpl_err(c->file, path, "unknown key%s%s", what ? " for " : "", what ? what : "");
}
