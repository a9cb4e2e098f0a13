/* ec2_util.c - Query-API list/tag/BDM encoding and response reading for EC2. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ec2_int.h"

int bk_ec2__call(xmlDocPtr *out, bk_aws *aws, const char *region, const char *action,
		 const bk_params *p, char code[64])
{
	return bk_aws_query(out, aws, "ec2", region, action, p, code);
}

int bk_ec2__create(xmlDocPtr *out, bk_aws *aws, const char *region, const char *action,
		   const bk_params *p, char code[64])
{
	bk_aws_call call = {"ec2", region, action, p, NULL, false, NULL, true};

	return bk_aws__query(out, aws, &call, code);
}

int bk_ec2__delete_one(bk_aws *aws, const char *region, const char *action, const char *key,
		       const char *id, const char *what, const char *const *gone, size_t ngone)
{
	bk_params p = BK_KV_INIT;
	xmlDocPtr doc = NULL;
	char code[64];
	int rc = bk_params_add(&p, key, id);

	if (rc == 0)
		rc = bk_ec2__delete(&doc, aws, region, action, &p, code);
	for (size_t i = 0; rc == BAKEAMI_EAWS && i < ngone; i++)
		if (strcmp(code, gone[i]) == 0)
			rc = bk_aws_gone(what, id);
	xmlFreeDoc(doc);
	bk_kv_free(&p);
	return rc;
}

int bk_ec2__list(bk_params *p, const char *prefix, const char *const *vals, size_t n)
{
	char key[256];
	int rc = 0;

	for (size_t i = 0; i < n && rc == 0; i++) {
		snprintf(key, sizeof(key), "%s.%zu", prefix, i + 1);
		rc = bk_params_add(p, key, vals[i]);
	}
	return rc;
}

int bk_ec2__filter(bk_params *p, int n, const char *name, const char *const *vals, size_t nvals)
{
	char key[64];
	int rc;

	snprintf(key, sizeof(key), "Filter.%d.Name", n);
	rc = bk_params_add(p, key, name);
	snprintf(key, sizeof(key), "Filter.%d.Value", n);
	return rc ? rc : bk_ec2__list(p, key, vals, nvals);
}

int bk_ec2__filters(bk_params *p, const bk_kv *filters)
{
	int rc = 0;

	for (size_t i = 0; filters && rc == 0 && i < filters->count; i++) {
		const char *v = filters->vals[i];
		rc = bk_ec2__filter(p, (int)i + 1, filters->keys[i], &v, 1);
	}
	return rc;
}

int bk_ec2__tags(bk_params *p, const char *prefix, const bk_kv *tags)
{
	char key[128];
	int rc = 0;

	for (size_t i = 0; tags && i < tags->count && rc == 0; i++) {
		snprintf(key, sizeof(key), "%sTag.%zu.Key", prefix, i + 1);
		rc = bk_params_add(p, key, tags->keys[i]);
		snprintf(key, sizeof(key), "%sTag.%zu.Value", prefix, i + 1);
		if (rc == 0)
			rc = bk_params_add(p, key, tags->vals[i]);
	}
	return rc;
}

int bk_ec2__tag_spec(bk_params *p, int *n, const char *type, const bk_kv *tags)
{
	char prefix[64], key[96];
	int rc;

	if (!tags || tags->count == 0)
		return 0;
	snprintf(prefix, sizeof(prefix), "TagSpecification.%d.", ++*n);
	snprintf(key, sizeof(key), "%sResourceType", prefix);
	rc = bk_params_add(p, key, type);
	return rc ? rc : bk_ec2__tags(p, prefix, tags);
}

/* One BlockDeviceMapping.<i>.*; only what the caller set is sent. */
static int bdm(bk_params *p, int i, const bk_bdm *b)
{
	char k[96];
	int rc = 0;

#define PUT(suffix, ...) \
	do { \
		snprintf(k, sizeof(k), "BlockDeviceMapping.%d.%s", i, suffix); \
		if (rc == 0) \
			rc = bk_params_addf(p, k, __VA_ARGS__); \
	} while (0)
	PUT("DeviceName", "%s", b->device_name ? b->device_name : "");
	if (b->no_device) {
		PUT("NoDevice", "%s", "");
		return rc;
	}
	if (b->volume_size > 0)
		PUT("Ebs.VolumeSize", "%d", b->volume_size);
	if (b->volume_type)
		PUT("Ebs.VolumeType", "%s", b->volume_type);
	if (b->delete_on_termination >= 0)
		PUT("Ebs.DeleteOnTermination", "%s", b->delete_on_termination ? "true" : "false");
	if (b->encrypted >= 0)
		PUT("Ebs.Encrypted", "%s", b->encrypted ? "true" : "false");
	if (b->iops > 0)
		PUT("Ebs.Iops", "%d", b->iops);
	if (b->throughput > 0)
		PUT("Ebs.Throughput", "%d", b->throughput);
	if (b->snapshot_id)
		PUT("Ebs.SnapshotId", "%s", b->snapshot_id);
	if (b->kms_key_id)
		PUT("Ebs.KmsKeyId", "%s", b->kms_key_id);
#undef PUT
	return rc;
}

int bk_ec2__bdms(bk_params *p, const bk_bdm *bdms, size_t n)
{
	int rc = 0;

	for (size_t i = 0; i < n && rc == 0; i++)
		rc = bdm(p, (int)i + 1, &bdms[i]);
	return rc;
}

xmlNodePtr bk_ec2__first_item(xmlNodePtr parent, const char *name)
{
	return bk_xml_child(bk_xml_child(parent, name), "item");
}

xmlNodePtr bk_ec2__next_item(xmlNodePtr item)
{
	for (xmlNodePtr n = item ? item->next : NULL; n; n = n->next)
		if (n->type == XML_ELEMENT_NODE && strcmp((const char *)n->name, "item") == 0)
			return n;
	return NULL;
}

int bk_ec2__text(char **out, xmlNodePtr node, const char *name, bool required)
{
	bool present = bk_xml_child(node, name) != NULL;

	*out = present ? bk_xml_child_text(node, name) : NULL;
	if (present && !*out)
		return bk_oom();
	if (!present && required)
		return bk_err(BAKEAMI_EAWS, "EC2 response has no <%s>", name);
	return 0;
}

int bk_ec2__parse_tags(bk_kv *out, xmlNodePtr parent)
{
	int rc = 0;

	for (xmlNodePtr it = bk_ec2__first_item(parent, "tagSet"); it && rc == 0;
	     it = bk_ec2__next_item(it)) {
		char *k = bk_xml_child_text(it, "key"), *v = bk_xml_child_text(it, "value");
		if (k)
			rc = bk_kv_add(out, k, v ? v : "");
		free(k);
		free(v);
	}
	return rc;
}

bool bk_ec2__item_is(xmlNodePtr item, const char *name, const char *value)
{
	char *text = bk_xml_child_text(item, name);
	bool is = text && !strcmp(text, value);

	free(text);
	return is;
}
