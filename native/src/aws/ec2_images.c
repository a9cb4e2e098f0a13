/* ec2_images.c - DescribeImages, CreateImage, DeregisterImage, DeleteSnapshot. */
#include <stdlib.h>
#include <string.h>

#include "ec2_int.h"

/* How long CreateImage's snapshots may take to show in DescribeImages. */
#define SNAPSHOT_LOOKS 6
#define SNAPSHOT_LOOK_MS 2000

static void image_clear(bk_ec2_image *img)
{
	free(img->id);
	free(img->name);
	free(img->state);
	free(img->owner_id);
	free(img->creation_date);
	free(img->root_device_type);
	free(img->deprecation_time);
	bk_kv_free(&img->tags);
	bk_strv_free(&img->snapshot_ids);
}

void bk_ec2_images_free(bk_ec2_images *imgs)
{
	if (!imgs)
		return;
	for (size_t i = 0; i < imgs->count; i++)
		image_clear(&imgs->items[i]);
	free(imgs->items);
	imgs->items = NULL;
	imgs->count = 0;
}

/* ---- DescribeImages ------------------------------------------------------ */

static int image_query_params(bk_params *p, const bk_ec2_image_query *q)
{
	int rc = bk_ec2__list(p, "ImageId", q->image_ids, q->image_ids_count);

	if (rc == 0)
		rc = bk_ec2__list(p, "Owner", q->owners, q->owners_count);
	return rc ? rc : bk_ec2__filters(p, q->filters);
}

static int parse_snapshot_ids(bk_strv *out, xmlNodePtr image)
{
	int rc = 0;

	for (xmlNodePtr it = bk_ec2__first_item(image, "blockDeviceMapping"); it && rc == 0;
	     it = bk_ec2__next_item(it)) {
		char *snap = bk_xml_child_text(bk_xml_child(it, "ebs"), "snapshotId");
		if (snap && *snap)
			rc = bk_strv_push(out, snap);
		free(snap);
	}
	return rc;
}

static int parse_image(bk_ec2_image *img, xmlNodePtr item)
{
	int rc = bk_ec2__text(&img->id, item, "imageId", true);

	if (rc == 0)
		rc = bk_ec2__text(&img->name, item, "name", false);
	if (rc == 0)
		rc = bk_ec2__text(&img->state, item, "imageState", false);
	if (rc == 0)
		rc = bk_ec2__text(&img->owner_id, item, "imageOwnerId", false);
	if (rc == 0)
		rc = bk_ec2__text(&img->creation_date, item, "creationDate", false);
	if (rc == 0)
		rc = bk_ec2__text(&img->root_device_type, item, "rootDeviceType", false);
	if (rc == 0)
		rc = bk_ec2__text(&img->deprecation_time, item, "deprecationTime", false);
	if (rc == 0)
		rc = bk_ec2__parse_tags(&img->tags, item);
	if (rc == 0)
		rc = parse_snapshot_ids(&img->snapshot_ids, item);
	return rc;
}

/* Newest first; ISO 8601 in one format sorts as text. Ties by id, so the
 * order never depends on how EC2 happened to list them. */
static int newest_first(const void *a, const void *b)
{
	const bk_ec2_image *x = a, *y = b;
	int c = strcmp(y->creation_date ? y->creation_date : "",
		       x->creation_date ? x->creation_date : "");

	return c ? c : strcmp(x->id, y->id);
}

/* The answer's images, or only those whose child `field` reads `value`
 * (an answer shared with others holds theirs too; a name filter is a
 * wildcard pattern, and only the exact name counts). */
static int parse_images(bk_ec2_images *out, xmlDocPtr doc, const char *field, const char *value)
{
	xmlNodePtr root = xmlDocGetRootElement(doc), it;
	size_t n = 0;
	int rc = 0;

	for (it = bk_ec2__first_item(root, "imagesSet"); it; it = bk_ec2__next_item(it))
		n += !field || bk_ec2__item_is(it, field, value);
	if (n && !(out->items = calloc(n, sizeof(*out->items))))
		return bk_oom();
	for (it = bk_ec2__first_item(root, "imagesSet"); it && rc == 0; it = bk_ec2__next_item(it))
		if (!field || bk_ec2__item_is(it, field, value))
			rc = parse_image(&out->items[out->count++], it);
	if (rc == 0 && out->count) /* qsort's array may not be NULL, even for 0 items */
		qsort(out->items, out->count, sizeof(*out->items), newest_first);
	return rc;
}

