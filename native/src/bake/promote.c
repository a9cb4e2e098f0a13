/*
 * promote.c - the promotion engine (see promote.h): copies in parallel,
 * then sharing, deprecation, the SSM pointer and the promotion tags in
 * every region; a failure undoes all of it; success retires old images.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "promote.h"
#include "reap.h"

#define FAMILY_TAG "bakeami:family"
/* On each copy: "<region>:<image id>" of the image it copies. A promotion
 * run again finds its copies by it and reuses them. */
#define COPY_OF_TAG "bakeami:copy-of"
/* EC2 deprecates at most ten years ahead. */
#define MAX_DEPRECATE_DAYS 3650
#define ROLLBACK_DEADLINE_S (15 * 60)

typedef struct promo promo;

/* One region: the build region (regions[0]) or a copy's. */
typedef struct {
	promo *p;
	char *region;
	bk_aws *aws;             /* a copy region's own client; else the bake's */
	bool is_copy;
	char *image_id;          /* the tested image, or its copy */
	bk_strv snapshots;
	bool had_before;         /* it existed before this run (`bakeami promote`): ... */
	bk_kv tags_before;       /* ... with these tags */
	/* what this run changed, for the rollback: on an image promoted before
	 * (`bakeami promote`), only what it did not have yet */
	bool copied;             /* CopyImage made it: the rollback deletes it */
	bk_ec2_perms added;      /* launch permissions added */
	bk_strv snap_users, snap_groups; /* create-volume permissions added, on every snapshot */
	bool deprecated;         /* its deprecation time was set ... */
	char *deprecated_before; /* ... replacing this one (NULL: none) */
	bool pointed;            /* the SSM pointer was set ... */
	bk_ssm_parameter before; /* ... replacing this value */
	bk_kv tags_added;        /* promotion tags it did not carry ... */
	bk_kv tags_replaced;     /* ... and the values they replaced */
	/* a copy thread's outcome */
	pthread_t thread;
	bool started;
	bool stopped;            /* it gave up because another copy failed */
	int rc;
	char *error;
} region_ctx;

struct promo {
	bakeami_bake *b;
	const bk_promo_input *in;
	pthread_mutex_t mu;      /* console and journal, shared by the copy threads */
	atomic_int failed;       /* a copy failed: the others stop waiting */
	/* the plan */
	bk_ec2_perms share;
	bk_strv snap_users, snap_groups;
	const cJSON *kms_keys;   /* builder region_kms_key_ids */
	const char *ssm_parameter;
	bk_kv final_tags;        /* promote.tags + bakeami:family */
	char deprecate_at[32];
	long keep_last;
	char *family;
	region_ctx *regions;
	size_t n;
};

/* ==== reading the config ================================================ */

static const cJSON *promote_item(const bk_build_config *c, const char *key)
{
	return c->promote ? cJSON_GetObjectItemCaseSensitive(c->promote, key) : NULL;
}

static const cJSON *builder_item(const bk_build_config *c, const char *key)
{
	return c->builder ? cJSON_GetObjectItemCaseSensitive(c->builder, key) : NULL;
}

/* A template number may be a JSON number or, from a variable, a string. */
static bool json_long(long *out, const cJSON *v)
{
	const char *s = cJSON_GetStringValue(v);
	char *end;

	if (cJSON_IsNumber(v)) {
		*out = (long)v->valuedouble;
		return true;
	}
	if (!s || !*s)
		return false;
	errno = 0;
	*out = strtol(s, &end, 10);
	return errno == 0 && *end == '\0';
}

static int add_unique(bk_strv *v, const char *s)
{
	for (size_t i = 0; i < v->count; i++)
		if (!strcmp(v->items[i], s))
			return 0;
	return bk_strv_push(v, s);
}

static int add_strv(bk_strv *v, const bk_strv *src)
{
	int rc = 0;

	for (size_t i = 0; rc == 0 && i < src->count; i++)
		rc = add_unique(v, src->items[i]);
	return rc;
}

/* The strings of a JSON array (validated at load: only strings). */
static int add_json(bk_strv *v, const cJSON *arr)
{
	const cJSON *it;
	int rc = 0;

	cJSON_ArrayForEach(it, arr)
		if (rc == 0 && cJSON_IsString(it) && *it->valuestring)
			rc = add_unique(v, it->valuestring);
	return rc;
}

static const char *deprecate_at_of(const bk_build_config *c)
{
	const char *at = cJSON_GetStringValue(builder_item(c, "deprecate_at"));

	return at && *at ? at : NULL;
}

bool bk_promote_wanted(const bk_build_config *c)
{
	return c->promote || c->ami_regions.count || c->ami_users.count || c->ami_groups.count ||
	       c->snapshot_users.count || c->snapshot_groups.count ||
	       cJSON_GetArraySize(builder_item(c, "ami_org_arns")) > 0 ||
	       cJSON_GetArraySize(builder_item(c, "ami_ou_arns")) > 0 || deprecate_at_of(c);
}

char *bk_promote_family(const bk_build_config *c)
{
	const char *f = cJSON_GetStringValue(promote_item(c, "family"));
	const char *path = c->template_path ? c->template_path : "bakeami";
	const char *base = strrchr(path, '/');
	size_t n;

	if (f && *f)
		return bk_strdup(f);
	base = base ? base + 1 : path;
	n = strlen(base);
	if (bk_str_ends(base, ".json"))
		n -= 5;
	return bk_strndup(base, n);
}

/* ==== checks at VALIDATE ================================================ */

