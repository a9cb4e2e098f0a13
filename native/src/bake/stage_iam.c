/*
 * stage_iam.c - CREATE_INSTANCE_PROFILE: temporary_iam_instance_profile_policy_document
 * made as Packer's StepIamInstanceProfile makes it: a role EC2 may assume, the document
 * as its inline policy, an instance profile holding the role, all named
 * bakeami-<run-id> under the path /bakeami/ and tagged as every temporary resource.
 * Each is a ledger entry before its call, so CLEANUP (and `bakeami cleanup
 * --journal` after a kill) removes them in reverse: the role out of the
 * profile, the profile, the policy, the role. LAUNCH waits for EC2 to know
 * the profile (stage_launch.c).
 */
#include <stdlib.h>
#include <string.h>

#include "../aws/iam.h"
#include "bake.h"

#define IAM_PATH "/bakeami/"
/* IAM may not know a role it has just made (NoSuchEntity) for a moment. */
#define IAM_RETRIES 10

static int make_role(bakeami_bake *b, const char *name, const bk_kv *tags)
{
	/* EC2 assumes the role for the instance; China's partition names it so */
	const char *ec2 = bk_str_starts(bk_aws_region(b->aws), "cn-") ? "ec2.amazonaws.com.cn"
		: "ec2.amazonaws.com";
	char *trust = bk_sprintf("{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\","
				 "\"Principal\":{\"Service\":\"%s\"},\"Action\":\"sts:AssumeRole\"}]}",
				 ec2);
	char *what = bk_sprintf("bakeami run %s: the build instance's temporary role", b->run_id);
	int rc = trust && what ? 0 : bk_oom();

	if (rc == 0 && (rc = bk_journal_intent(b->journal, "iam-role", name)) == 0 &&
	    (rc = bk_iam_create_role(b->aws, name, IAM_PATH, trust, what, tags)) >= 0)
		rc = bk_journal_created(b->journal, "iam-role", name);
	free(trust);
	free(what);
	return rc;
}

static int make_profile(bakeami_bake *b, const char *name, const bk_kv *tags)
{
	int rc = bk_journal_intent(b->journal, "instance-profile", name);

	if (rc == 0 && (rc = bk_iam_create_instance_profile(b->aws, name, IAM_PATH, tags)) >= 0)
		rc = bk_journal_created(b->journal, "instance-profile", name);
	return rc;
}

static int put_policy(bakeami_bake *b, const char *role, const char *policy)
{
	return bk_iam_put_role_policy(b->aws, role, policy, b->cfg->temp_iam_policy);
}

static int add_role(bakeami_bake *b, const char *profile, const char *role)
{
	return bk_iam_add_role_to_instance_profile(b->aws, profile, role);
}

/* A change to the role or the profile, journalled as intended (with what
 * undoes it) before its call, tried again while IAM does not know the new
 * role yet. */
static int change(bakeami_bake *b, const char *kind, const char *id, const char *key,
		  const char *val, int (*call)(bakeami_bake *, const char *, const char *),
		  const char *action)
{
	bk_kv undo = BK_KV_INIT;
	bk_entry_spec s = {.kind = kind, .id = id, .undo = &undo};
	size_t n = 0;
	int rc = bk_kv_add(&undo, key, val);

	if (rc == 0)
		rc = bk_journal_add(b->journal, &n, &s, BK_INTENDED);
	for (int retry = 1; rc == 0; retry++) {
		if ((rc = call(b, id, val)) != BAKEAMI_ENOTFOUND || retry > IAM_RETRIES)
			break;
		rc = bk_aws_backoff(b->aws, "iam", action, "NoSuchEntity", retry);
	}
	if (rc >= 0)
		rc = bk_journal_set(b->journal, n, BK_CREATED, NULL);
	bk_kv_free(&undo);
	return rc;
}

int bk_stage_create_instance_profile(bakeami_bake *b)
{
	bk_kv tags = BK_KV_INIT;
	char *name;
	int rc;

	if (!b->cfg->temp_iam_policy)
		return 0;
	if (!(name = bk_sprintf("bakeami-%s", b->run_id)))
		return bk_oom();
	if ((rc = bk_bake_tags(&tags, b, NULL)) == 0 && (rc = make_role(b, name, &tags)) == 0 &&
	    (rc = change(b, "iam-role-policy", name, "policy", name, put_policy,
			 "PutRolePolicy")) == 0 &&
	    (rc = make_profile(b, name, &tags)) == 0 &&
	    (rc = change(b, "instance-profile-role", name, "role", name, add_role,
			 "AddRoleToInstanceProfile")) == 0) {
		bk_step(b, "temporary instance profile %s: role %s with the template's policy",
			name, name);
		b->iam_profile = name;
		name = NULL;
	}
	bk_kv_free(&tags);
	free(name);
	return rc;
}