/* Callers tell "no such image" (gone, or not yet visible) from failures. */
static int not_found(int rc, const char *code)
{
	return rc == BAKEAMI_EAWS && strcmp(code, "InvalidAMIID.NotFound") == 0 ? BAKEAMI_ENOTFOUND
		: rc;
}

/* One DescribeImages, shared with the other bakes of the process asking
 * the same kind at about the same time (ec2_shared.c): base plus `id` in
 * `list`, the answer read for the images whose `field` is id; list NULL:
 * base alone, the answer read whole. */
typedef struct {
	const bk_params *base;
	const char *list;       /* "ImageId", "Filter.1.Value" */
	const char *id;
	const char *field;      /* "imageId", "name" */
} image_ask;

static int describe_images(bk_ec2_images *out, bk_aws *aws, const char *region,
			   const image_ask *a)
{
	bk_ec2__shared s;
	char code[64] = "";
	int rc = bk_ec2__shared_call(&s, aws, region, "DescribeImages", a->base, a->list, a->id,
				     code);

	memset(out, 0, sizeof(*out));
	if ((rc = not_found(rc, code)) == 0)
		rc = parse_images(out, s.doc, a->list ? a->field : NULL, a->id);
	if (rc < 0)
		bk_ec2_images_free(out);
	bk_ec2__shared_done(&s);
	return rc;
}

/* One image by id, and nothing else asked: asked with the others' ids. */
static bool by_id_alone(const bk_ec2_image_query *q)
{
	return q->image_ids_count == 1 && !q->owners_count && (!q->filters || !q->filters->count);
}

int bk_ec2_describe_images(bk_ec2_images *out, bk_aws *aws, const char *region,
			   const bk_ec2_image_query *q)
{
	bk_params p = BK_KV_INIT;
	image_ask a = {&p, NULL, NULL, NULL};
	xmlDocPtr doc = NULL;
	char code[64] = "";
	int rc;

	if (by_id_alone(q)) {
		a = (image_ask){NULL, "ImageId", q->image_ids[0], "imageId"};
		return describe_images(out, aws, region, &a);
	}
	memset(out, 0, sizeof(*out));
	if ((rc = image_query_params(&p, q)) == 0 && q->shared)
		rc = describe_images(out, aws, region, &a);
	else if (rc == 0)
		rc = not_found(bk_ec2__call(&doc, aws, region, "DescribeImages", &p, code), code);
	if (rc == 0 && doc)
		rc = parse_images(out, doc, NULL, NULL);
	if (rc < 0)
		bk_ec2_images_free(out);
	xmlFreeDoc(doc);
	bk_kv_free(&p);
	return rc;
}

/* The name filter of many bakes' names at once: each reads its own. */
int bk_ec2_describe_images_named(bk_ec2_images *out, bk_aws *aws, const char *region,
				 const char *name)
{
	bk_params base = BK_KV_INIT;
	image_ask a = {&base, "Filter.1.Value", name, "name"};
	int rc = bk_params_add(&base, "Owner.1", "self");

	memset(out, 0, sizeof(*out));
	if (rc == 0)
		rc = bk_params_add(&base, "Filter.1.Name", "name");
	if (rc == 0)
		rc = describe_images(out, aws, region, &a);
	bk_kv_free(&base);
	return rc;
}

/* ---- CreateImage --------------------------------------------------------- */

static int create_image_params(bk_params *p, const bk_ec2_image_request *req)
{
	int tag_specs = 0;
	int rc = bk_params_add(p, "InstanceId", req->instance_id);

	if (rc == 0)
		rc = bk_params_add(p, "Name", req->name);
	if (rc == 0 && req->description)
		rc = bk_params_add(p, "Description", req->description);
	if (rc == 0)
		rc = bk_ec2__bdms(p, req->bdms, req->bdms_count);
	/* Snapshot tags go on with CreateTags afterwards (see tag_snapshots). */
	if (rc == 0)
		rc = bk_ec2__tag_spec(p, &tag_specs, "image", req->image_tags);
	return rc;
}

