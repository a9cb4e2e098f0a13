/*
 * ec2_network.c - where the build instance goes when the template names
 * it by filters (Packer's vpc_filter, subnet_filter, security_group_filter):
 * DescribeVpcs, DescribeSubnets and DescribeSecurityGroups, each with the
 * template's filters and what Packer adds to them (state, vpc-id, zone).
 */
#include <stdlib.h>
#include <string.h>

#include "ec2_int.h"

/* The template's filters with Packer's additions set over them (as Packer
 * sets them in the same map): NULL values are left out. */
static int describe(xmlDocPtr *doc, bk_aws *aws, const char *action, const bk_kv *filters,
		    const char *const extra[][2], size_t n_extra)
{
	bk_params p = BK_KV_INIT;
	bk_kv all = BK_KV_INIT;
	int rc = 0;

	*doc = NULL;
	for (size_t i = 0; rc == 0 && i < filters->count; i++)
		rc = bk_kv_set(&all, filters->keys[i], filters->vals[i]);
	for (size_t i = 0; rc == 0 && i < n_extra; i++)
		if (extra[i][1])
			rc = bk_kv_set(&all, extra[i][0], extra[i][1]);
	rc = rc ? rc : bk_ec2__filters(&p, &all);
	rc = rc ? rc : bk_ec2__call(doc, aws, NULL, action, &p, NULL);
	bk_kv_free(&p);
	bk_kv_free(&all);
	return rc;
}

/* Every item's field under set, in the answer's order. */
static int all_texts(bk_strv *out, xmlDocPtr doc, const char *set, const char *field)
{
	int rc = 0;

	for (xmlNodePtr it = bk_ec2__first_item(xmlDocGetRootElement(doc), set); it && rc == 0;
	     it = bk_ec2__next_item(it)) {
		char *s = NULL;
		if ((rc = bk_ec2__text(&s, it, field, true)) == 0)
			rc = bk_strv_push(out, s);
		free(s);
	}
	return rc;
}

/* "a, b, c": what matched, for the message that says too many did. */
static char *joined(const bk_strv *v)
{
	bk_buf b = BK_BUF_INIT;
	int rc = 0;

	for (size_t i = 0; rc == 0 && i < v->count; i++)
		rc = bk_buf_printf(&b, "%s%s", i ? ", " : "", v->items[i]);
	if (rc < 0) {
		bk_buf_free(&b);
		return NULL;
	}
	return bk_buf_detach(&b);
}

/* hint: what else the template may do when several match ("" for none). */
static int not_one(const char *key, const char *what, const char *hint, const bk_strv *ids)
{
	char *list = ids->count ? joined(ids) : NULL;
	int rc;

	if (ids->count)
		rc = bk_err(BAKEAMI_EAWS, "%s matches %zu %ss (%s): exactly one should match%s",
			    key, ids->count, what, list ? list : "?", hint);
	else
		rc = bk_err(BAKEAMI_ENOTFOUND, "%s matches no %s", key, what);
	free(list);
	return rc;
}

int bk_ec2_find_vpc(char **out_vpc_id, bk_aws *aws, const bk_kv *filters)
{
	bk_strv ids = BK_STRV_INIT;
	xmlDocPtr doc = NULL;
	int rc = describe(&doc, aws, "DescribeVpcs", filters, NULL, 0);

	*out_vpc_id = NULL;
	rc = rc ? rc : all_texts(&ids, doc, "vpcSet", "vpcId");
	if (rc == 0 && ids.count != 1)
		rc = not_one("vpc_filter", "VPC", "", &ids);
	if (rc == 0 && !(*out_vpc_id = bk_strdup(ids.items[0])))
		rc = bk_oom();
	xmlFreeDoc(doc);
	bk_strv_free(&ids);
	return rc;
}

int bk_ec2_vpc_cidrs(bk_strv *out, bk_aws *aws, const char *vpc_id)
{
	bk_kv by_id = BK_KV_INIT;
	xmlDocPtr doc = NULL;
	int rc = bk_kv_add(&by_id, "vpc-id", vpc_id);

	rc = rc ? rc : describe(&doc, aws, "DescribeVpcs", &by_id, NULL, 0);
	rc = rc ? rc : all_texts(out, doc, "vpcSet", "cidrBlock");
	if (rc == 0 && out->count == 0)
		rc = bk_err(BAKEAMI_ENOTFOUND, "VPC %s has no CIDR block", vpc_id);
	xmlFreeDoc(doc);
	bk_kv_free(&by_id);
	return rc;
}

/* ---- subnets ------------------------------------------------------------ */

