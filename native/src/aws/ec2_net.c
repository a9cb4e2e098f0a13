/* ec2_net.c - the temporary key pair and security group. */
#include <stdlib.h>
#include <string.h>

#include "ec2_int.h"

/* DeleteSecurityGroup backoff while an instance still holds the group. */
#define SG_WAIT_FIRST_S 2.0
#define SG_WAIT_MAX_S 15.0
#define SG_WAIT_FACTOR 1.5

/* One call whose answer carries a single id we want. */
static int call_for_id(char **out, bk_aws *aws, const char *action, const bk_params *p,
		       const char *id_field)
{
	xmlDocPtr doc = NULL;
	int rc = bk_ec2__call(&doc, aws, NULL, action, p, NULL);

	if (rc == 0)
		rc = bk_ec2__text(out, xmlDocGetRootElement(doc), id_field, true);
	xmlFreeDoc(doc);
	return rc;
}

/* ---- key pairs --------------------------------------------------------------- */

/* PublicKeyMaterial is a blob: the base64 of the OpenSSH line itself. */
static int public_key_param(bk_params *p, const char *line)
{
	size_t n = strlen(line);
	char *b64;
	int rc;

	while (n && (line[n - 1] == '\n' || line[n - 1] == '\r' || line[n - 1] == ' '))
		n--;
	if (!(b64 = bk_base64((const unsigned char *)line, n)))
		return bk_oom();
	rc = bk_params_add(p, "PublicKeyMaterial", b64);
	free(b64);
	return rc;
}

int bk_ec2_import_key_pair(char **out_key_pair_id, bk_aws *aws, const char *name,
			   const char *public_key_line, const bk_kv *tags)
{
	bk_params p = BK_KV_INIT;
	int tag_specs = 0;
	int rc = bk_params_add(&p, "KeyName", name);

	*out_key_pair_id = NULL;
	if (rc == 0)
		rc = public_key_param(&p, public_key_line);
	if (rc == 0)
		rc = bk_ec2__tag_spec(&p, &tag_specs, "key-pair", tags);
	if (rc == 0)
		rc = call_for_id(out_key_pair_id, aws, "ImportKeyPair", &p, "keyPairId");
	bk_kv_free(&p);
	return rc;
}

int bk_ec2_delete_key_pair(bk_aws *aws, const char *name)
{
	bk_params p = BK_KV_INIT;
	xmlDocPtr doc = NULL;
	/* By name: moto ignores KeyPairId, and EC2 answers true for an unknown
	 * name, so a repeated delete is harmless. */
	int rc = bk_params_add(&p, "KeyName", name);

	if (rc == 0)
		rc = bk_ec2__call(&doc, aws, NULL, "DeleteKeyPair", &p, NULL);
	xmlFreeDoc(doc);
	bk_kv_free(&p);
	return rc;
}

/* ---- security groups ---------------------------------------------------------- */

int bk_ec2_create_security_group(char **out_group_id, bk_aws *aws, const char *name,
				 const char *description, const char *vpc_id,
				 const bk_kv *tags)
{
	bk_params p = BK_KV_INIT;
	int tag_specs = 0;
	int rc = bk_params_add(&p, "GroupName", name);

	*out_group_id = NULL;
	if (rc == 0)
		rc = bk_params_add(&p, "GroupDescription", description ? description : name);
	if (rc == 0 && vpc_id)
		rc = bk_params_add(&p, "VpcId", vpc_id);
	if (rc == 0)
		rc = bk_ec2__tag_spec(&p, &tag_specs, "security-group", tags);
	if (rc == 0)
		rc = call_for_id(out_group_id, aws, "CreateSecurityGroup", &p, "groupId");
	bk_kv_free(&p);
	return rc;
}

