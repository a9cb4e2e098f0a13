/* ec2_instances.c - RunInstances, DescribeInstances, TerminateInstances. */
#include <stdlib.h>
#include <string.h>

#include "ec2_int.h"

void bk_ec2_instance_free(bk_ec2_instance *inst)
{
	if (!inst)
		return;
	free(inst->id);
	free(inst->state);
	free(inst->public_ip);
	free(inst->private_ip);
	free(inst->public_dns);
	free(inst->private_dns);
	free(inst->vpc_id);
	free(inst->architecture);
	free(inst->subnet_id);
	free(inst->image_id);
	bk_kv_free(&inst->tags);
	bk_strv_free(&inst->volume_ids);
	memset(inst, 0, sizeof(*inst));
}

static int parse_volumes(bk_strv *out, xmlNodePtr item)
{
	int rc = 0;

	for (xmlNodePtr m = bk_ec2__first_item(item, "blockDeviceMapping"); m && rc == 0;
	     m = bk_ec2__next_item(m)) {
		char *id = bk_xml_child_text(bk_xml_child(m, "ebs"), "volumeId");
		if (id && *id)
			rc = bk_strv_push(out, id);
		free(id);
	}
	return rc;
}

static int parse_instance(bk_ec2_instance *out, xmlNodePtr item)
{
	int rc = bk_ec2__text(&out->id, item, "instanceId", true);

	if (rc == 0)
		rc = bk_ec2__text(&out->state, bk_xml_child(item, "instanceState"), "name", false);
	if (rc == 0)
		rc = bk_ec2__text(&out->public_ip, item, "ipAddress", false);
	if (rc == 0)
		rc = bk_ec2__text(&out->private_ip, item, "privateIpAddress", false);
	if (rc == 0)
		rc = bk_ec2__text(&out->public_dns, item, "dnsName", false);
	if (rc == 0)
		rc = bk_ec2__text(&out->private_dns, item, "privateDnsName", false);
	if (rc == 0)
		rc = bk_ec2__text(&out->vpc_id, item, "vpcId", false);
	if (rc == 0)
		rc = bk_ec2__text(&out->subnet_id, item, "subnetId", false);
	if (rc == 0)
		rc = bk_ec2__text(&out->image_id, item, "imageId", false);
	if (rc == 0)
		rc = bk_ec2__text(&out->architecture, item, "architecture", false);
	if (rc == 0)
		rc = bk_ec2__parse_tags(&out->tags, item);
	if (rc == 0)
		rc = parse_volumes(&out->volume_ids, item);
	if (rc < 0)
		bk_ec2_instance_free(out);
	return rc;
}

/* ---- RunInstances ---------------------------------------------------------- */

/* Subnet and groups; with a public-IP choice they must sit on the primary
 * network interface, because EC2 takes AssociatePublicIpAddress only there. */
static int network_params(bk_params *p, const bk_ec2_run_request *r)
{
	int rc = 0;

	if (r->associate_public_ip < 0) {
		if (r->subnet_id)
			rc = bk_params_add(p, "SubnetId", r->subnet_id);
		return rc ? rc : bk_ec2__list(p, "SecurityGroupId", r->security_group_ids,
					      r->security_group_ids_count);
	}
	rc = bk_params_add(p, "NetworkInterface.1.DeviceIndex", "0");
	if (rc == 0)
		rc = bk_params_add(p, "NetworkInterface.1.AssociatePublicIpAddress",
				   r->associate_public_ip ? "true" : "false");
	if (rc == 0)
		rc = bk_params_add(p, "NetworkInterface.1.DeleteOnTermination", "true");
	if (rc == 0 && r->subnet_id)
		rc = bk_params_add(p, "NetworkInterface.1.SubnetId", r->subnet_id);
	return rc ? rc : bk_ec2__list(p, "NetworkInterface.1.SecurityGroupId",
				      r->security_group_ids, r->security_group_ids_count);
}

