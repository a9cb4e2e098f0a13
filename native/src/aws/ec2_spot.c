/*
 * ec2_spot.c - spot instances as Packer 1.6.6 launches them: a launch
 * template of the build's RunInstances settings with a spot market, then
 * an instant EC2 Fleet of one instance of one type; and their removal.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ec2_int.h"

/* RunInstances' parameters as LaunchTemplateData.*: the same names, but
 * no count or token (a template launches nothing itself). *specs gets the
 * number of tag specifications. */
static int template_data(bk_params *p, int *specs, const bk_ec2_run_request *req)
{
	bk_params run = BK_KV_INIT;
	char key[160];
	int rc = bk_ec2__run_params(&run, req);

	*specs = 0;
	for (size_t i = 0; rc == 0 && i < run.count; i++) {
		const char *k = run.keys[i];
		if (!strcmp(k, "MinCount") || !strcmp(k, "MaxCount") || !strcmp(k, "ClientToken") ||
		    (!req->instance_type && !strcmp(k, "InstanceType")))
			continue;
		if (bk_str_starts(k, "TagSpecification.") && strstr(k, ".ResourceType"))
			(*specs)++;
		snprintf(key, sizeof(key), "LaunchTemplateData.%s", k);
		rc = bk_params_add(p, key, run.vals[i]);
	}
	bk_kv_free(&run);
	return rc;
}

/* One-time spot; max_price NULL sends no MaxPrice, so the on-demand price
 * is the cap (Packer 1.6.6's "auto"). spot_tags go on the request. */
static int spot_market(bk_params *p, int specs, const char *max_price, const bk_kv *spot_tags)
{
	int rc = bk_params_add(p, "LaunchTemplateData.InstanceMarketOptions.MarketType", "spot");

	if (rc == 0)
		rc = bk_params_add(p, "LaunchTemplateData.InstanceMarketOptions.SpotOptions."
				   "SpotInstanceType", "one-time");
	if (rc == 0 && max_price)
		rc = bk_params_add(p, "LaunchTemplateData.InstanceMarketOptions.SpotOptions.MaxPrice",
				   max_price);
	if (rc == 0 && spot_tags && spot_tags->count) {
		char prefix[96], key[128];
		snprintf(prefix, sizeof(prefix), "LaunchTemplateData.TagSpecification.%d.", specs + 1);
		snprintf(key, sizeof(key), "%sResourceType", prefix);
		rc = bk_params_add(p, key, "spot-instances-request");
		if (rc == 0)
			rc = bk_ec2__tags(p, prefix, spot_tags);
	}
	return rc;
}

int bk_ec2_create_launch_template(char **out_id, bk_aws *aws, const char *name,
				  const bk_ec2_run_request *req, const char *max_price,
				  const bk_kv *spot_tags, const bk_kv *tags)
{
	bk_params p = BK_KV_INIT;
	xmlDocPtr doc = NULL;
	int specs = 0, n = 0;
	int rc = bk_params_add(&p, "LaunchTemplateName", name);

	*out_id = NULL;
	if (rc == 0)
		rc = bk_params_add(&p, "ClientToken", req->client_token);
	if (rc == 0)
		rc = template_data(&p, &specs, req);
	if (rc == 0)
		rc = spot_market(&p, specs, max_price, spot_tags);
	if (rc == 0)
		rc = bk_ec2__tag_spec(&p, &n, "launch-template", tags);
	if (rc == 0)
		rc = bk_ec2__create(&doc, aws, NULL, "CreateLaunchTemplate", &p, NULL);
	if (rc == 0)
		rc = bk_ec2__text(out_id, bk_xml_find(xmlDocGetRootElement(doc), "launchTemplate"),
				  "launchTemplateId", true);
	xmlFreeDoc(doc);
	bk_kv_free(&p);
	return rc;
}

static int fleet_params(bk_params *p, const char *template_id, const char *type,
			const char *token, const bk_kv *tags)
{
	int n = 0;
	int rc = bk_params_add(p, "Type", "instant");

	if (rc == 0)
		rc = bk_params_add(p, "ClientToken", token);
	if (rc == 0)
		rc = bk_params_add(p, "TargetCapacitySpecification.TotalTargetCapacity", "1");
	if (rc == 0)
		rc = bk_params_add(p, "TargetCapacitySpecification.DefaultTargetCapacityType", "spot");
	if (rc == 0)
		rc = bk_params_add(p, "LaunchTemplateConfigs.1.LaunchTemplateSpecification."
				   "LaunchTemplateId", template_id);
	if (rc == 0)
		rc = bk_params_add(p, "LaunchTemplateConfigs.1.LaunchTemplateSpecification.Version",
				   "1");
	if (rc == 0)
		rc = bk_params_add(p, "LaunchTemplateConfigs.1.Overrides.1.InstanceType", type);
	if (rc == 0)
		rc = bk_ec2__tag_spec(p, &n, "fleet", tags);
	return rc;
}