static int ingress_params(bk_params *p, const char *group_id, int port,
			  const char *const *cidrs, size_t n)
{
	char key[96];
	int rc = bk_params_add(p, "GroupId", group_id);

	if (rc == 0)
		rc = bk_params_add(p, "IpPermissions.1.IpProtocol", "tcp");
	if (rc == 0)
		rc = bk_params_addf(p, "IpPermissions.1.FromPort", "%d", port);
	if (rc == 0)
		rc = bk_params_addf(p, "IpPermissions.1.ToPort", "%d", port);
	for (size_t i = 0; rc == 0 && i < n; i++) {
		snprintf(key, sizeof(key), "IpPermissions.1.IpRanges.%zu.CidrIp", i + 1);
		rc = bk_params_add(p, key, cidrs[i]);
		snprintf(key, sizeof(key), "IpPermissions.1.IpRanges.%zu.Description", i + 1);
		if (rc == 0)
			rc = bk_params_add(p, key, "bakeami temporary SSH");
	}
	return rc;
}

int bk_ec2_authorize_ingress(bk_aws *aws, const char *group_id, int port,
			     const char *const *cidrs, size_t cidrs_count)
{
	bk_params p = BK_KV_INIT;
	xmlDocPtr doc = NULL;
	char code[64];
	int rc = ingress_params(&p, group_id, port, cidrs, cidrs_count);

	if (rc == 0)
		rc = bk_ec2__call(&doc, aws, NULL, "AuthorizeSecurityGroupIngress", &p, code);
	/* A retried call whose first try landed: the rule is there. */
	if (rc == BAKEAMI_EAWS && strcmp(code, "InvalidPermission.Duplicate") == 0) {
		bk_err_clear();
		rc = 0;
	}
	xmlFreeDoc(doc);
	bk_kv_free(&p);
	return rc;
}

static bool group_in_use(const char *code)
{
	return strcmp(code, "DependencyViolation") == 0 || strcmp(code, "InvalidGroup.InUse") == 0;
}

/* Wait before the next try, never past the deadline: 0, 1 when the
 * deadline has passed, or BAKEAMI_ECANCELLED. */
static int wait_for_group(bk_aws *aws, const char *group_id, bk_poller *wait)
{
	double s = bk_poller_next(wait);
	int rc;

	if (s > 0)
		bk_logf(&aws->log, BK_LOG_INFO, "security group %s still in use, retrying in %.1fs",
			group_id, s);
	rc = bk_poller_wait(wait);
	return rc < 0 ? bk_err(BAKEAMI_ECANCELLED, "DeleteSecurityGroup: cancelled") : rc;
}

/*
 * The group stays attached to a terminating instance's interface for a
 * while, and EC2 answers DependencyViolation until it is released (packer
 * issue #278), so keep trying until the deadline.
 */
int bk_ec2_delete_security_group(bk_aws *aws, const char *group_id, double deadline)
{
	bk_poll_opts po = {deadline, SG_WAIT_FIRST_S, SG_WAIT_MAX_S, SG_WAIT_FACTOR,
			   bk_aws__cancel(aws), NULL};
	bk_poller wait;
	bk_params p = BK_KV_INIT;
	char code[64];
	int rc = bk_params_add(&p, "GroupId", group_id);

	bk_poller_start(&wait, &po);
	while (rc == 0) {
		xmlDocPtr doc = NULL;
		rc = bk_ec2__call(&doc, aws, NULL, "DeleteSecurityGroup", &p, code);
		xmlFreeDoc(doc);
		if (rc != BAKEAMI_EAWS)
			break;
		if (strcmp(code, "InvalidGroup.NotFound") == 0) {
			bk_err_clear();
			rc = 0;
			break;
		}
		if (!group_in_use(code))
			break;
		int w = wait_for_group(aws, group_id, &wait);
		if (w != 0) {
			if (w > 0)   /* keep the DependencyViolation message */
				bk_err_wrap(BAKEAMI_ETIMEOUT, "security group %s still in use at the "
					    "deadline", group_id);
			rc = w > 0 ? BAKEAMI_ETIMEOUT : w;
			break;
		}
		rc = 0;
	}
	bk_kv_free(&p);
	return rc;
}