static int check_kms_keys(const bk_build_config *c, const char *file)
{
	const cJSON *keys = builder_item(c, "region_kms_key_ids"), *it;

	if (!keys)
		return 0;
	if (!cJSON_IsObject(keys))
		return bk_err(BAKEAMI_EINVALID, "%s: builders[0].region_kms_key_ids: expected an "
			      "object of region: KMS key strings", file);
	cJSON_ArrayForEach(it, keys)
		if (!cJSON_IsString(it))
			return bk_err(BAKEAMI_EINVALID, "%s: builders[0].region_kms_key_ids.%s: "
				      "expected a string (\"\" for the region's default key)",
				      file, it->string);
	return 0;
}

/* Packer's format: "2006-01-02T15:04:05Z". */
static int check_deprecate_at(const bk_build_config *c, const char *file)
{
	const char *at = deprecate_at_of(c);
	struct tm tm = {0};
	const char *end;

	if (!at)
		return 0;
	end = strptime(at, "%Y-%m-%dT%H:%M:%SZ", &tm);
	if (!end || *end)
		return bk_err(BAKEAMI_EINVALID, "%s: builders[0].deprecate_at: \"%.40s\" is not "
			      "a UTC time like 2006-01-02T15:04:05Z", file, at);
	return 0;
}

int bk_promote_check(const bk_build_config *c, const char *file)
{
	long days = 0;
	int rc = check_kms_keys(c, file);

	if (rc == 0)
		rc = check_deprecate_at(c, file);
	if (rc == 0 && json_long(&days, promote_item(c, "deprecate_after_days")) &&
	    days > MAX_DEPRECATE_DAYS)
		rc = bk_err(BAKEAMI_EINVALID, "%s: promote.deprecate_after_days: at most %d "
			    "(EC2 deprecates at most ten years ahead), got %ld", file,
			    MAX_DEPRECATE_DAYS, days);
	return rc;
}

/* ==== console and journal, safe from the copy threads =================== */

static void say(promo *p, bakeami_event_kind kind, const char *fmt, ...) BK_PRINTF(3, 4);
static void say(promo *p, bakeami_event_kind kind, const char *fmt, ...)
{
	bk_buf msg = BK_BUF_INIT;
	va_list ap;

	va_start(ap, fmt);
	if (bk_buf_vprintf(&msg, fmt, ap) == 0) {
		pthread_mutex_lock(&p->mu);
		bk_emit(p->b, kind, 0, "%s", msg.ptr);
		pthread_mutex_unlock(&p->mu);
	}
	va_end(ap);
	bk_buf_free(&msg);
}

/* The logger of the copy regions' clients (their retries). */
static void locked_log(bk_log_level level, const char *msg, void *payload)
{
	promo *p = payload;
	bk_logger lg = bk_bake_logger(p->b);

	pthread_mutex_lock(&p->mu);
	lg.fn(level, msg, lg.payload);
	pthread_mutex_unlock(&p->mu);
}

/* Journal "us-west-2:ami-..." records: reap.c reads them back. */
static int journal(promo *p, int (*rec)(bk_journal *, const char *, const char *),
		   const char *region, const char *id)
{
	char *name = bk_sprintf("%s:%s", region, id);
	int rc;

	if (!name)
		return bk_err(BAKEAMI_ENOMEM, "out of memory");
	pthread_mutex_lock(&p->mu);
	rc = rec(p->b->journal, "image", name);
	pthread_mutex_unlock(&p->mu);
	free(name);
	return rc;
}

/* ==== the plan ========================================================== */

static int add_region(promo *p, const char *region, bool is_copy)
{
	region_ctx *r;

	for (size_t i = 0; i < p->n; i++)
		if (!strcmp(p->regions[i].region, region))
			return 0;
	if (!(r = realloc(p->regions, (p->n + 1) * sizeof(*r))))
		return bk_err(BAKEAMI_ENOMEM, "out of memory");
	p->regions = r;
	r = &p->regions[p->n];
	memset(r, 0, sizeof(*r));
	r->p = p;
	r->is_copy = is_copy;
	r->region = bk_strdup(region);
	p->n++;
	return r->region ? 0 : bk_err(BAKEAMI_ENOMEM, "out of memory");
}

/* The build region first, then Packer's ami_regions and promote.regions. */
static int plan_regions(promo *p, const bk_build_config *c)
{
	const cJSON *it;
	int rc = add_region(p, bk_aws_region(p->b->aws), false);

	if (rc == 0 && !(p->regions[0].image_id = bk_strdup(p->in->image_id)))
		rc = bk_err(BAKEAMI_ENOMEM, "out of memory");
	if (rc == 0 && p->in->snapshots)
		rc = add_strv(&p->regions[0].snapshots, p->in->snapshots);
	if (rc == 0 && p->in->existing) {
		p->regions[0].had_before = true;
		for (size_t i = 0; rc == 0 && p->in->current_tags && i < p->in->current_tags->count; i++)
			rc = bk_kv_set(&p->regions[0].tags_before, p->in->current_tags->keys[i],
				       p->in->current_tags->vals[i]);
	}
	for (size_t i = 0; rc == 0 && i < c->ami_regions.count; i++)
		rc = add_region(p, c->ami_regions.items[i], true);
	cJSON_ArrayForEach(it, promote_item(c, "regions"))
		if (rc == 0 && cJSON_IsString(it) && *it->valuestring)
			rc = add_region(p, it->valuestring, true);
	return rc;
}

