/* ec2_net.c - the temporary key pair and security group. */
#include <stdlib.h>
#include <string.h>

#include "ec2_int.h"

/* DeleteSecurityGroup backoff while an instance still holds the group. */
#define SG_WAIT_FIRST_S 2.0
#define SG_WAIT_MAX_S 15.0
#define SG_WAIT_FACTOR 1.5

/* How to find what a create made by its name. */
typedef struct {
	const char *what;             /* for messages: "key pair" */
	const char *name;
	const char *describe;         /* the Describe call, by name */
	const bk_params *query;
	const char *set;              /* the answer's list of items */
	const char *id_field;         /* in the create's answer and in each item */
	const bk_kv *tags;            /* the create's: our run id */
	const char *key_line;         /* a key pair: our public key, which it must hold */
} lookup;

/* The length of "type base64" at the start of an OpenSSH public key line. */
static size_t key_span(const char *s)
{
	size_t n = strcspn(s, " ");

	if (s[n] == ' ')
		n += 1 + strcspn(s + n + 1, " \r\n");
	return n;
}

/* Two OpenSSH public key lines hold the same key (comments aside). */
static bool same_public_key(const char *a, const char *b)
{
	size_t n;

	if (!a || !b)
		return false;
	a += strspn(a, " ");
	b += strspn(b, " ");
	n = key_span(a);
	return n > 0 && n == key_span(b) && strncmp(a, b, n) == 0;
}

typedef enum { THEIRS, OURS, OTHER_KEY } owner;

/* Ours: our run-id tag and, for a key pair, our public key (the one a
 * re-send imported; a fingerprint would say the same less directly). */
static owner owner_of(xmlNodePtr it, const lookup *l, const char *mine, const bk_kv *found)
{
	const char *theirs = bk_kv_get(found, BK_EC2_RUN_ID_TAG);
	char *key;
	bool same;

	if (mine && !(theirs && strcmp(mine, theirs) == 0))
		return THEIRS;
	if (!l->key_line)
		return OURS;
	key = bk_xml_child_text(it, "publicKey");
	same = same_public_key(key, l->key_line);
	free(key);
	return same ? OURS : OTHER_KEY;
}

static int not_ours(const lookup *l, const char *id, owner who, const char *mine)
{
	if (who == OTHER_KEY)
		return bk_err(BAKEAMI_EAWS, "%s %s (%s) has our name and our %s tag, but not our "
			      "public key: not adopted (it would let in a key this run did not "
			      "make); tagged as ours, it goes with the cleanup", l->what, l->name, id,
			      BK_EC2_RUN_ID_TAG);
	return bk_err(BAKEAMI_EAWS, "%s %s (%s) has our name but not our %s tag %s: it is not "
		      "this run's, so it is left alone", l->what, l->name, id, BK_EC2_RUN_ID_TAG,
		      mine ? mine : "");
}

/*
 * The resource a create answered Duplicate for. That means an earlier send
 * of the same create landed and its answer was lost (the connection died
 * after the server acted; our retry, or a transport, sent it again), or
 * someone else has the name. The name holds our run id, and the resource
 * is ours only if it carries our bakeami:run-id tag too (every create
 * tags on create); anything else is an error that names it. A caller that
 * tags no run id has only the name to go by.
 */
static int adopt(char **out, bk_aws *aws, const lookup *l)
{
	const char *mine = l->tags ? bk_kv_get(l->tags, BK_EC2_RUN_ID_TAG) : NULL;
	xmlDocPtr doc = NULL;
	char *foreign = NULL;
	owner why = THEIRS;
	int rc = bk_ec2__call(&doc, aws, NULL, l->describe, l->query, NULL);

	for (xmlNodePtr it = rc ? NULL : bk_ec2__first_item(xmlDocGetRootElement(doc), l->set);
	     it && rc == 0 && !*out; it = bk_ec2__next_item(it)) {
		bk_kv found = BK_KV_INIT;
		char *id = NULL;
		rc = bk_ec2__text(&id, it, l->id_field, true);
		if (rc == 0)
			rc = bk_ec2__parse_tags(&found, it);
		owner who = rc == 0 ? owner_of(it, l, mine, &found) : THEIRS;
		if (rc == 0 && who == OURS) {
			*out = id;
		} else if (rc == 0 && !foreign) {
			foreign = id;
			why = who;
		} else {
			free(id);
		}
		bk_kv_free(&found);
	}
	xmlFreeDoc(doc);
	if (rc == 0 && *out)
		bk_logf(&aws->log, BK_LOG_WARN, "%s %s is this run's (its answer was lost and "
			"the create sent again): using it", l->what, *out);
	else if (rc == 0 && foreign)
		rc = not_ours(l, foreign, why, mine);
	else if (rc == 0)
		rc = bk_err(BAKEAMI_EAWS, "%s %s: EC2 says it exists, but it is not found", l->what,
			    l->name);
	free(foreign);
	return rc;
}