/* The image called `name`, if one exists: *out its id when it carries our
 * run id (mine, from the request's tags), else an error naming it: EC2
 * keeps names unique, so a foreign one means the name is taken. A caller
 * that tags no run id has only the name to go by. */
static int image_by_name(char **out, bk_aws *aws, const char *name, const char *mine)
{
	bk_ec2_images imgs = {0};
	const bk_ec2_image *foreign = NULL;
	int rc = bk_ec2_describe_images_named(&imgs, aws, NULL, name);

	*out = NULL;
	for (size_t i = 0; rc == 0 && i < imgs.count && !*out; i++) {
		const bk_ec2_image *img = &imgs.items[i];
		const char *theirs = bk_kv_get(&img->tags, BK_EC2_RUN_ID_TAG);
		if (!mine || (theirs && strcmp(mine, theirs) == 0))
			rc = (*out = bk_strdup(img->id)) ? 0 : bk_oom();
		else
			foreign = img;
	}
	if (rc == 0 && !*out && foreign)
		rc = bk_err(BAKEAMI_EAWS, "CreateImage: image %s is called %s but is not this run's "
			    "(no %s %s): it is left alone", foreign->id, name, BK_EC2_RUN_ID_TAG,
			    mine ? mine : "tag");
	if (rc == 0 && *out)
		bk_logf(&aws->log, BK_LOG_WARN, "image %s (%s) is this run's: a lost CreateImage "
			"answer; using it", *out, name);
	bk_ec2_images_free(&imgs);
	return rc;
}

static int image_id_from(char **out, xmlDocPtr doc)
{
	return bk_ec2__text(out, xmlDocGetRootElement(doc), "imageId", true);
}

/*
 * CreateImage has no ClientToken (checked against the EC2 API reference and
 * botocore's model: only CopyImage has one). So a CreateImage that failed
 * in a way that may still have created the image (network error, 5xx) is
 * never blindly re-sent: we first look for our image by its name, which
 * EC2 keeps unique per account and region, and re-send only if it is not
 * there (it goes on a new connection, so libcurl never re-sends it behind
 * our back: http.c). A send answered InvalidAMIName.Duplicate means an
 * earlier one did land (the lookup came too soon to see it) or the name is
 * someone else's: the image of that name is ours only with our run-id tag.
 */
static int create_image_call(char **out, bk_aws *aws, const bk_params *p, const char *name,
			     const char *mine)
{
	long status = 0;
	char code[64];
	bk_aws_call call = {"ec2", NULL, "CreateImage", p, NULL, true, &status, true};
	xmlDocPtr doc = NULL;
	int rc;

	for (int retry = 0;; retry++) {
		rc = bk_aws__query(&doc, aws, &call, code);
		if (rc == 0 || rc == BAKEAMI_ECANCELLED || rc == BAKEAMI_ENOMEM)
			break;
		if (strcmp(code, "InvalidAMIName.Duplicate") == 0) {
			bk_err_clear();
			if ((rc = image_by_name(out, aws, name, mine)) == 0 && !*out)
				rc = bk_err(BAKEAMI_EAWS, "CreateImage: %s is a duplicate name, but no "
					    "image of that name is found", name);
			return rc;
		}
		if (!bk_aws__uncertain(status, code) || retry >= aws->retry.max_retries)
			return rc;
		if ((rc = image_by_name(out, aws, name, mine)) < 0 || *out)
			return rc;
		rc = bk_aws_backoff(aws, "ec2", "CreateImage",
				     code[0] ? code : "network error", retry + 1);
		if (rc < 0)
			return rc;
	}
	if (rc == 0)
		rc = image_id_from(out, doc);
	xmlFreeDoc(doc);
	return rc;
}

/* One DescribeImages of a new image; its snapshot ids into out. */
static int look_for_snapshots(bk_strv *out, bk_aws *aws, const char *image_id)
{
	bk_params p = BK_KV_INIT;
	bk_ec2_images imgs = {0};
	xmlDocPtr doc = NULL;
	char code[64];
	int rc = bk_params_add(&p, "ImageId.1", image_id);

	if (rc == 0)
		rc = bk_ec2__call(&doc, aws, NULL, "DescribeImages", &p, code);
	/* A new AMI id can be unknown to DescribeImages for a moment. */
	if (rc == BAKEAMI_EAWS && strcmp(code, "InvalidAMIID.NotFound") == 0) {
		bk_err_clear();
		rc = 0;
	}
	if (rc == 0 && doc)
		rc = parse_images(&imgs, doc, NULL, NULL);
	for (size_t i = 0; rc == 0 && imgs.count && i < imgs.items[0].snapshot_ids.count; i++)
		rc = bk_strv_push(out, imgs.items[0].snapshot_ids.items[i]);
	bk_ec2_images_free(&imgs);
	xmlFreeDoc(doc);
	bk_kv_free(&p);
	return rc;
}

