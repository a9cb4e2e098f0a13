/*
 * ec2_promote.c - the EC2 calls of a promotion: CopyImage, launch and
 * create-volume permissions, image deprecation, DeleteTags, and which
 * images instances still use. Every call takes the region it is signed for.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ec2_int.h"

/* EC2 takes at most 200 values per filter. */
#define FILTER_CHUNK 200

/* Run a call whose answer we do not read. */
static int call_only(bk_aws *aws, const char *region, const char *action, const bk_params *p)
{
	xmlDocPtr doc = NULL;
	int rc = bk_ec2__call(&doc, aws, region, action, p, NULL);

	xmlFreeDoc(doc);
	return rc;
}

/* ---- CopyImage ------------------------------------------------------------- */

static int copy_params(bk_params *p, const bk_ec2_copy_request *req)
{
	int rc = bk_params_add(p, "SourceImageId", req->source_image_id);

	if (rc == 0)
		rc = bk_params_add(p, "SourceRegion", req->source_region);
	if (rc == 0)
		rc = bk_params_add(p, "Name", req->name);
	if (rc == 0 && req->description && *req->description)
		rc = bk_params_add(p, "Description", req->description);
	if (rc == 0 && req->encrypted)
		rc = bk_params_add(p, "Encrypted", "true");
	if (rc == 0 && req->encrypted && req->kms_key_id && *req->kms_key_id)
		rc = bk_params_add(p, "KmsKeyId", req->kms_key_id);
	if (rc == 0)
		rc = bk_params_add(p, "ClientToken", req->client_token);
	return rc;
}

int bk_ec2_copy_image(char **out_image_id, bk_aws *aws, const char *region,
		      const bk_ec2_copy_request *req)
{
	bk_params p = BK_KV_INIT;
	xmlDocPtr doc = NULL;
	int rc = copy_params(&p, req);

	*out_image_id = NULL;
	if (!req->client_token || !*req->client_token)
		return bk_err(BAKEAMI_EINVALID, "CopyImage: a client token is required");
	/* The ClientToken makes every re-send of it the one copy (EC2 answers
	 * the first copy's id again). */
	if (rc == 0)
		rc = bk_ec2__create(&doc, aws, region, "CopyImage", &p, NULL);
	if (rc == 0)
		rc = bk_ec2__text(out_image_id, xmlDocGetRootElement(doc), "imageId", true);
	xmlFreeDoc(doc);
	bk_kv_free(&p);
	return rc;
}

/* ---- launch permissions ------------------------------------------------------- */

void bk_ec2_perms_free(bk_ec2_perms *p)
{
	if (!p)
		return;
	bk_strv_free(&p->users);
	bk_strv_free(&p->groups);
	bk_strv_free(&p->org_arns);
	bk_strv_free(&p->ou_arns);
}

bool bk_ec2_perms_empty(const bk_ec2_perms *p)
{
	return !p->users.count && !p->groups.count && !p->org_arns.count && !p->ou_arns.count;
}

/* LaunchPermission.<Add|Remove>.<n>.<field> = each value. */
static int perm_list(bk_params *p, const char *op, int *n, const char *field, const bk_strv *v)
{
	char key[96];
	int rc = 0;

	for (size_t i = 0; rc == 0 && i < v->count; i++) {
		snprintf(key, sizeof(key), "LaunchPermission.%s.%d.%s", op, ++*n, field);
		rc = bk_params_add(p, key, v->items[i]);
	}
	return rc;
}

int bk_ec2_launch_permission(bk_aws *aws, const char *region, const char *image_id,
			     bool add, const bk_ec2_perms *perm)
{
	const char *op = add ? "Add" : "Remove";
	bk_params p = BK_KV_INIT;
	int n = 0, rc;

	if (bk_ec2_perms_empty(perm))
		return 0;
	rc = bk_params_add(&p, "ImageId", image_id);
	if (rc == 0)
		rc = perm_list(&p, op, &n, "UserId", &perm->users);
	if (rc == 0)
		rc = perm_list(&p, op, &n, "Group", &perm->groups);
	if (rc == 0)
		rc = perm_list(&p, op, &n, "OrganizationArn", &perm->org_arns);
	if (rc == 0)
		rc = perm_list(&p, op, &n, "OrganizationalUnitArn", &perm->ou_arns);
	if (rc == 0)
		rc = call_only(aws, region, "ModifyImageAttribute", &p);
	bk_kv_free(&p);
	return rc;
}

