/* undo.c - putting back what a promotion changed (undo.h). */
#include <stdlib.h>
#include <string.h>

#include "undo.h"

int bk_undo_list(bk_kv *undo, const char *key, const bk_strv *v)
{
	bk_buf out = BK_BUF_INIT;
	int rc = 0;

	if (!v->count)
		return 0;
	for (size_t i = 0; rc == 0 && i < v->count; i++)
		rc = bk_buf_printf(&out, "%s%s", i ? "," : "", v->items[i]);
	if (rc == 0)
		rc = bk_kv_set(undo, key, out.ptr);
	bk_buf_free(&out);
	return rc < 0 ? bk_oom() : 0;
}

int bk_undo_perms(bk_kv *undo, const bk_ec2_perms *p)
{
	int rc = bk_undo_list(undo, "users", &p->users);

	if (rc == 0)
		rc = bk_undo_list(undo, "groups", &p->groups);
	if (rc == 0)
		rc = bk_undo_list(undo, "org_arns", &p->org_arns);
	if (rc == 0)
		rc = bk_undo_list(undo, "ou_arns", &p->ou_arns);
	return rc;
}

static int split(bk_strv *out, const bk_entry *e, const char *key)
{
	const char *s = bk_kv_get(&e->undo, key), *comma;
	int rc = 0;

	while (rc == 0 && s && *s) {
		comma = strchr(s, ',');
		char *item = bk_strndup(s, comma ? (size_t)(comma - s) : strlen(s));
		rc = item ? bk_strv_push(out, item) : bk_oom();
		free(item);
		s = comma ? comma + 1 : NULL;
	}
	return rc;
}

static const char *where(const bk_entry *e)
{
	return e->region ? e->region : "the build region";
}

/* ---- launch and create-volume permissions -------------------------------- */

int bk_undo_launch_permission(bk_reaper *r, const bk_entry *e)
{
	bk_ec2_perms p = {0};
	int rc = split(&p.users, e, "users");

	if (rc == 0)
		rc = split(&p.groups, e, "groups");
	if (rc == 0)
		rc = split(&p.org_arns, e, "org_arns");
	if (rc == 0)
		rc = split(&p.ou_arns, e, "ou_arns");
	if (rc == 0)
		rc = bk_ec2_launch_permission(r->aws, e->region, e->id, false, &p);
	bk_ec2_perms_free(&p);
	return rc;
}

char *bk_describe_launch_permission(const bk_reaper *r, const bk_entry *e)
{
	const char *keys[] = {"users", "groups", "org_arns", "ou_arns"};
	bk_buf who = BK_BUF_INIT;
	char *s;

	(void)r;
	for (size_t i = 0; i < BK_ARRAY_SIZE(keys); i++)
		if (bk_kv_get(&e->undo, keys[i]))
			bk_buf_printf(&who, "%s%s", who.len ? ", " : "", bk_kv_get(&e->undo, keys[i]));
	s = bk_sprintf("launch permissions on %s in %s removed (%s)", e->id, where(e),
		       who.ptr ? who.ptr : "");
	bk_buf_free(&who);
	return s;
}

int bk_undo_volume_permission(bk_reaper *r, const bk_entry *e)
{
	bk_strv users = BK_STRV_INIT, groups = BK_STRV_INIT;
	int rc = split(&users, e, "users");

	if (rc == 0)
		rc = split(&groups, e, "groups");
	if (rc == 0)
		rc = bk_ec2_volume_permission(r->aws, e->region, e->id, false, &users, &groups);
	bk_strv_free(&users);
	bk_strv_free(&groups);
	return rc;
}

char *bk_describe_volume_permission(const bk_reaper *r, const bk_entry *e)
{
	(void)r;
	return bk_sprintf("volume permissions on %s in %s removed", e->id, where(e));
}

/* ---- tags ------------------------------------------------------------------ */

/* The tags added go (each only with the value this run gave it), the ones
 * they replaced come back. */
int bk_undo_tags(bk_reaper *r, const bk_entry *e)
{
	const char *ids[1] = {e->id};
	bk_kv added = BK_KV_INIT, was = BK_KV_INIT;
	int rc = 0;

	for (size_t i = 0; rc == 0 && i < e->undo.count; i++) {
		const char *k = e->undo.keys[i];
		if (bk_str_starts(k, "tag:"))
			rc = bk_kv_set(&added, k + 4, e->undo.vals[i]);
		else if (bk_str_starts(k, "was:"))
			rc = bk_kv_set(&was, k + 4, e->undo.vals[i]);
	}
	if (rc == 0 && added.count)
		rc = bk_ec2_delete_tags(r->aws, e->region, ids, 1, &added);
	if (rc == 0 && was.count)
		rc = bk_ec2_create_tags(r->aws, e->region, ids, 1, &was);
	bk_kv_free(&added);
	bk_kv_free(&was);
	return rc;
}

char *bk_describe_tags(const bk_reaper *r, const bk_entry *e)
{
	(void)r;
	return bk_sprintf("promotion tags removed from %s in %s", e->id, where(e));
}

/* ---- deprecation ------------------------------------------------------------ */

int bk_undo_deprecation(bk_reaper *r, const bk_entry *e)
{
	return bk_ec2_image_deprecation(r->aws, e->region, e->id, bk_kv_get(&e->undo, "before"));
}

char *bk_describe_deprecation(const bk_reaper *r, const bk_entry *e)
{
	const char *before = bk_kv_get(&e->undo, "before");

	(void)r;
	return before ? bk_sprintf("deprecation of %s in %s back to %s", e->id, where(e), before)
		      : bk_sprintf("deprecation of %s in %s cancelled", e->id, where(e));
}

/* ---- the SSM pointer ------------------------------------------------------------ */

int bk_undo_ssm_parameter(bk_reaper *r, const bk_entry *e)
{
	const char *value = bk_kv_get(&e->undo, "value");

	if (value)
		return bk_ssm_put_parameter(r->aws, e->region, e->id, value,
					    bk_kv_get(&e->undo, "type"),
					    bk_kv_get(&e->undo, "data_type"));
	return bk_ssm_delete_parameter(r->aws, e->region, e->id);
}

char *bk_describe_ssm_parameter(const bk_reaper *r, const bk_entry *e)
{
	const char *value = bk_kv_get(&e->undo, "value");

	(void)r;
	return value ? bk_sprintf("SSM %s in %s restored to %s", e->id, where(e), value)
		     : bk_sprintf("SSM %s in %s deleted (it did not exist before)", e->id, where(e));
}
