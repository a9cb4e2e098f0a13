/*
 * iam.h - the IAM calls of a temporary instance profile: a role, its inline
 * policy, an instance profile holding it, and their removal. IAM is global:
 * its endpoint is AWS_ENDPOINT_URL_IAM, AWS_ENDPOINT_URL, else the
 * partition's (iam.amazonaws.com), signed for the partition's IAM region.
 * A role or profile that does not exist is BAKEAMI_ENOTFOUND (NoSuchEntity).
 */
#ifndef BK_IAM_H
#define BK_IAM_H

#include "aws.h"

/* Creates: 0 when made, 1 when one of that name exists already (the
 * caller's names are its own: an earlier attempt's answer was lost). */
int bk_iam_create_role(bk_aws *aws, const char *name, const char *path, const char *trust,
		       const char *description, const bk_kv *tags);
int bk_iam_create_instance_profile(bk_aws *aws, const char *name, const char *path,
				   const bk_kv *tags);
/* PutRolePolicy (made or replaced), AddRoleToInstanceProfile (1: it holds
 * the role already). */
int bk_iam_put_role_policy(bk_aws *aws, const char *role, const char *policy,
			   const char *document);
int bk_iam_add_role_to_instance_profile(bk_aws *aws, const char *profile, const char *role);
/* Removals; each is safe to repeat (gone: BAKEAMI_ENOTFOUND). */
int bk_iam_remove_role_from_instance_profile(bk_aws *aws, const char *profile, const char *role);
int bk_iam_delete_role_policy(bk_aws *aws, const char *role, const char *policy);
int bk_iam_delete_instance_profile(bk_aws *aws, const char *name);
int bk_iam_delete_role(bk_aws *aws, const char *name);
/* GetRole / GetInstanceProfile: 1 when it exists, 0 when not. */
int bk_iam_role_exists(bk_aws *aws, const char *name);
int bk_iam_instance_profile_exists(bk_aws *aws, const char *name);

#endif
