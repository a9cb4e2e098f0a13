/* reap_iam.c - the kinds of a temporary instance profile (stage_iam.c):
 * how each is removed, said and found. IAM is global: entries have no
 * region. */
#include <stdlib.h>

#include "../aws/iam.h"
#include "undo.h"

int bk_undo_iam_role(bk_reaper *r, const bk_entry *e)
{
	return bk_iam_delete_role(r->aws, e->id);
}

int bk_undo_iam_role_policy(bk_reaper *r, const bk_entry *e)
{
	return bk_iam_delete_role_policy(r->aws, e->id, bk_kv_get(&e->undo, "policy"));
}

int bk_undo_instance_profile(bk_reaper *r, const bk_entry *e)
{
	return bk_iam_delete_instance_profile(r->aws, e->id);
}

int bk_undo_instance_profile_role(bk_reaper *r, const bk_entry *e)
{
	return bk_iam_remove_role_from_instance_profile(r->aws, e->id, bk_kv_get(&e->undo, "role"));
}

char *bk_describe_iam(const bk_reaper *r, const bk_entry *e)
{
	(void)r;
	if (bk_kv_get(&e->undo, "policy"))
		return bk_sprintf("inline policy %s of iam-role %s deleted",
				  bk_kv_get(&e->undo, "policy"), e->id);
	if (bk_kv_get(&e->undo, "role"))
		return bk_sprintf("iam-role %s taken out of instance-profile %s",
				  bk_kv_get(&e->undo, "role"), e->id);
	return bk_sprintf("%s %s", e->kind, e->id);
}

/* A kill during the create call: the name the intent gave, if IAM has it. */
static int find_named(int exists, const bk_entry *e, char **id)
{
	*id = NULL;
	if (exists < 0)
		return exists;
	return exists && !(*id = bk_strdup(e->name)) ? bk_oom() : 0;
}

int bk_find_iam_role(bk_reaper *r, const bk_entry *e, char **id)
{
	return find_named(bk_iam_role_exists(r->aws, e->name), e, id);
}

int bk_find_instance_profile(bk_reaper *r, const bk_entry *e, char **id)
{
	return find_named(bk_iam_instance_profile_exists(r->aws, e->name), e, id);
}
