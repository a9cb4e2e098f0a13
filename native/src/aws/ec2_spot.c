/*
 * ec2_spot.c - spot instances as Packer 1.6.6 launches them: a launch
 * template of the build's RunInstances settings with a spot market, then
 * an instant EC2 Fleet of one instance of one type; and their removal.
 */
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

/* One-time spot; "auto" (max_price NULL) sends no MaxPrice, so the
 * on-demand price is the cap, as in Packer. spot_tags go on the request. */
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
		rc = bk_ec2__call(&doc, aws, NULL, action, &p, code);
	if (rc == BAKEAMI_EAWS && !strcmp(code, gone))
		rc = BAKEAMI_ENOTFOUND;
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