/* One <item> of <launchPermission>: exactly one of its fields is set. */
static int take_perm(bk_ec2_perms *out, xmlNodePtr item)
{
	static const char *const fields[] = {"userId", "group", "organizationArn",
					     "organizationalUnitArn"};
	bk_strv *lists[] = {&out->users, &out->groups, &out->org_arns, &out->ou_arns};
	int rc = 0;

	for (size_t i = 0; rc == 0 && i < BK_ARRAY_SIZE(fields); i++) {
		char *v = bk_xml_child_text(item, fields[i]);
		if (v && *v)
			rc = bk_strv_push(lists[i], v);
		free(v);
	}
	return rc;
}

int bk_ec2_describe_launch_permission(bk_ec2_perms *out, bk_aws *aws, const char *region,
				      const char *image_id)
{
	bk_params p = BK_KV_INIT;
	xmlDocPtr doc = NULL;
	int rc = bk_params_add(&p, "ImageId", image_id);

	memset(out, 0, sizeof(*out));
	if (rc == 0)
		rc = bk_params_add(&p, "Attribute", "launchPermission");
	if (rc == 0)
		rc = bk_ec2__call(&doc, aws, region, "DescribeImageAttribute", &p, NULL);
	for (xmlNodePtr it = rc ? NULL : bk_ec2__first_item(xmlDocGetRootElement(doc),
							    "launchPermission");
	     it && rc == 0; it = bk_ec2__next_item(it))
		rc = take_perm(out, it);
	if (rc < 0)
		bk_ec2_perms_free(out);
	xmlFreeDoc(doc);
	bk_kv_free(&p);
	return rc;
}

/* ---- create-volume permissions of snapshots ----------------------------------- */

/* The OperationType form: EC2 documents both, and moto reads only this one. */
int bk_ec2_volume_permission(bk_aws *aws, const char *region, const char *snapshot_id,
			     bool add, const bk_strv *users, const bk_strv *groups)
{
	bk_params p = BK_KV_INIT;
	int rc;

	if (!users->count && !groups->count)
		return 0;
	rc = bk_params_add(&p, "SnapshotId", snapshot_id);
	if (rc == 0)
		rc = bk_params_add(&p, "Attribute", "createVolumePermission");
	if (rc == 0)
		rc = bk_params_add(&p, "OperationType", add ? "add" : "remove");
	if (rc == 0)
		rc = bk_ec2__list(&p, "UserId", (const char *const *)users->items, users->count);
	if (rc == 0)
		rc = bk_ec2__list(&p, "UserGroup", (const char *const *)groups->items, groups->count);
	if (rc == 0)
		rc = call_only(aws, region, "ModifySnapshotAttribute", &p);
	bk_kv_free(&p);
	return rc;
}

int bk_ec2_describe_volume_permission(bk_strv *users, bk_strv *groups, bk_aws *aws,
				      const char *region, const char *snapshot_id)
{
	bk_ec2_perms found = {0};
	bk_params p = BK_KV_INIT;
	xmlDocPtr doc = NULL;
	int rc = bk_params_add(&p, "SnapshotId", snapshot_id);

	if (rc == 0)
		rc = bk_params_add(&p, "Attribute", "createVolumePermission");
	if (rc == 0)
		rc = bk_ec2__call(&doc, aws, region, "DescribeSnapshotAttribute", &p, NULL);
	for (xmlNodePtr it = rc ? NULL : bk_ec2__first_item(xmlDocGetRootElement(doc),
							    "createVolumePermission");
	     it && rc == 0; it = bk_ec2__next_item(it))
		rc = take_perm(&found, it);
	/* Handed over, not copied: the caller frees them. */
	*users = found.users;
	*groups = found.groups;
	bk_strv_free(&found.org_arns);
	bk_strv_free(&found.ou_arns);
	xmlFreeDoc(doc);
	bk_kv_free(&p);
	return rc;
}