static int metadata_params(bk_params *p, const bk_ec2_run_request *r)
{
	/* IMDSv2 only unless the template says otherwise. */
	int rc = bk_params_add(p, "MetadataOptions.HttpTokens",
			       r->http_tokens ? r->http_tokens : "required");

	if (rc == 0 && r->http_put_response_hop_limit > 0)
		rc = bk_params_addf(p, "MetadataOptions.HttpPutResponseHopLimit", "%d",
				    r->http_put_response_hop_limit);
	if (rc == 0 && r->http_endpoint)
		rc = bk_params_add(p, "MetadataOptions.HttpEndpoint", r->http_endpoint);
	return rc;
}

static int user_data_param(bk_params *p, const char *user_data)
{
	char *b64;
	int rc;

	if (!user_data)
		return 0;
	if (!(b64 = bk_base64((const unsigned char *)user_data, strlen(user_data))))
		return bk_oom();
	rc = bk_params_add(p, "UserData", b64);
	free(b64);
	return rc;
}

static int optional_param(bk_params *p, const char *key, const char *val)
{
	return val ? bk_params_add(p, key, val) : 0;
}

int bk_ec2__run_params(bk_params *p, const bk_ec2_run_request *r)
{
	const char *profile = r->iam_instance_profile;
	int tag_specs = 0;
	int rc = bk_params_add(p, "ImageId", r->image_id);

	if (rc == 0)
		rc = bk_params_add(p, "InstanceType", r->instance_type);
	if (rc == 0)
		rc = bk_params_add(p, "MinCount", "1");
	if (rc == 0)
		rc = bk_params_add(p, "MaxCount", "1");
	if (rc == 0)
		rc = bk_params_add(p, "ClientToken", r->client_token);
	if (rc == 0)
		rc = optional_param(p, "KeyName", r->key_name);
	if (rc == 0)
		rc = network_params(p, r);
	if (rc == 0)
		rc = optional_param(p, bk_str_starts(profile, "arn:") ? "IamInstanceProfile.Arn"
				    : "IamInstanceProfile.Name", profile);
	if (rc == 0)
		rc = user_data_param(p, r->user_data);
	if (rc == 0)
		rc = optional_param(p, "Placement.AvailabilityZone", r->availability_zone);
	if (rc == 0)
		rc = optional_param(p, "Placement.Tenancy", r->tenancy);
	if (rc == 0)
		rc = optional_param(p, "CreditSpecification.CpuCredits",
				    r->unlimited_cpu_credits ? "unlimited" : NULL);
	if (rc == 0)
		rc = metadata_params(p, r);
	if (rc == 0)
		rc = optional_param(p, "InstanceInitiatedShutdownBehavior", r->shutdown_behavior);
	if (rc == 0)
		rc = bk_ec2__bdms(p, r->bdms, r->bdms_count);
	if (rc == 0)
		rc = bk_ec2__tag_spec(p, &tag_specs, "instance", r->instance_tags);
	if (rc == 0)
		rc = bk_ec2__tag_spec(p, &tag_specs, "volume", r->volume_tags);
	return rc;
}

int bk_ec2_run_instance(bk_ec2_instance *out, bk_aws *aws, const bk_ec2_run_request *req,
			char code[64])
{
	bk_params p = BK_KV_INIT;
	xmlDocPtr doc = NULL;
	xmlNodePtr item;
	int rc;

	memset(out, 0, sizeof(*out));
	if (!req->client_token || !*req->client_token)
		return bk_err(BAKEAMI_EINVALID, "RunInstances: a client token is required");
	rc = bk_ec2__run_params(&p, req);
	if (rc == 0)
		rc = bk_ec2__create(&doc, aws, NULL, "RunInstances", &p, code);
	if (rc == 0) {
		item = bk_ec2__first_item(xmlDocGetRootElement(doc), "instancesSet");
		rc = item ? parse_instance(out, item)
			  : bk_err(BAKEAMI_EAWS, "RunInstances: no instance in the response");
	}
	xmlFreeDoc(doc);
	bk_kv_free(&p);
	return rc;
}

/* ---- DescribeInstances / TerminateInstances --------------------------------- */

/* The instance's item in a DescribeInstances answer (which may be of
 * several), or NULL. */
