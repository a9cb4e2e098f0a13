/* stage_launch.c - LAUNCH and WAIT_RUNNING: one instance, tagged on
 * create, IMDSv2 required by default, idempotent through a ClientToken.
 * TEST_IMAGE launches its instance from the new image the same way. */
#include <stdlib.h>
#include <string.h>

#include "bake.h"

/* Packer's 11 tries of RunInstances for a new profile. */
#define PROFILE_RETRIES 10

static int launch_tags(bk_kv *inst, bk_kv *vol, const bakeami_bake *b, const char *name)
{
	int rc;

	if ((rc = bk_bake_tags(inst, b, &b->cfg->run_tags)) < 0 ||
	    (rc = bk_bake_tags(vol, b, &b->cfg->run_volume_tags)) < 0)
		return rc;
	if (!bk_kv_get(inst, "Name"))
		rc = bk_kv_add(inst, "Name", name);
	return rc;
}

static void fill_request(bk_ec2_run_request *r, const bakeami_bake *b, const char *image_id,
			 const char *token)
{
	const bk_build_config *c = b->cfg;

	r->image_id = image_id;
	r->instance_type = c->instance_type;
	r->key_name = b->key_name ? b->key_name : c->ssh_keypair_name;
	if (b->sg_id) {
		r->security_group_ids = (const char *const *)&b->sg_id;
		r->security_group_ids_count = 1;
	} else {
		r->security_group_ids = (const char *const *)c->security_group_ids.items;
		r->security_group_ids_count = c->security_group_ids.count;
	}
	r->subnet_id = c->subnet_id;
	r->iam_instance_profile = b->iam_profile ? b->iam_profile : c->iam_instance_profile;
	r->user_data = c->user_data;
	r->availability_zone = c->availability_zone;
	r->tenancy = c->tenancy;
	r->unlimited_cpu_credits = c->enable_t2_unlimited;
	r->associate_public_ip = c->associate_public_ip_address;
	r->http_tokens = c->http_tokens ? c->http_tokens : "required";
	r->http_put_response_hop_limit = c->http_put_response_hop_limit;
	r->http_endpoint = c->http_endpoint;
	r->shutdown_behavior = c->shutdown_behavior;
	r->bdms = c->launch_bdms;
	r->bdms_count = c->launch_bdms_count;
	r->client_token = token;
}

/* EC2 may not know a new instance profile for a few seconds (IAM is
 * eventually consistent): InvalidParameterValue naming iamInstanceProfile. */
static bool profile_not_known_yet(const char *code)
{
	const char *msg = bk_err_msg();

	return strcmp(code, "InvalidParameterValue") == 0 &&
	       (strstr(msg, "iamInstanceProfile") || strstr(msg, "IAM Instance Profile"));
}

/* So, as Packer does, RunInstances is tried again with backoff; the same
 * ClientToken, so a launch that did happen is not made twice. */
static int run_instance(bakeami_bake *b, bk_ec2_instance *out, const bk_ec2_run_request *req)
{
	char code[64] = "";
	int rc;

	for (int retry = 1;; retry++) {
		rc = bk_ec2_run_instance(out, b->aws, req, code);
		if (rc != BAKEAMI_EAWS || !profile_not_known_yet(code) || retry > PROFILE_RETRIES)
			return rc;
		if ((rc = bk_aws_backoff(b->aws, "ec2", "RunInstances",
					 "an instance profile EC2 does not know yet", retry)) < 0)
			return rc;
	}
}

int bk_launch_on_demand(bakeami_bake *b, bk_ec2_instance *out, const bk_ec2_run_request *req)
{
	int rc = bk_journal_intent(b->journal, "instance", req->client_token);

	if (rc == 0 && (rc = run_instance(b, out, req)) == 0)
		rc = bk_journal_created(b->journal, "instance", out->id);
	if (rc == 0)
		bk_step(b, "%s launched from %s (%s)", out->id, req->image_id, req->instance_type);
	return rc;
}

int bk_launch(bakeami_bake *b, bk_ec2_instance *out, const char *image_id,
	      const char *purpose, const char *name)
{
	bk_ec2_run_request req = {0};
	bk_kv itags = BK_KV_INIT, vtags = BK_KV_INIT;
	char token[64];
	int rc;

	bk_client_token(token, b, purpose);
	fill_request(&req, b, image_id, token);
	if ((rc = launch_tags(&itags, &vtags, b, name)) < 0)
		goto done;
	req.instance_tags = &itags;
	req.volume_tags = &vtags;
	rc = b->cfg->spot_price ? bk_launch_spot(b, out, &req, purpose)
		: bk_launch_on_demand(b, out, &req);
	/* Spot or on-demand, the instance is held by the lease from here. */
	if (rc == 0)
		rc = bk_lease_hold(b, out->id);
done:
	bk_kv_free(&itags);
	bk_kv_free(&vtags);
	return rc;
}

int bk_stage_launch(bakeami_bake *b)
{
	return bk_launch(b, &b->instance, b->source->id, "run", "bakeami builder");
}

static int instance_running(bakeami_bake *b, void *arg)
{
	bk_ec2_instance *inst = arg, now = {0};
	int rc;

	rc = bk_ec2_describe_instance(&now, b->aws, inst->id);
	if (rc == BAKEAMI_ENOTFOUND)   /* EC2 is eventually consistent */
		return 0;
	if (rc < 0)
		return rc;
	bk_ec2_instance_free(inst);
	*inst = now;
	if (!strcmp(now.state, "running"))
		return 1;
	if (!strcmp(now.state, "pending"))
		return 0;
	return bk_err(BAKEAMI_EAWS, "instance %s is %s while waiting for it to run",
		      now.id, now.state);
}

/* The address SSH uses: ssh_host, else per ssh_interface. */
static int pick_ssh_host(char **out, const bakeami_bake *b, const bk_ec2_instance *inst)
{
	const bk_build_config *c = b->cfg;
	const char *iface = c->ssh_interface ? c->ssh_interface : "public_ip";
	const char *host = c->ssh_host;

	if (!host && !strcmp(iface, "private_ip"))
		host = inst->private_ip;
	else if (!host && !strcmp(iface, "public_dns"))
		host = inst->public_dns;
	else if (!host && !strcmp(iface, "private_dns"))
		host = inst->private_dns;
	else if (!host)
		host = inst->public_ip ? inst->public_ip : inst->private_ip;
	if (!host || !*host)
		return bk_err(BAKEAMI_EAWS, "instance %s has no %s address for SSH", inst->id, iface);
	*out = bk_strdup(host);
	return *out ? 0 : bk_oom();
}

int bk_wait_running(bakeami_bake *b, bk_ec2_instance *inst, char **ssh_host)
{
	int rc = bk_poll(b, b->cfg->instance_timeout_s, "the instance to run",
			 instance_running, inst, &b->work_cancel);

	if (rc == 0)
		rc = bk_lease_hold_volumes(b, inst);
	if (rc == 0 && !ssh_host)
		bk_step(b, "%s running (%s)", inst->id, b->cfg->instance_type);
	if (rc < 0 || !ssh_host || (rc = pick_ssh_host(ssh_host, b, inst)) < 0)
		return rc;
	bk_step(b, "%s running (%s), SSH at %s:%d", inst->id, b->cfg->instance_type,
		*ssh_host, b->cfg->ssh_port);
	return 0;
}

int bk_stage_wait_running(bakeami_bake *b)
{
	b->ssh_port = b->cfg->ssh_port;
	return bk_wait_running(b, &b->instance, b->cfg->communicator_none ? NULL : &b->ssh_host);
}