static int plan_shares(promo *p, const bk_build_config *c)
{
	int rc = add_strv(&p->share.users, &c->ami_users);

	if (rc == 0)
		rc = add_json(&p->share.users, promote_item(c, "share_with"));
	if (rc == 0)
		rc = add_strv(&p->share.groups, &c->ami_groups);
	if (rc == 0)
		rc = add_json(&p->share.org_arns, builder_item(c, "ami_org_arns"));
	if (rc == 0)
		rc = add_json(&p->share.org_arns, promote_item(c, "share_with_org_arns"));
	if (rc == 0)
		rc = add_json(&p->share.ou_arns, builder_item(c, "ami_ou_arns"));
	if (rc == 0)
		rc = add_json(&p->share.ou_arns, promote_item(c, "share_with_ou_arns"));
	if (rc == 0)
		rc = add_strv(&p->snap_users, &c->snapshot_users);
	if (rc == 0)
		rc = add_strv(&p->snap_groups, &c->snapshot_groups);
	return rc;
}

/* promote.tags and the family tag; only with a promote block. */
static int plan_tags(promo *p, const bk_build_config *c)
{
	const cJSON *it;
	int rc = 0;

	if (!c->promote)
		return 0;
	cJSON_ArrayForEach(it, promote_item(c, "tags"))
		if (rc == 0 && cJSON_IsString(it))
			rc = bk_kv_set(&p->final_tags, it->string, it->valuestring);
	if (rc == 0 && !(p->family = bk_promote_family(c)))
		rc = bk_err(BAKEAMI_ENOMEM, "out of memory");
	if (rc == 0)
		rc = bk_kv_set(&p->final_tags, FAMILY_TAG, p->family);
	return rc;
}

static void plan_lifecycle(promo *p, const bk_build_config *c)
{
	long n = 0;

	if (json_long(&n, promote_item(c, "deprecate_after_days")))
		bk_iso8601(p->deprecate_at, bk_wall() + (double)n * 86400);
	else if (deprecate_at_of(c))
		snprintf(p->deprecate_at, sizeof(p->deprecate_at), "%s", deprecate_at_of(c));
	if (json_long(&n, promote_item(c, "keep_last")) && n > 0)
		p->keep_last = n;
	p->kms_keys = builder_item(c, "region_kms_key_ids");
	p->ssm_parameter = cJSON_GetStringValue(promote_item(c, "ssm_parameter"));
	if (p->ssm_parameter && !*p->ssm_parameter)
		p->ssm_parameter = NULL;
}

/* ==== the copy regions' clients ========================================= */

/* The bake's credentials and settings, signed for another region. */
static int region_client(promo *p, region_ctx *r)
{
	const bakeami_bake *b = p->b;
	const bk_build_config *c = b->cfg;
	const bk_aws_creds *cr;
	bk_aws_config ac = {0};
	int rc;

	ac.access_key_id = b->opts.access_key_id ? b->opts.access_key_id : c->access_key;
	ac.secret_access_key = b->opts.access_key_id ? b->opts.secret_access_key : c->secret_key;
	ac.session_token = b->opts.access_key_id ? b->opts.session_token : c->token;
	ac.profile = c->profile;
	ac.region = r->region;
	ac.cancel = &p->b->work_cancel;
	ac.log = (bk_logger){locked_log, p};
	if ((rc = bk_aws_new(&r->aws, &ac)) < 0)
		return bk_err_wrap(rc, "AWS client for %s", r->region);
	/* An assumed role's session differs per client: mask it too. */
	cr = bk_aws_credentials(r->aws);
	if ((rc = bk_add_secret(p->b, cr->secret_access_key)) == 0)
		rc = bk_add_secret(p->b, cr->session_token);
	return rc;
}

static int open_clients(promo *p)
{
	int rc = 0;

	p->regions[0].aws = p->b->aws;
	for (size_t i = 1; rc == 0 && i < p->n; i++)
		rc = region_client(p, &p->regions[i]);
	return rc;
}

/* ==== step 1: copies, one thread per region ============================= */

static int copy_available(bakeami_bake *b, void *arg)
{
	region_ctx *r = arg;
	bk_kv filters = BK_KV_INIT;
	bk_ec2_image_query q = {NULL, 0, NULL, 0, &filters};
	bk_ec2_images imgs = {0};
	int rc;

	(void)b;
	if (atomic_load(&r->p->failed)) {
		r->stopped = true;
		return bk_err(BAKEAMI_ECANCELLED, "stopped waiting: another copy failed");
	}
	/* A filter, not ImageId: a brand-new id may be unknown for a moment,
	 * which ImageId answers with an error and a filter with no image. */
	rc = bk_kv_add(&filters, "image-id", r->image_id);
	if (rc == 0)
		rc = bk_ec2_describe_images(&imgs, r->aws, r->region, &q);
	if (rc == 0 && imgs.count && imgs.items[0].state) {
		const char *state = imgs.items[0].state;
		if (!strcmp(state, "available")) {
			bk_strv_free(&r->snapshots);
			rc = add_strv(&r->snapshots, &imgs.items[0].snapshot_ids);
			rc = rc ? rc : 1;
		} else if (strcmp(state, "pending")) {
			rc = bk_err(BAKEAMI_EAWS, "the copy %s in %s is %s", r->image_id, r->region, state);
		}
	}
	bk_ec2_images_free(&imgs);
	bk_kv_free(&filters);
	return rc;
}

/* Encrypted with the region's key from region_kms_key_ids ("" = default). */
static void copy_request(promo *p, region_ctx *r, bk_ec2_copy_request *req, char token[64])
{
	const cJSON *key = p->kms_keys ? cJSON_GetObjectItemCaseSensitive(p->kms_keys, r->region)
				       : NULL;
	char purpose[48];

	snprintf(purpose, sizeof(purpose), "copy-%s", r->region);
	bk_client_token(token, p->b, purpose);
	req->source_image_id = p->regions[0].image_id;
	req->source_region = p->regions[0].region;
	req->name = p->in->name;
	req->description = p->in->description;
	req->encrypted = cJSON_IsString(key);
	req->kms_key_id = cJSON_GetStringValue(key);
	req->client_token = token;
}