/* A create whose answer carries the new id; answered dup_code, the one
 * that exists if it is ours. */
static int create_for_id(char **out, bk_aws *aws, const char *action, const bk_params *p,
			 const char *dup_code, const lookup *l)
{
	xmlDocPtr doc = NULL;
	char code[64];
	int rc = bk_ec2__create(&doc, aws, NULL, action, p, code);

	if (rc == 0)
		rc = bk_ec2__text(out, xmlDocGetRootElement(doc), l->id_field, true);
	xmlFreeDoc(doc);
	if (rc == BAKEAMI_EAWS && strcmp(code, dup_code) == 0) {
		bk_err_clear();
		rc = adopt(out, aws, l);
	}
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
	bk_params p = BK_KV_INIT, q = BK_KV_INIT;
	lookup l = {"key pair", name, "DescribeKeyPairs", &q, "keySet", "keyPairId", tags,
		    public_key_line};
	int tag_specs = 0;
	int rc = bk_params_add(&p, "KeyName", name);

	*out_key_pair_id = NULL;
	if (rc == 0)
		rc = public_key_param(&p, public_key_line);
	if (rc == 0)
		rc = bk_ec2__tag_spec(&p, &tag_specs, "key-pair", tags);
	if (rc == 0)
		rc = bk_params_add(&q, "KeyName.1", name);
	if (rc == 0)
		rc = bk_params_add(&q, "IncludePublicKey", "true");
	if (rc == 0)
		rc = create_for_id(out_key_pair_id, aws, "ImportKeyPair", &p,
				   "InvalidKeyPair.Duplicate", &l);
	bk_kv_free(&q);
	bk_kv_free(&p);
	return rc;
}

/*
 * EC2 answers DeleteKeyPair true for a name it does not know too; its
 * answer names the keyPairId it deleted, and none when there was nothing
 * (moto answers so): that tells "already gone" without a DescribeKeyPairs
 * first, which would cost every bake a call. By name: moto ignores
 * KeyPairId.
 */
int bk_ec2_delete_key_pair(bk_aws *aws, const char *name)
{
	bk_params p = BK_KV_INIT;
	xmlDocPtr doc = NULL;
	char *id = NULL;
	int rc = bk_params_add(&p, "KeyName", name);

	if (rc == 0)
		rc = bk_ec2__delete(&doc, aws, NULL, "DeleteKeyPair", &p, NULL);
	if (rc == 0)
		rc = bk_ec2__text(&id, xmlDocGetRootElement(doc), "keyPairId", false);
	if (rc == 0 && (!id || !*id))
		rc = bk_aws_gone("key pair", name);
	free(id);
	xmlFreeDoc(doc);
	bk_kv_free(&p);
	return rc;
}

/* ---- security groups ---------------------------------------------------------- */

int bk_ec2_create_security_group(char **out_group_id, bk_aws *aws, const char *name,
				 const char *description, const char *vpc_id,
				 const bk_kv *tags)
{
	bk_params p = BK_KV_INIT, q = BK_KV_INIT;
	lookup l = {"security group", name, "DescribeSecurityGroups", &q, "securityGroupInfo",
		    "groupId", tags, NULL};
	const char *vpc[1] = {vpc_id};
	int tag_specs = 0;
	int rc = bk_params_add(&p, "GroupName", name);

	*out_group_id = NULL;
	if (rc == 0)
		rc = bk_params_add(&p, "GroupDescription", description ? description : name);
	if (rc == 0 && vpc_id)
		rc = bk_params_add(&p, "VpcId", vpc_id);
	if (rc == 0)
		rc = bk_ec2__tag_spec(&p, &tag_specs, "security-group", tags);
	/* Names are unique per VPC. */
	if (rc == 0)
		rc = bk_ec2__filter(&q, 1, "group-name", &name, 1);
	if (rc == 0 && vpc_id)
		rc = bk_ec2__filter(&q, 2, "vpc-id", vpc, 1);
	if (rc == 0)
		rc = create_for_id(out_group_id, aws, "CreateSecurityGroup", &p,
				   "InvalidGroup.Duplicate", &l);
	bk_kv_free(&q);
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
			   bk_aws__cancel(aws), NULL, 0};
	bk_poller wait;
	bk_params p = BK_KV_INIT;
	char code[64];
	int rc = bk_params_add(&p, "GroupId", group_id);

	bk_poller_start(&wait, &po);
	while (rc == 0) {
		xmlDocPtr doc = NULL;
		rc = bk_ec2__delete(&doc, aws, NULL, "DeleteSecurityGroup", &p, code);
		xmlFreeDoc(doc);
		if (rc != BAKEAMI_EAWS)
			break;
		if (strcmp(code, "InvalidGroup.NotFound") == 0) {
			rc = bk_aws_gone("security group", group_id);
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