/* The snapshots behind a new image; EC2 may list them only after a moment. */
static int image_snapshots(bk_strv *out, bk_aws *aws, const char *image_id)
{
	int rc = 0;

	for (int look = 0; look < SNAPSHOT_LOOKS && rc == 0 && out->count == 0; look++) {
		if (look && bk_sleep_ms(bk_aws__cancel(aws), SNAPSHOT_LOOK_MS) < 0)
			return bk_err(BAKEAMI_ECANCELLED, "CreateImage: cancelled");
		rc = look_for_snapshots(out, aws, image_id);
	}
	return rc;
}

/* moto rejects TagSpecification "snapshot" on CreateImage (HTTP 500), so
 * snapshot tags are put with CreateTags once the snapshots are known. */
static int tag_snapshots(bk_aws *aws, const char *image_id, const bk_kv *tags)
{
	bk_strv snaps = BK_STRV_INIT;
	int rc = image_snapshots(&snaps, aws, image_id);

	if (rc == 0 && snaps.count == 0)
		bk_logf(&aws->log, BK_LOG_WARN, "snapshot tags not applied: %s lists no snapshots yet",
			image_id);
	if (rc == 0 && snaps.count)
		rc = bk_ec2_create_tags(aws, NULL, (const char *const *)snaps.items, snaps.count,
					tags);
	bk_strv_free(&snaps);
	return rc;
}

int bk_ec2_create_image(char **out_image_id, bk_aws *aws, const bk_ec2_image_request *req)
{
	bk_params p = BK_KV_INIT;
	int rc = create_image_params(&p, req);

	*out_image_id = NULL;
	if (rc == 0)
		rc = create_image_call(out_image_id, aws, &p, req->name,
				       req->image_tags ? bk_kv_get(req->image_tags, BK_EC2_RUN_ID_TAG)
				       : NULL);
	if (rc == 0 && !*out_image_id)
		rc = bk_err(BAKEAMI_EAWS, "CreateImage: no image id");
	bk_kv_free(&p);
	if (rc == 0 && req->snapshot_tags && req->snapshot_tags->count &&
	    (rc = tag_snapshots(aws, *out_image_id, req->snapshot_tags)) < 0)
		bk_err_wrap(rc, "tagging the snapshots of %s", *out_image_id);
	/* The image exists even if tagging failed: the caller must still see
	 * its id to deregister it. */
	return rc;
}

/* ---- removal ------------------------------------------------------------- */

int bk_ec2_deregister_image(bk_aws *aws, const char *region, const char *image_id)
{
	static const char *const gone[] = {"InvalidAMIID.NotFound", "InvalidAMIID.Unavailable"};

	return bk_ec2__delete_one(aws, region, "DeregisterImage", "ImageId", image_id, "DeregisterImage",
				  gone, BK_ARRAY_SIZE(gone));
}

int bk_ec2_delete_snapshot(bk_aws *aws, const char *region, const char *snapshot_id)
{
	static const char *const gone[] = {"InvalidSnapshot.NotFound"};

	return bk_ec2__delete_one(aws, region, "DeleteSnapshot", "SnapshotId", snapshot_id, "DeleteSnapshot",
				  gone, BK_ARRAY_SIZE(gone));
}

int bk_ec2_deregister_image_and_snapshots(bk_aws *aws, const char *region,
					  const bk_ec2_image *img, bool with_snapshots)
{
	int rc = bk_gone_is_done(bk_ec2_deregister_image(aws, region, img->id));

	for (size_t i = 0; rc == 0 && with_snapshots && i < img->snapshot_ids.count; i++)
		rc = bk_gone_is_done(bk_ec2_delete_snapshot(aws, region, img->snapshot_ids.items[i]));
	return rc;
}