/* CopyImage copies no tags: provenance goes on the copy and its snapshots. */
static int tag_copy(promo *p, region_ctx *r)
{
	const char *ids[1] = {r->image_id};
	char *of = bk_sprintf("%s:%s", p->regions[0].region, p->regions[0].image_id);
	bk_kv tags = BK_KV_INIT;
	int rc = of ? 0 : bk_err(BAKEAMI_ENOMEM, "out of memory");

	for (size_t i = 0; rc == 0 && p->in->copy_tags && i < p->in->copy_tags->count; i++)
		rc = bk_kv_set(&tags, p->in->copy_tags->keys[i], p->in->copy_tags->vals[i]);
	if (rc == 0)
		rc = bk_kv_set(&tags, COPY_OF_TAG, of);
	if (rc == 0)
		rc = bk_ec2_create_tags(r->aws, r->region, ids, 1, &tags);
	bk_kv_free(&tags);
	free(of);
	if (rc == 0 && r->snapshots.count)
		rc = bk_ec2_create_tags(r->aws, r->region, (const char *const *)r->snapshots.items,
					r->snapshots.count, p->in->copy_snapshot_tags);
	return rc;
}

/* A copy of our image made by an earlier run: reused, not copied again. */
static int adopt(promo *p, region_ctx *r, const bk_ec2_image *img)
{
	int rc = 0;

	if (!(r->image_id = bk_strdup(img->id)))
		return bk_err(BAKEAMI_ENOMEM, "out of memory");
	r->had_before = true;
	for (size_t i = 0; rc == 0 && i < img->tags.count; i++)
		rc = bk_kv_set(&r->tags_before, img->tags.keys[i], img->tags.vals[i]);
	say(p, BAKEAMI_EVENT_STEP, "%s in %s is already a copy of %s: reusing it", img->id,
	    r->region, p->regions[0].image_id);
	return rc;
}

/* Packer's force_deregister holds in every region the image goes to: a
 * same-named image of ours there goes first (with force_delete_snapshot,
 * its snapshots too), else EC2 refuses the copy's name. */
static int force_deregister(promo *p, region_ctx *r, const bk_ec2_image *old)
{
	say(p, BAKEAMI_EVENT_STEP, "force_deregister: deregistering %s (%s) in %s", old->id,
	    old->name, r->region);
	return bk_ec2_deregister_image_and_snapshots(r->aws, r->region, old,
						     p->b->cfg->force_delete_snapshot);
}

/* The region's images of the copy's name (unique per region in EC2). */
static int same_name(promo *p, region_ctx *r)
{
	const char *self[1] = {"self"};
	bk_kv filters = BK_KV_INIT;
	bk_ec2_image_query q = {NULL, 0, self, 1, &filters};
	bk_ec2_images imgs = {0};
	char *of = bk_sprintf("%s:%s", p->regions[0].region, p->regions[0].image_id);
	int rc = of ? bk_kv_add(&filters, "name", p->in->name) : BAKEAMI_ENOMEM;

	if (rc == 0)
		rc = bk_ec2_describe_images(&imgs, r->aws, r->region, &q);
	for (size_t i = 0; rc == 0 && i < imgs.count; i++) {
		const bk_ec2_image *img = &imgs.items[i];
		const char *copy_of = bk_kv_get(&img->tags, COPY_OF_TAG);
		if (!img->name || strcmp(img->name, p->in->name))
			continue;   /* the filter is a pattern: only the exact name counts */
		if (!r->image_id && copy_of && !strcmp(copy_of, of))
			rc = adopt(p, r, img);
		else if (p->b->cfg->force_deregister)
			rc = force_deregister(p, r, img);
	}
	bk_ec2_images_free(&imgs);
	bk_kv_free(&filters);
	free(of);
	return rc;
}

/* Wait for the copy, learning its snapshots. */
static int wait_copy(promo *p, region_ctx *r)
{
	char what[128];

	snprintf(what, sizeof(what), "the copy %s in %s to become available", r->image_id,
		 r->region);
	return bk_poll(p->b, p->b->cfg->image_timeout_s, what, copy_available, r,
		       &p->b->work_cancel);
}

static int copy_one(region_ctx *r)
{
	promo *p = r->p;
	bk_ec2_copy_request req = {0};
	char token[64];
	int rc;

	copy_request(p, r, &req, token);
	if ((rc = same_name(p, r)) < 0)
		return bk_err_wrap(rc, "images named like the copy in %s", r->region);
	if (r->had_before)
		return wait_copy(p, r);
	if ((rc = journal(p, bk_journal_intent, r->region, p->in->name)) < 0)
		return rc;
	/* Not cancellable: a copy asked for is a copy to undo, so its id must
	 * come back (a cancel mid-call would leave it unknown). Its retries are
	 * safe: the ClientToken makes them one copy. */
	bk_aws_set_cancel(r->aws, NULL);
	rc = bk_ec2_copy_image(&r->image_id, r->aws, r->region, &req);
	bk_aws_set_cancel(r->aws, &p->b->work_cancel);
	if (rc < 0)
		return bk_err_wrap(rc, "copying %s to %s", req.source_image_id, r->region);
	r->copied = true;
	if ((rc = journal(p, bk_journal_created, r->region, r->image_id)) < 0)
		return rc;
	say(p, BAKEAMI_EVENT_STEP, "copying %s to %s as %s%s", req.source_image_id, r->region,
	    r->image_id, req.encrypted ? " (encrypted)" : "");
	rc = wait_copy(p, r);
	if (rc == 0)
		rc = tag_copy(p, r);
	if (rc == 0)
		say(p, BAKEAMI_EVENT_STEP, "%s available in %s (%zu snapshot%s tagged)", r->image_id,
		    r->region, r->snapshots.count, r->snapshots.count == 1 ? "" : "s");
	return rc;
}

