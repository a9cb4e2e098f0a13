/* stage_launch.c - LAUNCH and WAIT_RUNNING: one instance, tagged on
 * create, IMDSv2 required by default, idempotent through a ClientToken. */
#include <stdlib.h>
#include <string.h>

#include "bake.h"

static int launch_tags(bk_kv *inst, bk_kv *vol, const bakeami_bake *b)
{
	int rc;

	if ((rc = bk_bake_tags(inst, b, &b->cfg->run_tags)) < 0 ||
	    (rc = bk_bake_tags(vol, b, &b->cfg->run_volume_tags)) < 0)
		return rc;
	if (!bk_kv_get(inst, "Name"))
		rc = bk_kv_add(inst, "Name", "bakeami builder");
	return rc;
}

static void fill_request(bk_ec2_run_request *r, const bakeami_bake *b, const char *token)
{
	const bk_build_config *c = b->cfg;

	r->image_id = b->source->id;
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
	r->iam_instance_profile = c->iam_instance_profile;
	r->user_data = c->user_data;
	r->availability_zone = c->availability_zone;
	r->associate_public_ip = c->associate_public_ip_address;
	r->http_tokens = c->http_tokens ? c->http_tokens : "required";
	r->http_put_response_hop_limit = c->http_put_response_hop_limit;
	r->http_endpoint = c->http_endpoint;
	r->shutdown_behavior = c->shutdown_behavior;
	r->bdms = c->launch_bdms;
	r->bdms_count = c->launch_bdms_count;
	r->client_token = token;
}

int bk_stage_launch(bakeami_bake *b)
{
	bk_ec2_run_request req = {0};
	bk_kv itags = BK_KV_INIT, vtags = BK_KV_INIT;
	char token[64];
	int rc;

	bk_client_token(token, b, "run");
	fill_request(&req, b, token);
	if ((rc = launch_tags(&itags, &vtags, b)) < 0)
		goto done;
	req.instance_tags = &itags;
	req.volume_tags = &vtags;
	if ((rc = bk_journal_intent(b->journal, "instance", token)) < 0 ||
	    (rc = bk_ec2_run_instance(&b->instance, b->aws, &req)) < 0 ||
	    (rc = bk_journal_created(b->journal, "instance", b->instance.id)) < 0)
		goto done;
	bk_step(b, "%s launched from %s (%s)", b->instance.id, b->source->id, b->cfg->instance_type);
done:
	bk_kv_free(&itags);
	bk_kv_free(&vtags);
	return rc;
}

static int instance_running(bakeami_bake *b, void *arg)
{
	bk_ec2_instance now = {0};
	int rc;

	(void)arg;
	rc = bk_ec2_describe_instance(&now, b->aws, b->instance.id);
	if (rc == BAKEAMI_ENOTFOUND)   /* EC2 is eventually consistent */
		return 0;
	if (rc < 0)
		return rc;
	bk_ec2_instance_free(&b->instance);
	b->instance = now;
	if (!strcmp(now.state, "running"))
		return 1;
	if (!strcmp(now.state, "pending"))
		return 0;
	return bk_err(BAKEAMI_EAWS, "instance %s is %s while waiting for it to run",
		      now.id, now.state);
}

/* The address SSH uses: ssh_host, else per ssh_interface. */
static int pick_ssh_host(bakeami_bake *b)
{
	const bk_build_config *c = b->cfg;
	const char *iface = c->ssh_interface ? c->ssh_interface : "public_ip";
	const char *host = c->ssh_host;

	if (!host && !strcmp(iface, "private_ip"))
		host = b->instance.private_ip;
	else if (!host && !strcmp(iface, "public_dns"))
		host = b->instance.public_dns;
	else if (!host)
		host = b->instance.public_ip ? b->instance.public_ip : b->instance.private_ip;
	if (!host || !*host)
		return bk_err(BAKEAMI_EAWS, "instance %s has no %s address for SSH", b->instance.id, iface);
	b->ssh_host = bk_strdup(host);
	b->ssh_port = c->ssh_port;
	return b->ssh_host ? 0 : bk_err(BAKEAMI_ENOMEM, "out of memory");
}

int bk_stage_wait_running(bakeami_bake *b)
{
	int rc = bk_poll(b, b->cfg->instance_timeout_s, "the instance to run",
			 instance_running, NULL, &b->work_cancel);

	if (rc < 0 || (rc = pick_ssh_host(b)) < 0)
		return rc;
	bk_step(b, "%s running (%s), SSH at %s:%d", b->instance.id, b->cfg->instance_type,
		b->ssh_host, b->ssh_port);
	return 0;
}