/* The fleet's instance, else its first error (an instant fleet answers
 * 200 with errorSet when EC2 has no capacity). */
static int fleet_answer(bk_ec2_fleet *out, xmlDocPtr doc)
{
	xmlNodePtr root = xmlDocGetRootElement(doc);
	xmlNodePtr inst = bk_ec2__first_item(root, "fleetInstanceSet");
	xmlNodePtr err = bk_ec2__first_item(root, "errorSet");
	int rc = bk_ec2__text(&out->fleet_id, root, "fleetId", false);
	xmlNodePtr ids = inst ? bk_ec2__first_item(inst, "instanceIds") : NULL;

	if (rc == 0 && ids) {
		out->instance_id = (char *)xmlNodeGetContent(ids);
		return out->instance_id ? 0 : bk_oom();
	}
	if (rc == 0 && err) {
		char *msg = NULL;
		bk_ec2__text(&out->error_code, err, "errorCode", false);
		bk_ec2__text(&msg, err, "errorMessage", false);
		rc = bk_err(BAKEAMI_EAWS, "CreateFleet: %s: %s",
			    out->error_code ? out->error_code : "no instance", msg ? msg : "");
		free(msg);
		return rc;
	}
	return rc ? rc : bk_err(BAKEAMI_EAWS, "CreateFleet: no instance and no error in the answer");
}

int bk_ec2_create_fleet(bk_ec2_fleet *out, bk_aws *aws, const char *template_id,
			const char *type, const char *token, const bk_kv *tags)
{
	bk_params p = BK_KV_INIT;
	xmlDocPtr doc = NULL;
	char code[64] = "";
	int rc = fleet_params(&p, template_id, type, token, tags);

	memset(out, 0, sizeof(*out));
	if (rc == 0 && (rc = bk_ec2__create(&doc, aws, NULL, "CreateFleet", &p, code)) < 0 &&
	    code[0] && !(out->error_code = bk_strdup(code)))
		rc = bk_oom();
	if (rc == 0)
		rc = fleet_answer(out, doc);
	xmlFreeDoc(doc);
	bk_kv_free(&p);
	return rc;
}

void bk_ec2_fleet_free(bk_ec2_fleet *f)
{
	free(f->fleet_id);
	if (f->instance_id)
		xmlFree(f->instance_id);
	free(f->error_code);
	memset(f, 0, sizeof(*f));
}

/* DeleteFleets answers 200 whatever happened to each fleet: a fleet it
 * could not delete is in the unsuccessful set (fleetIdDoesNotExist: gone
 * already), one deleted before says so in its previous state. */
static int fleet_deleted(xmlDocPtr doc, const char *id)
{
	xmlNodePtr root = xmlDocGetRootElement(doc);
	xmlNodePtr bad = bk_ec2__first_item(root, "unsuccessfulFleetDeletionSet");
	xmlNodePtr ok = bk_ec2__first_item(root, "successfulFleetDeletionSet");
	char *code = bad ? bk_xml_child_text(bk_xml_child(bad, "error"), "code") : NULL;
	char *prev = ok ? bk_xml_child_text(ok, "previousFleetState") : NULL;
	int rc = 0;

	if (bad && code && !strcmp(code, "fleetIdDoesNotExist"))
		rc = bk_aws_gone("fleet", id);
	else if (bad)
		rc = bk_err(BAKEAMI_EAWS, "DeleteFleets: fleet %s not deleted: %s", id,
			    code ? code : "no reason given");
	else if (prev && bk_str_starts(prev, "deleted"))
		rc = bk_aws_gone("fleet", id);
	free(code);
	free(prev);
	return rc;
}

static int delete_call(bk_aws *aws, const char *action, const char *key, const char *id,
		       const char *gone)
{
	bk_params p = BK_KV_INIT;
	xmlDocPtr doc = NULL;
	char code[64] = "";
	int rc = bk_params_add(&p, key, id);

	if (rc == 0 && !strcmp(action, "DeleteFleets"))
		rc = bk_params_add(&p, "TerminateInstances", "true");
	if (rc == 0)
		rc = bk_ec2__delete(&doc, aws, NULL, action, &p, code);
	if (rc == BAKEAMI_EAWS && !strcmp(code, gone))
		rc = bk_aws_gone(action, id);
	if (rc == 0 && !strcmp(action, "DeleteFleets"))
		rc = fleet_deleted(doc, id);
	xmlFreeDoc(doc);
	bk_kv_free(&p);
	return rc;
}