static void *copy_thread(void *arg)
{
	region_ctx *r = arg;

	r->rc = copy_one(r);
	if (r->rc < 0) {
		r->error = bk_strdup(bk_err_msg());
		atomic_store(&r->p->failed, 1);
	}
	return NULL;
}

/* The failure to report: a copy that failed, not one that stopped because of it. */
static int copy_failure(promo *p)
{
	const region_ctx *first = NULL;

	for (size_t i = 1; i < p->n; i++) {
		const region_ctx *r = &p->regions[i];
		if (r->rc < 0 && (!first || (first->stopped && !r->stopped)))
			first = r;
	}
	if (!first)
		return 0;
	return bk_err(first->rc, "%s", first->error ? first->error : bakeami_strerror(first->rc));
}

/* All copies at once: each waits in its own region, so the slowest sets
 * the pace, not the sum. */
static int step_copies(promo *p)
{
	int rc = 0;

	for (size_t i = 1; i < p->n; i++) {
		region_ctx *r = &p->regions[i];
		if (pthread_create(&r->thread, NULL, copy_thread, r) != 0) {
			rc = bk_err(BAKEAMI_ERROR, "cannot start the copy to %s", r->region);
			atomic_store(&p->failed, 1);
			break;
		}
		r->started = true;
	}
	for (size_t i = 1; i < p->n; i++) {
		if (p->regions[i].started)
			pthread_join(p->regions[i].thread, NULL);
		p->regions[i].started = false;
	}
	return rc < 0 ? rc : copy_failure(p);
}

/* ==== step 2: sharing =================================================== */

static bool has(const bk_strv *v, const char *s)
{
	for (size_t i = 0; i < v->count; i++)
		if (!strcmp(v->items[i], s))
			return true;
	return false;
}

/* to += what of from is not in have. */
static int add_missing(bk_strv *to, const bk_strv *from, const bk_strv *have)
{
	int rc = 0;

	for (size_t i = 0; rc == 0 && i < from->count; i++)
		if (!has(have, from->items[i]))
			rc = bk_strv_push(to, from->items[i]);
	return rc;
}

static int copy_perms(bk_ec2_perms *dst, const bk_ec2_perms *src, const bk_ec2_perms *skip)
{
	int rc = add_missing(&dst->users, &src->users, &skip->users);

	if (rc == 0)
		rc = add_missing(&dst->groups, &src->groups, &skip->groups);
	if (rc == 0)
		rc = add_missing(&dst->org_arns, &src->org_arns, &skip->org_arns);
	if (rc == 0)
		rc = add_missing(&dst->ou_arns, &src->ou_arns, &skip->ou_arns);
	return rc;
}

/* What to add: everything, except on an existing image what it already
 * has, so that a rollback never takes away a share made before this run. */
static int perms_to_add(promo *p, region_ctx *r, bk_ec2_perms *out)
{
	bk_ec2_perms have = {0};
	int rc = 0;

	if (r->had_before)
		rc = bk_ec2_describe_launch_permission(&have, r->aws, r->region, r->image_id);
	if (rc == 0)
		rc = copy_perms(out, &p->share, &have);
	bk_ec2_perms_free(&have);
	return rc;
}

static char *perms_text(const bk_ec2_perms *perm)
{
	const bk_strv *lists[] = {&perm->users, &perm->groups, &perm->org_arns, &perm->ou_arns};
	bk_buf out = BK_BUF_INIT;

	for (size_t k = 0; k < BK_ARRAY_SIZE(lists); k++)
		for (size_t i = 0; i < lists[k]->count; i++)
			bk_buf_printf(&out, "%s%s", out.len ? ", " : "", lists[k]->items[i]);
	return bk_buf_detach(&out);
}

/* What the snapshots lack; bakeami shares an image's snapshots together,
 * so the first one stands for all. */
static int snap_perms_to_add(promo *p, region_ctx *r)
{
	bk_strv users = BK_STRV_INIT, groups = BK_STRV_INIT;
	int rc = 0;

	if (r->had_before && r->snapshots.count)
		rc = bk_ec2_describe_volume_permission(&users, &groups, r->aws, r->region,
						       r->snapshots.items[0]);
	if (rc == 0)
		rc = add_missing(&r->snap_users, &p->snap_users, &users);
	if (rc == 0)
		rc = add_missing(&r->snap_groups, &p->snap_groups, &groups);
	bk_strv_free(&users);
	bk_strv_free(&groups);
	return rc;
}

/* The lists are filled before the calls: a half-done add is undone too. */
static int share_snapshots(promo *p, region_ctx *r)
{
	int rc = 0;

	if (!p->snap_users.count && !p->snap_groups.count)
		return 0;
	rc = snap_perms_to_add(p, r);
	for (size_t i = 0; rc == 0 && (r->snap_users.count || r->snap_groups.count) &&
			   i < r->snapshots.count; i++)
		rc = bk_ec2_volume_permission(r->aws, r->region, r->snapshots.items[i], true,
					      &r->snap_users, &r->snap_groups);
	return rc;
}

