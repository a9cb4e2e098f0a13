/*
 * undo.h - the kinds of reversible changes a promotion makes (reap.h's
 * table holds them): each is journalled as intended, with what undoes it,
 * before the call that makes it. What entry.undo holds, per kind (lists
 * comma-joined):
 *   launch-permission  id image     users, groups, org_arns, ou_arns added
 *   volume-permission  id snapshot  users, groups added (parent: the image)
 *   tags               id image     tag:<k> = value added, was:<k> = value replaced
 *   deprecation        id image     before = the deprecation time replaced (none: cancel)
 *   ssm-parameter      id name      value, type, data_type replaced (none: delete)
 */
#ifndef BK_UNDO_H
#define BK_UNDO_H

#include "reap.h"

/* undo[key] = the list joined by commas; nothing for an empty list. */
int bk_undo_list(bk_kv *undo, const char *key, const bk_strv *v);
int bk_undo_perms(bk_kv *undo, const bk_ec2_perms *p);

int bk_undo_launch_permission(bk_reaper *r, const bk_entry *e);
int bk_undo_volume_permission(bk_reaper *r, const bk_entry *e);
int bk_undo_tags(bk_reaper *r, const bk_entry *e);
int bk_undo_deprecation(bk_reaper *r, const bk_entry *e);
int bk_undo_ssm_parameter(bk_reaper *r, const bk_entry *e);

char *bk_describe_launch_permission(const bk_reaper *r, const bk_entry *e);
char *bk_describe_volume_permission(const bk_reaper *r, const bk_entry *e);
char *bk_describe_tags(const bk_reaper *r, const bk_entry *e);
char *bk_describe_deprecation(const bk_reaper *r, const bk_entry *e);
char *bk_describe_ssm_parameter(const bk_reaper *r, const bk_entry *e);

/* reap_iam.c: a temporary instance profile's kinds
 *   iam-role               id role name
 *   iam-role-policy        id role      policy = the inline policy's name
 *   instance-profile       id profile name
 *   instance-profile-role  id profile   role = the role it holds */
int bk_undo_iam_role(bk_reaper *r, const bk_entry *e);
int bk_undo_iam_role_policy(bk_reaper *r, const bk_entry *e);
int bk_undo_instance_profile(bk_reaper *r, const bk_entry *e);
int bk_undo_instance_profile_role(bk_reaper *r, const bk_entry *e);
char *bk_describe_iam(const bk_reaper *r, const bk_entry *e);
int bk_find_iam_role(bk_reaper *r, const bk_entry *e, char **id);
int bk_find_instance_profile(bk_reaper *r, const bk_entry *e, char **id);

#endif