int bk_ec2_delete_launch_template(bk_aws *aws, const char *id)
{
	return delete_call(aws, "DeleteLaunchTemplate", "LaunchTemplateId", id,
			   "InvalidLaunchTemplateId.NotFound");
}

int bk_ec2_delete_fleet(bk_aws *aws, const char *id)
{
	return delete_call(aws, "DeleteFleets", "FleetId.1", id, "InvalidFleetId.NotFound");
}

/* ---- spot_price "auto": the highest recent price ------------------------- */

/* The history's window, as Packer before 1.5 read it: the last hour (EC2
 * also lists the price in effect at its start). */
#define PRICE_WINDOW_SECONDS 3600.0

static int history_params(bk_params *p, const bk_spot_price_query *q, const char *next)
{
	char since[32];
	int rc = bk_ec2__list(p, "InstanceType", q->types, q->types_count);

	bk_iso8601(since, bk_wall() - PRICE_WINDOW_SECONDS);
	if (rc == 0)
		rc = bk_params_add(p, "ProductDescription.1", q->product);
	if (rc == 0 && q->zone)
		rc = bk_params_add(p, "AvailabilityZone", q->zone);
	if (rc == 0)
		rc = bk_params_add(p, "StartTime", since);
	if (rc == 0 && next)
		rc = bk_params_add(p, "NextToken", next);
	return rc;
}

/* A price as EC2 writes them ("0.003100"), else 0: what MaxPrice takes
 * back, so no exponent, sign or infinity. */
static double price_of(const char *s)
{
	char *end = NULL;
	double v = s && *s && strspn(s, "0123456789.") == strlen(s) ? strtod(s, &end) : 0;

	return end && !*end && isfinite(v) ? v : 0;
}

/* Each row's spotPrice against the highest so far; a row whose price is no
 * positive decimal is passed over, as Packer passed over what it could not
 * parse. */
static void take_prices(bk_spot_price *out, xmlDocPtr doc)
{
	xmlNodePtr root = xmlDocGetRootElement(doc);

	for (xmlNodePtr it = bk_ec2__first_item(root, "spotPriceHistorySet"); it;
	     it = bk_ec2__next_item(it)) {
		char *price = bk_xml_child_text(it, "spotPrice");
		double v = price_of(price);

		if (v > 0 && v > out->value) {
			free(out->price);
			out->price = price;
			out->value = v;
			price = NULL;
		}
		out->rows++;
		free(price);
	}
}

static int history_page(bk_spot_price *out, char **next, bk_aws *aws,
			const bk_spot_price_query *q)
{
	bk_params p = BK_KV_INIT;
	xmlDocPtr doc = NULL;
	int rc = history_params(&p, q, *next);

	free(*next);
	*next = NULL;
	if (rc == 0)
		rc = bk_ec2__call(&doc, aws, NULL, "DescribeSpotPriceHistory", &p, NULL);
	if (rc == 0) {
		take_prices(out, doc);
		rc = bk_ec2__text(next, xmlDocGetRootElement(doc), "nextToken", false);
	}
	if (rc == 0 && *next && !**next) {
		free(*next);
		*next = NULL;
	}
	xmlFreeDoc(doc);
	bk_kv_free(&p);
	return rc;
}

int bk_ec2_spot_price_max(bk_spot_price *out, bk_aws *aws, const bk_spot_price_query *q)
{
	char *next = NULL;
	int rc;

	memset(out, 0, sizeof(*out));
	do
		rc = history_page(out, &next, aws, q);
	while (rc == 0 && next);
	free(next);
	if (rc == 0 && !out->price)
		rc = bk_err(BAKEAMI_ENOTFOUND, "spot_price auto: EC2 lists no spot price for %s "
			    "(%s) in %s in the last hour%s: give spot_price a price instead",
			    q->types[0], q->product, q->zone ? q->zone : "any zone of the region",
			    q->types_count > 1 ? " nor for the other spot_instance_types" : "");
	return rc;
}

void bk_spot_price_free(bk_spot_price *p)
{
	free(p->price);
	memset(p, 0, sizeof(*p));
}