static int share_region(promo *p, region_ctx *r)
{
	int rc = perms_to_add(p, r, &r->added);
	char *who;

	if (rc == 0 && !bk_ec2_perms_empty(&r->added)) {
		rc = bk_ec2_launch_permission(r->aws, r->region, r->image_id, true, &r->added);
		if (rc == 0 && (who = perms_text(&r->added))) {
			say(p, BAKEAMI_EVENT_STEP, "shared %s in %s with %s", r->image_id, r->region, who);
			free(who);
		}
	}
	if (rc == 0)
		rc = share_snapshots(p, r);
	return rc;
}

static int step_shares(promo *p)
{
	int rc = 0;

	if (bk_ec2_perms_empty(&p->share) && !p->snap_users.count && !p->snap_groups.count)
		return 0;
	for (size_t i = 0; rc == 0 && i < p->n; i++)
		rc = share_region(p, &p->regions[i]);
	return rc;
}

/* ==== steps 3-5: deprecation, pointer, promotion tags =================== */

static int step_deprecation(promo *p)
{
	int rc = 0;

	for (size_t i = 0; rc == 0 && p->deprecate_at[0] && i < p->n; i++) {
		region_ctx *r = &p->regions[i];
		if (r->had_before &&
		    (rc = bk_ec2_image_deprecation_time(&r->deprecated_before, r->aws, r->region,
							r->image_id)) < 0)
			break;
		r->deprecated = true;
		rc = bk_ec2_image_deprecation(r->aws, r->region, r->image_id, p->deprecate_at);
		if (rc == 0)
			say(p, BAKEAMI_EVENT_STEP, "%s in %s deprecates at %s", r->image_id, r->region,
			    p->deprecate_at);
	}
	return rc;
}

/* Remember the old value first: the rollback puts it back. */
static int point_region(promo *p, region_ctx *r)
{
	const char *name = p->ssm_parameter;
	int rc = bk_ssm_get_parameter(&r->before, r->aws, r->region, name);

	if (rc == 0 && r->before.type && !strcmp(r->before.type, "SecureString"))
		rc = bk_err(BAKEAMI_EINVALID, "promote.ssm_parameter: %s in %s is a SecureString; "
			    "bakeami writes String parameters of data type aws:ec2:image", name,
			    r->region);
	if (rc < 0)
		return rc;
	r->pointed = true;
	rc = bk_ssm_put_parameter(r->aws, r->region, name, r->image_id, "String", "aws:ec2:image");
	if (rc == 0)
		say(p, BAKEAMI_EVENT_STEP, "SSM %s in %s: %s -> %s", name, r->region,
		    r->before.value ? r->before.value : "(new)", r->image_id);
	return rc;
}

static int step_pointer(promo *p)
{
	int rc = 0;

	for (size_t i = 0; rc == 0 && p->ssm_parameter && i < p->n; i++)
		rc = point_region(p, &p->regions[i]);
	return rc;
}

static char *tags_text(const bk_kv *tags)
{
	bk_buf out = BK_BUF_INIT;

	for (size_t i = 0; i < tags->count; i++)
		bk_buf_printf(&out, "%s%s=%s", i ? ", " : "", tags->keys[i], tags->vals[i]);
	return bk_buf_detach(&out);
}

/* The promotion tags the image lacks, and what they replace. */
static int tags_to_add(promo *p, region_ctx *r)
{
	const bk_kv *now = r->had_before ? &r->tags_before : NULL;
	int rc = 0;

	for (size_t i = 0; rc == 0 && i < p->final_tags.count; i++) {
		const char *k = p->final_tags.keys[i], *v = p->final_tags.vals[i];
		const char *old = now ? bk_kv_get(now, k) : NULL;
		if (old && !strcmp(old, v))
			continue;
		rc = bk_kv_set(&r->tags_added, k, v);
		if (rc == 0 && old)
			rc = bk_kv_set(&r->tags_replaced, k, old);
	}
	return rc;
}

static int tag_region(promo *p, region_ctx *r)
{
	const char *ids[1] = {r->image_id};
	char *text;
	int rc = tags_to_add(p, r);

	if (rc < 0 || !r->tags_added.count)
		return rc;
	rc = bk_ec2_create_tags(r->aws, r->region, ids, 1, &r->tags_added);
	if (rc == 0 && (text = tags_text(&r->tags_added))) {
		say(p, BAKEAMI_EVENT_STEP, "tagged %s in %s: %s", r->image_id, r->region, text);
		free(text);
	}
	return rc;
}

static int step_tags(promo *p)
{
	int rc = 0;

	for (size_t i = 0; rc == 0 && p->final_tags.count && i < p->n; i++)
		rc = tag_region(p, &p->regions[i]);
	return rc;
}

static int run_steps(promo *p)
{
	int (*const steps[])(promo *) = {step_copies, step_shares, step_deprecation, step_pointer,
					 step_tags};
	int rc = 0;

	for (size_t i = 0; rc == 0 && i < BK_ARRAY_SIZE(steps); i++) {
		if (bk_cancelled(&p->b->work_cancel))
			return bk_err(BAKEAMI_ECANCELLED, "cancelled");
		rc = steps[i](p);
	}
	return rc;
}

/* ==== rollback ========================================================== */

/* One undo: log it and list it, or list why it failed. */
static void undone(promo *p, int rc, const char *what)
{
	bakeami_bake *b = p->b;

	if (rc == 0) {
		bk_step(b, "rolled back: %s", what);
		bk_strv_push(&b->rolled_back, what);
		return;
	}
	char *why = bk_sprintf("%s: %s", what, bk_err_msg());
	bk_warn(b, "could not roll back %s", why ? why : what);
	if (why)
		bk_strv_push(&b->cleanup_failed, why);
	free(why);
}