/* ---- deprecation, tags ---------------------------------------------------------- */

int bk_ec2_image_deprecation_time(char **out, bk_aws *aws, const char *region,
				  const char *image_id)
{
	bk_params p = BK_KV_INIT;
	xmlDocPtr doc = NULL;
	int rc = bk_ec2__filter(&p, 1, "image-id", &image_id, 1);
	xmlNodePtr item;

	*out = NULL;
	if (rc == 0)
		rc = bk_ec2__call(&doc, aws, region, "DescribeImages", &p, NULL);
	item = rc ? NULL : bk_ec2__first_item(xmlDocGetRootElement(doc), "imagesSet");
	if (item)
		rc = bk_ec2__text(out, item, "deprecationTime", false);
	xmlFreeDoc(doc);
	bk_kv_free(&p);
	return rc;
}

int bk_ec2_image_deprecation(bk_aws *aws, const char *region, const char *image_id,
			     const char *deprecate_at)
{
	bk_params p = BK_KV_INIT;
	int rc = bk_params_add(&p, "ImageId", image_id);

	if (rc == 0 && deprecate_at)
		rc = bk_params_add(&p, "DeprecateAt", deprecate_at);
	if (rc == 0)
		rc = call_only(aws, region, deprecate_at ? "EnableImageDeprecation"
			       : "DisableImageDeprecation", &p);
	bk_kv_free(&p);
	return rc;
}

/* ---- images in use ---------------------------------------------------------------- */

/* imageId -> instanceId for each instance of a DescribeInstances page. */
static int take_users(bk_kv *out, xmlDocPtr doc)
{
	xmlNodePtr root = xmlDocGetRootElement(doc);
	int rc = 0;

	for (xmlNodePtr r = bk_ec2__first_item(root, "reservationSet"); r && rc == 0;
	     r = bk_ec2__next_item(r))
		for (xmlNodePtr i = bk_ec2__first_item(r, "instancesSet"); i && rc == 0;
		     i = bk_ec2__next_item(i)) {
			char *image = bk_xml_child_text(i, "imageId");
			char *id = bk_xml_child_text(i, "instanceId");
			if (image && id && !bk_kv_get(out, image))
				rc = bk_kv_set(out, image, id);
			free(image);
			free(id);
		}
	return rc;
}

static int in_use_params(bk_params *p, const char *const *ids, size_t n, const char *next)
{
	static const char *const live[] = {"pending", "running", "stopping", "stopped"};
	int rc = bk_ec2__filter(p, 1, "image-id", ids, n);

	if (rc == 0)
		rc = bk_ec2__filter(p, 2, "instance-state-name", live, BK_ARRAY_SIZE(live));
	if (rc == 0 && next)
		rc = bk_params_add(p, "NextToken", next);
	return rc;
}

/* One chunk of ids, every page. */
static int in_use_chunk(bk_kv *out, bk_aws *aws, const char *region,
			const char *const *ids, size_t n)
{
	char *next = NULL;
	int rc;

	do {
		bk_params p = BK_KV_INIT;
		xmlDocPtr doc = NULL;
		rc = in_use_params(&p, ids, n, next);
		free(next);
		next = NULL;
		if (rc == 0)
			rc = bk_ec2__call(&doc, aws, region, "DescribeInstances", &p, NULL);
		if (rc == 0)
			rc = take_users(out, doc);
		if (rc == 0)
			rc = bk_ec2__text(&next, xmlDocGetRootElement(doc), "nextToken", false);
		if (next && !*next) {
			free(next);
			next = NULL;
		}
		xmlFreeDoc(doc);
		bk_kv_free(&p);
	} while (rc == 0 && next);
	free(next);
	return rc;
}

int bk_ec2_images_in_use(bk_kv *out, bk_aws *aws, const char *region,
			 const char *const *image_ids, size_t count)
{
	int rc = 0;

	for (size_t at = 0; rc == 0 && at < count; at += FILTER_CHUNK)
		rc = in_use_chunk(out, aws, region, image_ids + at,
				  count - at < FILTER_CHUNK ? count - at : FILTER_CHUNK);
	return rc;
}