typedef struct {
	bk_strv ids, zones, vpcs;
	long *free_ips;
} subnets;

static void subnets_free(subnets *s)
{
	bk_strv_free(&s->ids);
	bk_strv_free(&s->zones);
	bk_strv_free(&s->vpcs);
	free(s->free_ips);
}

static int read_subnets(subnets *s, xmlDocPtr doc)
{
	xmlNodePtr set = xmlDocGetRootElement(doc);
	size_t i = 0;
	int rc = all_texts(&s->ids, doc, "subnetSet", "subnetId");

	rc = rc ? rc : all_texts(&s->zones, doc, "subnetSet", "availabilityZone");
	rc = rc ? rc : all_texts(&s->vpcs, doc, "subnetSet", "vpcId");
	if (rc == 0 && s->ids.count && !(s->free_ips = calloc(s->ids.count, sizeof(long))))
		rc = bk_oom();
	for (xmlNodePtr it = bk_ec2__first_item(set, "subnetSet"); it && rc == 0;
	     it = bk_ec2__next_item(it), i++) {
		char *n = NULL;
		if ((rc = bk_ec2__text(&n, it, "availableIpAddressCount", false)) == 0 && n)
			s->free_ips[i] = strtol(n, NULL, 10);
		free(n);
	}
	return rc;
}

/* Packer's choice: the one match, else the most free addresses (the first
 * of equals), else any at random. */
static int pick_subnet(size_t *out, const subnets *s, bk_ec2_subnet_pick pick)
{
	char hex[9];

	if (s->ids.count == 1) {
		*out = 0;
		return 0;
	}
	if (s->ids.count == 0 || pick == BK_SUBNET_ONE)
		return not_one("subnet_filter", "subnet", "; or set \"most_free\" or \"random\"",
			       &s->ids);
	*out = 0;
	if (pick == BK_SUBNET_MOST_FREE) {
		for (size_t i = 1; i < s->ids.count; i++)
			if (s->free_ips[i] > s->free_ips[*out])
				*out = i;
		return 0;
	}
	if (bk_random_hex(hex, 4) < 0)
		return BAKEAMI_ERROR;
	*out = (size_t)(strtoul(hex, NULL, 16) % s->ids.count);
	return 0;
}

int bk_ec2_find_subnet(bk_ec2_subnet *out, bk_aws *aws, const bk_kv *filters,
		       const char *vpc_id, const char *zone, bk_ec2_subnet_pick pick)
{
	const char *const extra[][2] = {{"state", "available"}, {"vpc-id", vpc_id},
					{"availabilityZone", zone}};
	subnets s = {BK_STRV_INIT, BK_STRV_INIT, BK_STRV_INIT, NULL};
	xmlDocPtr doc = NULL;
	size_t k = 0;
	int rc = describe(&doc, aws, "DescribeSubnets", filters, extra, BK_ARRAY_SIZE(extra));

	memset(out, 0, sizeof(*out));
	rc = rc ? rc : read_subnets(&s, doc);
	rc = rc ? rc : pick_subnet(&k, &s, pick);
	if (rc == 0) {
		out->id = bk_strdup(s.ids.items[k]);
		out->zone = bk_strdup(s.zones.items[k]);
		out->vpc_id = bk_strdup(s.vpcs.items[k]);
		out->free_ips = s.free_ips[k];
		out->matched = s.ids.count;
		if (!out->id || !out->zone || !out->vpc_id)
			rc = bk_oom();
	}
	if (rc < 0)
		bk_ec2_subnet_free(out);
	xmlFreeDoc(doc);
	subnets_free(&s);
	return rc;
}

void bk_ec2_subnet_free(bk_ec2_subnet *s)
{
	if (!s)
		return;
	free(s->id);
	free(s->zone);
	free(s->vpc_id);
	memset(s, 0, sizeof(*s));
}

/* ---- security groups ---------------------------------------------------- */

int bk_ec2_find_security_groups(bk_strv *out_ids, bk_aws *aws, const bk_kv *filters,
				const char *vpc_id)
{
	const char *const extra[][2] = {{"vpc-id", vpc_id}};
	xmlDocPtr doc = NULL;
	int rc = describe(&doc, aws, "DescribeSecurityGroups", filters, extra, 1);

	rc = rc ? rc : all_texts(out_ids, doc, "securityGroupInfo", "groupId");
	if (rc == 0 && out_ids->count == 0)
		rc = bk_err(BAKEAMI_ENOTFOUND, "security_group_filter matches no security group%s%s",
			    vpc_id ? " in " : "", vpc_id ? vpc_id : "");
	xmlFreeDoc(doc);
	return rc;
}