static void undo_pointer(promo *p, region_ctx *r)
{
	const char *name = p->ssm_parameter;
	char *what;
	int rc;

	if (r->before.value)
		rc = bk_ssm_put_parameter(r->aws, r->region, name, r->before.value, r->before.type,
					  r->before.data_type);
	else
		rc = bk_ssm_delete_parameter(r->aws, r->region, name);
	what = r->before.value ? bk_sprintf("SSM %s in %s restored to %s", name, r->region,
					    r->before.value)
			       : bk_sprintf("SSM %s in %s deleted (it did not exist before)", name,
					    r->region);
	undone(p, rc, what ? what : name);
	free(what);
}

static void undo_tags(promo *p, region_ctx *r)
{
	const char *ids[1] = {r->image_id};
	char *what = bk_sprintf("promotion tags removed from %s in %s", r->image_id, r->region);
	int rc = bk_ec2_delete_tags(r->aws, r->region, ids, 1, &r->tags_added);

	if (rc == 0)
		rc = bk_ec2_create_tags(r->aws, r->region, ids, 1, &r->tags_replaced);
	undone(p, rc, what ? what : r->image_id);
	free(what);
}

static void undo_deprecation(promo *p, region_ctx *r)
{
	const char *before = r->deprecated_before;
	char *what = before ? bk_sprintf("deprecation of %s in %s back to %s", r->image_id,
					 r->region, before)
			    : bk_sprintf("deprecation of %s in %s cancelled", r->image_id, r->region);

	undone(p, bk_ec2_image_deprecation(r->aws, r->region, r->image_id, before),
	       what ? what : r->image_id);
	free(what);
}

static void undo_snapshot_shares(promo *p, region_ctx *r)
{
	for (size_t i = 0; i < r->snapshots.count; i++) {
		char *what = bk_sprintf("volume permissions on %s in %s removed",
					r->snapshots.items[i], r->region);
		undone(p, bk_ec2_volume_permission(r->aws, r->region, r->snapshots.items[i], false,
						   &r->snap_users, &r->snap_groups),
		       what ? what : r->snapshots.items[i]);
		free(what);
	}
}

static void undo_shares(promo *p, region_ctx *r)
{
	char *who = perms_text(&r->added);
	char *what = bk_sprintf("launch permissions on %s in %s removed (%s)", r->image_id,
				r->region, who ? who : "");

	undone(p, bk_ec2_launch_permission(r->aws, r->region, r->image_id, false, &r->added),
	       what ? what : r->image_id);
	free(who);
	free(what);
}

/* The tested image stays, with its own tags, less what this run gave it. */
static void undo_image(promo *p, region_ctx *r)
{
	if (r->tags_added.count)
		undo_tags(p, r);
	if (r->deprecated)
		undo_deprecation(p, r);
	if (r->snap_users.count || r->snap_groups.count)
		undo_snapshot_shares(p, r);
	if (!bk_ec2_perms_empty(&r->added))
		undo_shares(p, r);
}

/* A copy goes whole: deregistered, its snapshots deleted, the journal told. */
static void undo_copy(promo *p, region_ctx *r)
{
	bakeami_bake *b = p->b;
	bk_strv cleaned = BK_STRV_INIT, failed = BK_STRV_INIT;
	bk_reaper reaper = {b->aws, b->journal, bk_bake_logger(b), &cleaned, &failed,
			    bk_now() + ROLLBACK_DEADLINE_S};
	char *name = bk_sprintf("%s:%s", r->region, r->image_id);
	char *what = bk_sprintf("copy %s in %s deregistered, its snapshots deleted", r->image_id,
				r->region);
	int rc = name ? bk_reap(&reaper, "image", name) : BAKEAMI_ENOMEM;

	if (rc == 0 && failed.count)
		rc = bk_err(BAKEAMI_EAWS, "%s", failed.items[0]);
	undone(p, rc, what ? what : r->image_id);
	bk_strv_free(&cleaned);
	bk_strv_free(&failed);
	free(name);
	free(what);
}

/* Reverse order: pointers before images, so nothing points at a copy
 * while it goes; no cancel applies, only the deadline of each call. */
static void rollback(promo *p)
{
	bk_aws_set_cancel(p->b->aws, NULL);
	for (size_t i = p->n; i-- > 0;) {
		region_ctx *r = &p->regions[i];
		bk_aws_set_cancel(r->aws, NULL);
		if (r->pointed)
			undo_pointer(p, r);
		if (r->copied)
			undo_copy(p, r);
		else if (r->image_id)
			undo_image(p, r);
	}
	bk_aws_set_cancel(p->b->aws, &p->b->work_cancel);
}

/* ==== success: keep the copies, retire old images ======================= */

static int commit(promo *p)
{
	int rc = 0;

	for (size_t i = 1; rc == 0 && i < p->n; i++)
		if (p->regions[i].copied)
			rc = journal(p, bk_journal_kept, p->regions[i].region, p->regions[i].image_id);
	for (size_t i = 1; rc == 0 && i < p->n; i++)
		rc = bk_kv_set(&p->b->amis, p->regions[i].region, p->regions[i].image_id);
	return rc;
}

static void retire_image(promo *p, region_ctx *r, const bk_ec2_image *img, const bk_kv *in_use)
{
	const char *user = bk_kv_get(in_use, img->id);
	int rc;

	if (user) {
		bk_step(p->b, "keep_last: keeping %s (%s) in %s: instance %s uses it", img->id,
			img->name ? img->name : "", r->region, user);
		return;
	}
	rc = bk_ec2_deregister_image(r->aws, r->region, img->id);
	for (size_t i = 0; rc == 0 && i < img->snapshot_ids.count; i++)
		rc = bk_ec2_delete_snapshot(r->aws, r->region, img->snapshot_ids.items[i]);
	if (rc == 0)
		bk_step(p->b, "keep_last: retired %s (%s) in %s and %zu snapshot%s", img->id,
			img->name ? img->name : "", r->region, img->snapshot_ids.count,
			img->snapshot_ids.count == 1 ? "" : "s");
	else
		bk_warn(p->b, "keep_last: could not retire %s in %s: %s", img->id, r->region,
			bk_err_msg());
}

