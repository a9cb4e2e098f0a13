/*
 * ec2_register.c - what amazon-instance adds to EC2: RegisterImage of an
 * uploaded bundle, and the build VPC's security groups found by name (the
 * seed's "all", "default").
 */
#include <stdlib.h>
#include <string.h>

#include "ec2_int.h"

/* ---- RegisterImage -------------------------------------------------------- */

static int register_params(bk_params *p, const bk_ec2_register_request *req)
{
	int tag_specs = 0;
	int rc = bk_params_add(p, "Name", req->name);

	if (rc == 0)
		rc = bk_params_add(p, "ImageLocation", req->image_location);
	if (rc == 0 && req->description)
		rc = bk_params_add(p, "Description", req->description);
	if (rc == 0 && req->architecture)
		rc = bk_params_add(p, "Architecture", req->architecture);
	if (rc == 0 && req->virtualization_type)
		rc = bk_params_add(p, "VirtualizationType", req->virtualization_type);
	if (rc == 0 && req->ena_support == 1)
		rc = bk_params_add(p, "EnaSupport", "true");
	if (rc == 0 && req->sriov_support == 1)
		rc = bk_params_add(p, "SriovNetSupport", "simple");
	if (rc == 0)
		rc = bk_ec2__bdms(p, req->bdms, req->bdms_count);
	if (rc == 0)
		rc = bk_ec2__tag_spec(p, &tag_specs, "image", req->image_tags);
	return rc;
}

/* After an answer that may have been lost: the image of that name, if it
 * carries our run id. */
static int registered_already(char **out, bk_aws *aws, const bk_ec2_register_request *req)
{
	bk_ec2_images imgs = {0};
	int rc = bk_ec2_describe_images_named(&imgs, aws, NULL, req->name);

	*out = NULL;
	for (size_t i = 0; rc == 0 && !*out && i < imgs.count; i++) {
		const char *theirs = bk_kv_get(&imgs.items[i].tags, BK_EC2_RUN_ID_TAG);
		if (req->run_id && theirs && !strcmp(theirs, req->run_id))
			rc = (*out = bk_strdup(imgs.items[i].id)) ? 0 : bk_oom();
	}
	bk_ec2_images_free(&imgs);
	return rc;
}

/*
 * RegisterImage has no ClientToken: a send that may have landed (network
 * error, 5xx) is never re-sent blindly (stop_when_uncertain); the image is
 * looked for by its name and our run-id tag instead, as CreateImage's is.
 */
int bk_ec2_register_image(char **out_image_id, bk_aws *aws, const bk_ec2_register_request *req)
{
	bk_params p = BK_KV_INIT;
	long status = 0;
	char code[64] = "";
	bk_aws_call call = {"ec2", NULL, "RegisterImage", &p, NULL, true, &status, true};
	xmlDocPtr doc = NULL;
	int rc = register_params(&p, req);

	*out_image_id = NULL;
	if (rc == 0)
		rc = bk_aws__query(&doc, aws, &call, code);
	if (rc == 0)
		rc = bk_ec2__text(out_image_id, xmlDocGetRootElement(doc), "imageId", true);
	else if (rc == BAKEAMI_EAWS && (bk_aws__uncertain(status, code) ||
					 !strcmp(code, "InvalidAMIName.Duplicate"))) {
		char *why = bk_strdup(bk_err_msg());
		if (registered_already(out_image_id, aws, req) == 0 && *out_image_id) {
			bk_logf(&aws->log, BK_LOG_WARN, "image %s (%s) is this run's: a lost "
				"RegisterImage answer; using it", *out_image_id, req->name);
			rc = 0;
		} else {
			rc = bk_err(BAKEAMI_EAWS, "%s", why ? why : "RegisterImage failed");
		}
		free(why);
	}
	xmlFreeDoc(doc);
	bk_kv_free(&p);
	return rc;
}

/* ---- the build VPC and its groups by name ------------------------------- */

static int first_text(char **out, xmlDocPtr doc, const char *list, const char *field)
{
	xmlNodePtr item = bk_ec2__first_item(xmlDocGetRootElement(doc), list);

	*out = NULL;
	return item ? bk_ec2__text(out, item, field, false) : 0;
}

int bk_ec2_build_vpc(char **out_vpc_id, bk_aws *aws, const char *vpc_id, const char *subnet_id)
{
	bk_params p = BK_KV_INIT;
	const char *yes = "true";
	xmlDocPtr doc = NULL;
	int rc;

	*out_vpc_id = NULL;
	if (vpc_id)
		return (*out_vpc_id = bk_strdup(vpc_id)) ? 0 : bk_oom();
	if (subnet_id) {
		rc = bk_ec2__list(&p, "SubnetId", &subnet_id, 1);
		if (rc == 0)
			rc = bk_ec2__call(&doc, aws, NULL, "DescribeSubnets", &p, NULL);
		if (rc == 0)
			rc = first_text(out_vpc_id, doc, "subnetSet", "vpcId");
	} else {
		rc = bk_ec2__filter(&p, 1, "is-default", &yes, 1);
		if (rc == 0)
			rc = bk_ec2__call(&doc, aws, NULL, "DescribeVpcs", &p, NULL);
		if (rc == 0)
			rc = first_text(out_vpc_id, doc, "vpcSet", "vpcId");
	}
	if (rc == 0 && !*out_vpc_id)
		rc = bk_err(BAKEAMI_ENOTFOUND, subnet_id ? "subnet %s: no such subnet"
			    : "no default VPC in this region: set vpc_id or subnet_id", subnet_id);
	xmlFreeDoc(doc);
	bk_kv_free(&p);
	return rc;
}

/* Each name's id, in the order given; a name with no group is an error
 * naming it. */
static int ids_in_order(bk_strv *out, xmlDocPtr doc, const char *const *names, size_t n,
			const char *vpc_id)
{
	bk_kv found = BK_KV_INIT;
	xmlNodePtr root = xmlDocGetRootElement(doc);
	int rc = 0;

	for (xmlNodePtr it = bk_ec2__first_item(root, "securityGroupInfo"); it && rc == 0;
	     it = bk_ec2__next_item(it)) {
		char *name = NULL, *id = NULL;
		rc = bk_ec2__text(&name, it, "groupName", true);
		if (rc == 0)
			rc = bk_ec2__text(&id, it, "groupId", true);
		if (rc == 0)
			rc = bk_kv_set(&found, name, id);
		free(name);
		free(id);
	}
	for (size_t i = 0; rc == 0 && i < n; i++) {
		const char *id = bk_kv_get(&found, names[i]);
		rc = id ? bk_strv_push(out, id)
			: bk_err(BAKEAMI_ENOTFOUND, "no security group named \"%s\" in %s", names[i],
				 vpc_id);
	}
	bk_kv_free(&found);
	return rc;
}

int bk_ec2_security_groups_named(bk_strv *out_ids, bk_aws *aws, const char *vpc_id,
				 const char *const *names, size_t n)
{
	bk_params p = BK_KV_INIT;
	xmlDocPtr doc = NULL;
	int rc = bk_ec2__filter(&p, 1, "group-name", names, n);

	if (rc == 0)
		rc = bk_ec2__filter(&p, 2, "vpc-id", &vpc_id, 1);
	if (rc == 0)
		rc = bk_ec2__call(&doc, aws, NULL, "DescribeSecurityGroups", &p, NULL);
	if (rc == 0)
		rc = ids_in_order(out_ids, doc, names, n, vpc_id);
	xmlFreeDoc(doc);
	bk_kv_free(&p);
	return rc;
}