static xmlNodePtr instance_item(xmlDocPtr doc, const char *instance_id)
{
	xmlNodePtr res = bk_ec2__first_item(xmlDocGetRootElement(doc), "reservationSet");

	for (; res; res = bk_ec2__next_item(res))
		for (xmlNodePtr it = bk_ec2__first_item(res, "instancesSet"); it;
		     it = bk_ec2__next_item(it))
			if (bk_ec2__item_is(it, "instanceId", instance_id))
				return it;
	return NULL;
}

/* Shared with the other bakes of the process waiting on theirs (ec2_shared.c). */
int bk_ec2_describe_instance(bk_ec2_instance *out, bk_aws *aws, const char *instance_id)
{
	bk_ec2__shared s;
	xmlNodePtr item;
	char code[64] = "";
	int rc;

	memset(out, 0, sizeof(*out));
	rc = bk_ec2__shared_call(&s, aws, NULL, "DescribeInstances", NULL, "InstanceId", instance_id,
				 code);
	/* Right after RunInstances EC2 may not know the id yet. */
	if (rc == BAKEAMI_EAWS && strcmp(code, "InvalidInstanceID.NotFound") == 0)
		rc = BAKEAMI_ENOTFOUND;
	if (rc == 0) {
		item = instance_item(s.doc, instance_id);
		rc = item ? parse_instance(out, item)
			  : bk_err(BAKEAMI_ENOTFOUND, "DescribeInstances: %s not found", instance_id);
	}
	bk_ec2__shared_done(&s);
	return rc;
}

/* The instance was terminated (or being terminated) before this call:
 * TerminateInstances answers as for a live one, with its previous state. */
static bool was_ending(xmlDocPtr doc)
{
	xmlNodePtr item = bk_ec2__first_item(xmlDocGetRootElement(doc), "instancesSet");
	char *prev = item ? bk_xml_child_text(bk_xml_child(item, "previousState"), "name") : NULL;
	bool ending = prev && (!strcmp(prev, "terminated") || !strcmp(prev, "shutting-down"));

	free(prev);
	return ending;
}

int bk_ec2_terminate_instance(bk_aws *aws, const char *instance_id)
{
	bk_params p = BK_KV_INIT;
	xmlDocPtr doc = NULL;
	char code[64];
	int rc = bk_params_add(&p, "InstanceId.1", instance_id);

	if (rc == 0)
		rc = bk_ec2__delete(&doc, aws, NULL, "TerminateInstances", &p, code);
	if ((rc == BAKEAMI_EAWS && strcmp(code, "InvalidInstanceID.NotFound") == 0) ||
	    (rc == 0 && was_ending(doc)))
		rc = bk_aws_gone("instance", instance_id);
	xmlFreeDoc(doc);
	bk_kv_free(&p);
	return rc;
}

/* ---- volumes ---------------------------------------------------------------- */

int bk_ec2_volume_state(char **state, bk_aws *aws, const char *volume_id)
{
	bk_params p = BK_KV_INIT;
	xmlDocPtr doc = NULL;
	xmlNodePtr item;
	char code[64];
	int rc = bk_params_add(&p, "VolumeId.1", volume_id);

	*state = NULL;
	if (rc == 0)
		rc = bk_ec2__call(&doc, aws, NULL, "DescribeVolumes", &p, code);
	if (rc == BAKEAMI_EAWS && strcmp(code, "InvalidVolume.NotFound") == 0)
		rc = bk_err(BAKEAMI_ENOTFOUND, "volume %s: already gone", volume_id);
	item = rc == 0 ? bk_ec2__first_item(xmlDocGetRootElement(doc), "volumeSet") : NULL;
	if (rc == 0 && !item)
		rc = bk_err(BAKEAMI_ENOTFOUND, "volume %s: already gone", volume_id);
	if (rc == 0)
		rc = bk_ec2__text(state, item, "status", true);
	xmlFreeDoc(doc);
	bk_kv_free(&p);
	return rc;
}

int bk_ec2_delete_volume(bk_aws *aws, const char *volume_id)
{
	static const char *const gone[] = {"InvalidVolume.NotFound"};

	return bk_ec2__delete_one(aws, NULL, "DeleteVolume", "VolumeId", volume_id, "volume", gone,
				  BK_ARRAY_SIZE(gone));
}