/* The family's images are newest first; the new one always stays and counts. */
static int retire_candidates(bk_strv *out, promo *p, region_ctx *r, const bk_ec2_images *imgs)
{
	long kept = 0;
	int rc = 0;

	for (size_t i = 0; rc == 0 && i < imgs->count; i++) {
		bool ours = !strcmp(imgs->items[i].id, r->image_id);
		if (ours || kept < p->keep_last)
			kept++;
		else
			rc = bk_strv_push(out, imgs->items[i].id);
	}
	return rc;
}

static int retire_region(promo *p, region_ctx *r)
{
	const char *self[1] = {"self"};
	bk_kv filters = BK_KV_INIT, in_use = BK_KV_INIT;
	bk_ec2_image_query q = {NULL, 0, self, 1, &filters};
	bk_ec2_images imgs = {0};
	bk_strv old = BK_STRV_INIT;
	int rc = bk_kv_add(&filters, "tag:" FAMILY_TAG, p->family);

	if (rc == 0)
		rc = bk_ec2_describe_images(&imgs, r->aws, r->region, &q);
	if (rc == 0)
		rc = retire_candidates(&old, p, r, &imgs);
	/* Never an image an instance still runs from (or could restart from). */
	if (rc == 0 && old.count)
		rc = bk_ec2_images_in_use(&in_use, r->aws, r->region,
					  (const char *const *)old.items, old.count);
	for (size_t i = 0; rc == 0 && i < imgs.count; i++)
		for (size_t j = 0; j < old.count; j++)
			if (!strcmp(old.items[j], imgs.items[i].id))
				retire_image(p, r, &imgs.items[i], &in_use);
	bk_strv_free(&old);
	bk_kv_free(&in_use);
	bk_kv_free(&filters);
	bk_ec2_images_free(&imgs);
	return rc;
}

/* Housekeeping after the promotion succeeded: a failure here is a
 * warning, never a rollback of a good promotion. */
static void retire_old(promo *p)
{
	for (size_t i = 0; p->keep_last > 0 && p->family && i < p->n; i++)
		if (retire_region(p, &p->regions[i]) < 0)
			bk_warn(p->b, "keep_last: could not retire old %s images in %s: %s", p->family,
				p->regions[i].region, bk_err_msg());
}

/* ==== the engine ======================================================== */

static int plan(promo *p)
{
	const bk_build_config *c = p->b->cfg;
	int rc = plan_regions(p, c);

	if (rc == 0)
		rc = plan_shares(p, c);
	if (rc == 0)
		rc = plan_tags(p, c);
	if (rc == 0)
		plan_lifecycle(p, c);
	return rc;
}

static void promo_free(promo *p)
{
	for (size_t i = 0; i < p->n; i++) {
		region_ctx *r = &p->regions[i];
		if (i > 0)
			bk_aws_free(r->aws);
		free(r->region);
		free(r->image_id);
		free(r->error);
		bk_strv_free(&r->snapshots);
		bk_ec2_perms_free(&r->added);
		bk_strv_free(&r->snap_users);
		bk_strv_free(&r->snap_groups);
		free(r->deprecated_before);
		bk_ssm_parameter_free(&r->before);
		bk_kv_free(&r->tags_added);
		bk_kv_free(&r->tags_replaced);
		bk_kv_free(&r->tags_before);
	}
	free(p->regions);
	bk_ec2_perms_free(&p->share);
	bk_strv_free(&p->snap_users);
	bk_strv_free(&p->snap_groups);
	bk_kv_free(&p->final_tags);
	free(p->family);
	pthread_mutex_destroy(&p->mu);
}

/* The message is kept before the rollback, whose calls set their own. */
static int fail(promo *p, int rc)
{
	char *why = bk_strdup(bk_err_msg());

	bk_warn(p->b, "promotion failed, rolling back: %s", why ? why : bakeami_strerror(rc));
	rollback(p);
	rc = bk_err(rc, "promotion failed: %s (rolled back: %zu change%s)",
		    why ? why : bakeami_strerror(rc), p->b->rolled_back.count,
		    p->b->rolled_back.count == 1 ? "" : "s");
	free(why);
	return rc;
}

static void report(promo *p)
{
	bk_buf where = BK_BUF_INIT;

	for (size_t i = 0; i < p->n; i++)
		bk_buf_printf(&where, "%s%s %s", i ? ", " : "", p->regions[i].region,
			      p->regions[i].image_id);
	bk_step(p->b, "promoted %s: %s", p->in->image_id, where.ptr ? where.ptr : "");
	bk_buf_free(&where);
}

int bk_promote(bakeami_bake *b, const bk_promo_input *in)
{
	promo p;
	int rc;

	memset(&p, 0, sizeof(p));
	p.b = b;
	p.in = in;
	pthread_mutex_init(&p.mu, NULL);
	atomic_init(&p.failed, 0);
	rc = plan(&p);
	if (rc == 0)
		rc = open_clients(&p);
	if (rc == 0)
		rc = run_steps(&p);
	if (rc == 0)
		rc = commit(&p);
	if (rc < 0) {
		rc = fail(&p, rc);
	} else {
		report(&p);
		retire_old(&p);
	}
	promo_free(&p);
	return rc;
}
