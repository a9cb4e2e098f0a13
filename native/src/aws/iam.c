/* iam.c - IAM's Query API for a temporary instance profile (iam.h). */
#include <stdio.h>
#include <string.h>

#include "aws_int.h"
#include "iam.h"

/* IAM is signed for one region per partition, whatever the build's. */
static const char *iam_region(const bk_aws *aws)
{
	const char *r = bk_aws_region(aws);

	if (bk_str_starts(r, "cn-"))
		return "cn-north-1";
	if (bk_str_starts(r, "us-gov-"))
		return "us-gov-west-1";
	return "us-east-1";
}

static int iam_call(bk_aws *aws, const char *action, const bk_params *p, bool creates,
		    char code[64])
{
	bk_aws_call call = {"iam", iam_region(aws), action, p, NULL, false, NULL, creates};
	xmlDocPtr doc = NULL;
	int rc = bk_aws__query(&doc, aws, &call, code);

	xmlFreeDoc(doc);
	if (rc == BAKEAMI_EAWS && strcmp(code, "NoSuchEntity") == 0)
		return BAKEAMI_ENOTFOUND;   /* the message names it */
	return rc;
}

/* A create whose name exists already (EntityAlreadyExists, or a role the
 * profile holds already: LimitExceeded, as IAM says it): 1. */
static int create_call(bk_aws *aws, const char *action, const bk_params *p, const char *exists)
{
	char code[64];
	int rc = iam_call(aws, action, p, true, code);

	if (rc == BAKEAMI_EAWS && strcmp(code, exists) == 0) {
		bk_err_clear();
		return 1;
	}
	return rc;
}

static int plain_call(bk_aws *aws, const char *action, const bk_params *p)
{
	char code[64];

	return iam_call(aws, action, p, false, code);
}

/* Tags.member.N.Key / .Value */
static int tag_params(bk_params *p, const bk_kv *tags)
{
	char key[48];
	int rc = 0;

	for (size_t i = 0; tags && rc == 0 && i < tags->count; i++) {
		snprintf(key, sizeof(key), "Tags.member.%zu.Key", i + 1);
		rc = bk_params_add(p, key, tags->keys[i]);
		snprintf(key, sizeof(key), "Tags.member.%zu.Value", i + 1);
		if (rc == 0)
			rc = bk_params_add(p, key, tags->vals[i]);
	}
	return rc;
}

/* A delete: on a new connection (only our loop re-sends it), and
 * NoSuchEntity is "already gone" unless its first send may have done it. */
static int delete_call(bk_aws *aws, const char *action, const bk_params *p)
{
	char code[64];
	int rc = iam_call(aws, action, p, true, code);

	return rc == BAKEAMI_ENOTFOUND && bk_aws_last_call_resent() ? bk_gone_is_done(rc) : rc;
}

/* Parameters name=value (NULL values left out), then the call (exists:
 * a create's "exists already" code; "delete": a delete). */
static int named_call(bk_aws *aws, const char *action, const char *const *kv, size_t n,
		      const bk_kv *tags, const char *exists)
{
	bk_params p = BK_KV_INIT;
	int rc = 0;

	for (size_t i = 0; rc == 0 && i + 1 < n; i += 2)
		if (kv[i + 1])
			rc = bk_params_add(&p, kv[i], kv[i + 1]);
	if (rc == 0)
		rc = tag_params(&p, tags);
	if (rc == 0 && exists && !strcmp(exists, "delete"))
		rc = delete_call(aws, action, &p);
	else if (rc == 0)
		rc = exists ? create_call(aws, action, &p, exists) : plain_call(aws, action, &p);
	bk_kv_free(&p);
	return rc;
}

int bk_iam_create_role(bk_aws *aws, const char *name, const char *path, const char *trust,
		       const char *description, const bk_kv *tags)
{
	const char *kv[] = {"RoleName", name, "Path", path, "AssumeRolePolicyDocument", trust,
			    "Description", description};

	return named_call(aws, "CreateRole", kv, BK_ARRAY_SIZE(kv), tags, "EntityAlreadyExists");
}

int bk_iam_create_instance_profile(bk_aws *aws, const char *name, const char *path,
				   const bk_kv *tags)
{
	const char *kv[] = {"InstanceProfileName", name, "Path", path};

	return named_call(aws, "CreateInstanceProfile", kv, BK_ARRAY_SIZE(kv), tags,
			  "EntityAlreadyExists");
}

int bk_iam_put_role_policy(bk_aws *aws, const char *role, const char *policy,
			   const char *document)
{
	const char *kv[] = {"RoleName", role, "PolicyName", policy, "PolicyDocument", document};

	return named_call(aws, "PutRolePolicy", kv, BK_ARRAY_SIZE(kv), NULL, NULL);
}

int bk_iam_add_role_to_instance_profile(bk_aws *aws, const char *profile, const char *role)
{
	const char *kv[] = {"InstanceProfileName", profile, "RoleName", role};

	/* A profile holds one role: a second add is LimitExceeded. */
	return named_call(aws, "AddRoleToInstanceProfile", kv, BK_ARRAY_SIZE(kv), NULL,
			  "LimitExceeded");
}

int bk_iam_remove_role_from_instance_profile(bk_aws *aws, const char *profile, const char *role)
{
	const char *kv[] = {"InstanceProfileName", profile, "RoleName", role};

	return named_call(aws, "RemoveRoleFromInstanceProfile", kv, BK_ARRAY_SIZE(kv), NULL, "delete");
}

int bk_iam_delete_role_policy(bk_aws *aws, const char *role, const char *policy)
{
	const char *kv[] = {"RoleName", role, "PolicyName", policy};

	return named_call(aws, "DeleteRolePolicy", kv, BK_ARRAY_SIZE(kv), NULL, "delete");
}

int bk_iam_delete_instance_profile(bk_aws *aws, const char *name)
{
	const char *kv[] = {"InstanceProfileName", name};

	return named_call(aws, "DeleteInstanceProfile", kv, BK_ARRAY_SIZE(kv), NULL, "delete");
}

int bk_iam_delete_role(bk_aws *aws, const char *name)
{
	const char *kv[] = {"RoleName", name};

	return named_call(aws, "DeleteRole", kv, BK_ARRAY_SIZE(kv), NULL, "delete");
}

static int exists(bk_aws *aws, const char *action, const char *key, const char *name)
{
	const char *kv[] = {key, name};
	int rc = named_call(aws, action, kv, BK_ARRAY_SIZE(kv), NULL, NULL);

	if (rc == BAKEAMI_ENOTFOUND) {
		bk_err_clear();
		return 0;
	}
	return rc < 0 ? rc : 1;
}

int bk_iam_role_exists(bk_aws *aws, const char *name)
{
	return exists(aws, "GetRole", "RoleName", name);
}

int bk_iam_instance_profile_exists(bk_aws *aws, const char *name)
{
	return exists(aws, "GetInstanceProfile", "InstanceProfileName", name);
}
