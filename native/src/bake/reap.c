/* reap.c - the ledger walked in reverse, and the resource kinds (reap.h);
 * the kinds of reversible changes are in undo.c. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../aws/s3.h"
#include "reap.h"
#include "undo.h"

/* ---- resource kinds ------------------------------------------------------ */

static int instance_gone(bk_reaper *r, const char *id)
{
	bk_ec2_instance inst = {0};
	int rc = bk_ec2_describe_instance(&inst, r->aws, id);
	int gone = rc == BAKEAMI_ENOTFOUND || (rc == 0 && !strcmp(inst.state, "terminated"));

	bk_ec2_instance_free(&inst);
	if (gone)
		return 1;
	return rc < 0 && rc != BAKEAMI_EAWS ? rc : 0;
}

/* Cleanup's own deadline bounds the wait; nothing cancels it. */
static int wait_terminated(bk_reaper *r, const char *id)
{
	bk_poll_opts po = {.deadline = r->deadline, .first_s = 0.25, .max_s = 15, .factor = 2};
	bk_poller wait;
	int rc;

	bk_poller_start(&wait, &po);
	while ((rc = instance_gone(r, id)) == 0)
		if (bk_poller_wait(&wait) != 0)
			return bk_err(BAKEAMI_ETIMEOUT, "instance %s not terminated before the cleanup deadline", id);
	return rc < 0 ? rc : 0;
}

/* Our group outlives the instance in EC2's eyes (DependencyViolation until
 * it is gone), so when one is still to be deleted its retries are the wait. */
static bool group_to_delete(const bk_reaper *r)
{
	const bk_ledger *l = r->journal ? bk_journal_ledger(r->journal) : NULL;

	for (size_t i = 0; l && i < l->count; i++)
		if (l->items[i].state == BK_CREATED && !strcmp(l->items[i].kind, "security-group"))
			return true;
	return false;
}

/* One already shutting down (ENOTFOUND) is still waited for: what comes
 * after it (its group, its volumes) needs it terminated. */
static int undo_instance(bk_reaper *r, const bk_entry *e)
{
	int rc = bk_ec2_terminate_instance(r->aws, e->id), w;

	if ((rc != 0 && rc != BAKEAMI_ENOTFOUND) || group_to_delete(r))
		return rc;
	w = wait_terminated(r, e->id);
	return w < 0 ? w : rc;
}

/* 1 once the volume can be deleted (detached), BAKEAMI_ENOTFOUND when it is
 * gone or going, 0 while an instance still holds it. */
static int volume_free(bk_reaper *r, const char *id)
{
	char *state = NULL;
	int rc = bk_ec2_volume_state(&state, r->aws, id);

	if (rc == 0 && !strcmp(state, "deleting"))
		rc = bk_err(BAKEAMI_ENOTFOUND, "volume %s: already being deleted", id);
	else if (rc == 0)
		rc = strcmp(state, "in-use") != 0;
	free(state);
	return rc;
}

/* A volume our run tagged that does not go with its instance (found by the
 * sweep): once its instance has let go of it, within the deadline. */
static int undo_volume(bk_reaper *r, const bk_entry *e)
{
	bk_poll_opts po = {.deadline = r->deadline, .first_s = 0.25, .max_s = 15, .factor = 2};
	bk_poller wait;
	int rc;

	bk_poller_start(&wait, &po);
	while ((rc = volume_free(r, e->id)) == 0)
		if (bk_poller_wait(&wait) != 0)
			return bk_err(BAKEAMI_ETIMEOUT, "volume %s still in use at the cleanup "
				      "deadline", e->id);
	return rc < 0 ? rc : bk_ec2_delete_volume(r->aws, e->id);
}

static int undo_security_group(bk_reaper *r, const bk_entry *e)
{
	return bk_ec2_delete_security_group(r->aws, e->id, r->deadline);
}

static int undo_key_pair(bk_reaper *r, const bk_entry *e)
{
	return bk_ec2_delete_key_pair(r->aws, e->id);
}

static int undo_launch_template(bk_reaper *r, const bk_entry *e)
{
	return bk_ec2_delete_launch_template(r->aws, e->id);
}

static int undo_fleet(bk_reaper *r, const bk_entry *e)
{
	return bk_ec2_delete_fleet(r->aws, e->id);
}

static int undo_snapshot(bk_reaper *r, const bk_entry *e)
{
	return bk_ec2_delete_snapshot(r->aws, e->region, e->id);
}

static char *describe_resource(const bk_reaper *r, const bk_entry *e)
{
	(void)r;
	return e->region ? bk_sprintf("%s %s in %s", e->kind, e->id, e->region)
			 : bk_sprintf("%s %s", e->kind, e->id);
}

/* An image of the intent's name in its region, ours, made since the intent
 * (a few minutes' slack for the clocks): names are unique per region. */
static bool made_since(const bk_ec2_image *img, const char *at)
{
	struct tm a = {0}, c = {0};

	if (!at || !img->creation_date || !strptime(at, "%Y-%m-%dT%H:%M:%S", &a) ||
	    !strptime(img->creation_date, "%Y-%m-%dT%H:%M:%S", &c))
		return false;
	return timegm(&c) >= timegm(&a) - 300;
}

/* Ours: CreateImage tags our run id on create. A copy carries no tags
 * until we tag it (CopyImage keeps none), so an untagged one of the name,
 * made since, is ours too; one tagged with another run id never is. */
static bool image_is_ours(const bk_ec2_image *img, const char *run_id)
{
	const char *theirs = bk_kv_get(&img->tags, "bakeami:run-id");

	return !theirs || (run_id && !strcmp(theirs, run_id));
}

static const char *run_id_of(const bk_reaper *r)
{
	return r->journal ? bk_journal_ledger(r->journal)->run_id : NULL;
}

static int find_image(bk_reaper *r, const bk_entry *e, char **id)
{
	bk_ec2_images imgs = {0};
	int rc = bk_ec2_describe_images_named(&imgs, r->aws, e->region, e->name);

	*id = NULL;
	for (size_t i = 0; rc == 0 && !*id && i < imgs.count; i++) {
		const bk_ec2_image *img = &imgs.items[i];
		if (!made_since(img, e->at))
			continue;
		if (!image_is_ours(img, run_id_of(r)))
			bk_logf(&r->log, BK_LOG_WARN, "image %s is named %s as the journal intended, "
				"but its %s tag is %s, not %s: not this run's, left alone", img->id,
				e->name, "bakeami:run-id", bk_kv_get(&img->tags, "bakeami:run-id"),
				run_id_of(r) ? run_id_of(r) : "?");
		else if (!(*id = bk_strdup(img->id)))
			rc = bk_oom();
	}
	bk_ec2_images_free(&imgs);
	return rc;
}

/* A temporary resource whose create call was cut short (a kill, a cancel
 * while the answer was on its way): found by our run-id tag, which every
 * create puts on at once, unless the ledger has it already. A key pair's
 * intent names it; the run's other kinds have one in flight at a time. */
static int find_tagged(bk_reaper *r, const bk_entry *e, char **id)
{
	const bk_ledger *l = bk_journal_ledger(r->journal);
	bk_ec2_tagged_list found = {0};
	int rc = l->run_id ? bk_ec2_find_tagged(&found, r->aws, e->region, l->run_id) : 0;

	*id = NULL;
	for (size_t i = 0; rc == 0 && !*id && i < found.count; i++) {
		const bk_ec2_tagged *t = &found.items[i];
		if (strcmp(t->type, e->kind) || (t->state && !strcmp(t->state, "terminated")) ||
		    (!strcmp(e->kind, "key-pair") && e->name && strcmp(t->id, e->name)) ||
		    bk_ledger_knows(l, e->kind, e->region, t->id))
			continue;
		if (!(*id = bk_strdup(t->id)))
			rc = bk_oom();
	}
	bk_ec2_tagged_free(&found);
	return rc;
}

/* A rollback removes only copies: the tested image is kept before it. */
static char *describe_image(const bk_reaper *r, const bk_entry *e)
{
	if (r->rolled_back)
		return bk_sprintf("copy %s in %s deregistered, its snapshots deleted", e->id,
				  e->region ? e->region : "the build region");
	return describe_resource(r, e);
}

static bool is_child(const bk_entry *c, const bk_entry *img)
{
	return bk_entry_live(c) && c->parent && !strcmp(c->kind, "snapshot") &&
	       !strcmp(c->parent, img->id) &&
	       (c->region == img->region || (c->region && img->region && !strcmp(c->region, img->region)));
}

static int delete_children(bk_reaper *r, const bk_entry *img);
static int delete_found_snapshots(bk_reaper *r, const bk_entry *img, const bk_strv *found);

/* The snapshots an image's ledger does not list yet (killed before it was
 * available): found with DescribeImages. */
static int image_snapshots(bk_strv *out, bk_reaper *r, const bk_entry *e)
{
	const char *ids[1] = {e->id};
	bk_ec2_image_query q = {ids, 1, NULL, 0, NULL, false};
	bk_ec2_images imgs = {0};
	int rc = bk_ec2_describe_images(&imgs, r->aws, e->region, &q);

	if (rc == BAKEAMI_ENOTFOUND)
		return 0;
	for (size_t i = 0; rc == 0 && imgs.count && i < imgs.items[0].snapshot_ids.count; i++)
		rc = bk_strv_push(out, imgs.items[0].snapshot_ids.items[i]);
	bk_ec2_images_free(&imgs);
	return rc;
}

static bool has_children(const bk_reaper *r, const bk_entry *img)
{
	const bk_ledger *l = r->journal ? bk_journal_ledger(r->journal) : NULL;

	for (size_t i = 0; l && i < l->count; i++)
		if (is_child(&l->items[i], img))
			return true;
	return false;
}

/* Deregister first: EC2 refuses to delete a snapshot an image still uses. */
static int undo_image(bk_reaper *r, const bk_entry *e)
{
	bk_strv found = BK_STRV_INIT;
	bool known = has_children(r, e);
	int rc = known ? 0 : image_snapshots(&found, r, e);

	if (rc == 0)
		rc = bk_ec2_deregister_image(r->aws, e->region, e->id);
	/* An image already gone may have left its snapshots: they still go. */
	if (rc == 0 || rc == BAKEAMI_ENOTFOUND) {
		int c = known ? delete_children(r, e) : delete_found_snapshots(r, e, &found);
		rc = c < 0 ? c : rc;
	}
	bk_strv_free(&found);
	return rc;
}

/* amazon-instance's bundle, "<bucket>/<prefix>": its objects are
 * <prefix>.manifest.xml and <prefix>.part.NN. */
static int bundle_parts(char **bucket, char **prefix, const char *id)
{
	const char *slash = id ? strchr(id, '/') : NULL;

	*bucket = *prefix = NULL;
	if (!slash)
		return bk_err(BAKEAMI_EINVALID, "s3-bundle %s: expected <bucket>/<prefix>",
			      id ? id : "(none)");
	if (!(*bucket = bk_strndup(id, (size_t)(slash - id))) ||
	    !(*prefix = bk_sprintf("%s.", slash + 1))) {
		free(*bucket);
		return bk_oom();
	}
	return 0;
}

static int undo_bundle(bk_reaper *r, const bk_entry *e)
{
	char *bucket, *prefix;
	size_t n = 0;
	int rc = bundle_parts(&bucket, &prefix, e->id);

	if (rc == 0)
		rc = bk_s3_delete_prefix(&n, r->aws, e->region, bucket, prefix);
	if (rc == 0 && n)
		bk_logf(&r->log, BK_LOG_INFO, "s3://%s/%s*: %zu object%s deleted", bucket, prefix,
			n, n == 1 ? "" : "s");
	else if (rc == 0)
		rc = bk_err(BAKEAMI_ENOTFOUND, "s3://%s/%s*: no objects", bucket, prefix);
	free(bucket);
	free(prefix);
	return rc;
}

static char *describe_bundle(const bk_reaper *r, const bk_entry *e)
{
	(void)r;
	return bk_sprintf("s3-bundle s3://%s.*", e->id);
}

/* A kill during the upload: whatever objects the intent's prefix has. */
static int find_bundle(bk_reaper *r, const bk_entry *e, char **id)
{
	bk_strv keys = BK_STRV_INIT;
	char *bucket, *prefix;
	int rc = bundle_parts(&bucket, &prefix, e->name);

	*id = NULL;
	if (rc == 0)
		rc = bk_s3_list(&keys, r->aws, e->region, bucket, prefix);
	if (rc == BAKEAMI_ENOTFOUND)
		rc = 0;
	if (rc == 0 && keys.count && !(*id = bk_strdup(e->name)))
		rc = bk_oom();
	bk_strv_free(&keys);
	free(bucket);
	free(prefix);
	return rc;
}

/* In reverse order of creation: the tag sweep goes in this order. */
static const bk_kind kinds[] = {
	{"fleet", false, false, undo_fleet, describe_resource, NULL},
	{"instance", false, true, undo_instance, describe_resource, find_tagged},
	/* never journalled: the instance's, swept by tag once it let go */
	{"volume", false, true, undo_volume, describe_resource, NULL},
	{"security-group", false, true, undo_security_group, describe_resource, find_tagged},
	{"key-pair", false, true, undo_key_pair, describe_resource, find_tagged},
	{"launch-template", false, false, undo_launch_template, describe_resource, NULL},
	{"image", false, false, undo_image, describe_image, find_image},
	{"snapshot", false, false, undo_snapshot, describe_resource, NULL},
	{"s3-bundle", false, false, undo_bundle, describe_bundle, find_bundle},
	/* a temporary instance profile, made in this order before the instance */
	{"instance-profile-role", true, false, bk_undo_instance_profile_role, bk_describe_iam, NULL},
	{"instance-profile", false, false, bk_undo_instance_profile, bk_describe_iam,
	 bk_find_instance_profile},
	{"iam-role-policy", true, false, bk_undo_iam_role_policy, bk_describe_iam, NULL},
	{"iam-role", false, false, bk_undo_iam_role, bk_describe_iam, bk_find_iam_role},
	{"launch-permission", true, false, bk_undo_launch_permission,
	 bk_describe_launch_permission, NULL},
	{"volume-permission", true, false, bk_undo_volume_permission,
	 bk_describe_volume_permission, NULL},
	{"tags", true, false, bk_undo_tags, bk_describe_tags, NULL},
	{"deprecation", true, false, bk_undo_deprecation, bk_describe_deprecation, NULL},
	{"ssm-parameter", true, false, bk_undo_ssm_parameter, bk_describe_ssm_parameter, NULL},
};

const bk_kind *bk_kinds(size_t *count)
{
	*count = BK_ARRAY_SIZE(kinds);
	return kinds;
}

const bk_kind *bk_kind_of(const bk_reaper *r, const char *name)
{
	size_t n = r->kinds ? r->kinds_count : BK_ARRAY_SIZE(kinds);
	const bk_kind *k = r->kinds ? r->kinds : kinds;

	for (size_t i = 0; i < n; i++)
		if (!strcmp(k[i].name, name))
			return &k[i];
	return NULL;
}

/* ---- the walk -------------------------------------------------------------- */

/* A delete that failed (or was cut short) earlier in the run and has now
 * been done is no failure: the summary lists what is left undone. True
 * when there was one. */
static bool forget_failure(bk_strv *failed, const char *what)
{
	size_t n = strlen(what), kept = 0, before = failed ? failed->count : 0;

	for (size_t i = 0; failed && i < failed->count; i++) {
		char *f = failed->items[i];
		if (!strncmp(f, what, n) && f[n] == ':')
			free(f);
		else
			failed->items[kept++] = f;
	}
	if (failed && failed->items) {
		failed->count = kept;
		failed->items[kept] = NULL;
	}
	return failed && kept < before;
}

/* Where a done undo is listed: gone apart from what this cleanup did. */
static bk_strv *done_list(const bk_reaper *r, bool gone)
{
	if (gone && r->gone)
		return r->gone;
	return r->rolled_back ? r->rolled_back : r->cleaned;
}

/* Log it and list it, or list why it failed; journal it as deleted (gone
 * or deleted, it is settled). */
static int report(bk_reaper *r, const bk_kind *k, const bk_entry *e, long n, int rc)
{
	char *what = k->describe(r, e);
	const char *w = what ? what : e->kind;
	bool gone = rc == BAKEAMI_ENOTFOUND;

	if (gone) {
		bk_err_clear();
		rc = 0;
	}
	if (rc == 0 && n >= 0 && r->journal)
		rc = bk_journal_set(r->journal, (size_t)n, BK_DELETED, NULL);
	/* Gone after our own earlier try failed or was cut short (a cancel
	 * while its answer was on the way): that try most likely did it. */
	if (rc == 0 && forget_failure(r->failed, w))
		gone = false;
	if (rc == 0) {
		bk_logf(&r->log, BK_LOG_INFO, gone ? "already gone: %s" : r->rolled_back ||
			k->change ? "rolled back: %s" : "deleted %s", w);
		bk_strv_push(done_list(r, gone), w);
	} else {
		char *why = bk_sprintf("%s: %s", w, bk_err_msg());
		bk_logf(&r->log, r->rolled_back ? BK_LOG_WARN : BK_LOG_ERROR, r->rolled_back
			? "could not roll back %s" : "could not delete %s", why ? why : w);
		if (why)
			bk_strv_push(r->failed, why);
		free(why);
	}
	free(what);
	return rc;
}

/* Gone already is undone too (cleanup is idempotent), and said so. */
static int undo_one(bk_reaper *r, const bk_entry *e, long n)
{
	const bk_kind *k = bk_kind_of(r, e->kind);

	if (!k)
		return bk_err(BAKEAMI_EINVALID, "unknown resource kind %s", e->kind);
	return report(r, k, e, n, k->undo(r, e));
}

/* An entry to undo: created, or a change that may have been made. A
 * snapshot whose image is still to go goes with it, after it; one of a
 * kept image stays with it. */
static bool to_undo(const bk_reaper *r, const bk_ledger *l, size_t i)
{
	const bk_entry *e = &l->items[i];
	const bk_kind *k = bk_kind_of(r, e->kind);

	bool found = r->find_intended && k && k->find && e->name;

	if (!(e->state == BK_CREATED || (e->state == BK_INTENDED && k && (k->change || found))))
		return false;
	for (size_t p = 0; e->parent && !strcmp(e->kind, "snapshot") && p < l->count; p++)
		if ((l->items[p].state == BK_CREATED || l->items[p].state == BK_KEPT) &&
		    !strcmp(l->items[p].kind, "image") && is_child(e, &l->items[p]))
			return false;
	return true;
}

/* Entries are copied out of the ledger: an undo adds journal lines, and
 * the ledger's array may move. */
static int undo_copy_of(bk_reaper *r, size_t n)
{
	const bk_ledger *l = bk_journal_ledger(r->journal);
	bk_entry_spec s = {l->items[n].kind, l->items[n].id, l->items[n].name,
			   l->items[n].region, l->items[n].parent, &l->items[n].undo};
	bk_entry copy = {0};
	int rc;

	copy.state = l->items[n].state;
	if (!(copy.kind = bk_strdup(s.kind)) || (s.id && !(copy.id = bk_strdup(s.id))) ||
	    (s.region && !(copy.region = bk_strdup(s.region))) ||
	    (s.parent && !(copy.parent = bk_strdup(s.parent))))
		rc = bk_oom();
	else
		rc = 0;
	for (size_t i = 0; rc == 0 && i < s.undo->count; i++)
		rc = bk_kv_add(&copy.undo, s.undo->keys[i], s.undo->vals[i]);
	if (rc == 0)
		rc = undo_one(r, &copy, (long)n);
	free(copy.kind);
	free(copy.id);
	free(copy.region);
	free(copy.parent);
	bk_kv_free(&copy.undo);
	return rc;
}

size_t bk_unwind_count(const bk_reaper *r, size_t from)
{
	const bk_ledger *l = r->journal ? bk_journal_ledger(r->journal) : NULL;
	size_t n = 0;

	for (size_t i = from; l && i < l->count; i++)
		n += to_undo(r, l, i);
	return n;
}

/* An intended resource: what its create call made, if anything, becomes
 * its id; nothing made, it is settled as gone. 1: there is one to undo. */
static int find_intended(bk_reaper *r, size_t n)
{
	const bk_entry *e = &bk_journal_ledger(r->journal)->items[n];
	const bk_kind *k = bk_kind_of(r, e->kind);
	char *id = NULL;
	int rc;

	if (e->state != BK_INTENDED || k->change)
		return 1;
	if ((rc = k->find(r, e, &id)) < 0) {
		bk_logf(&r->log, BK_LOG_ERROR, "could not look for the %s named %s: %s", e->kind,
			e->name, bk_err_msg());
		return rc;
	}
	if (id)
		bk_logf(&r->log, BK_LOG_INFO, "found %s %s, named %s as its journal intended", e->kind,
			id, e->name);
	rc = bk_journal_set(r->journal, n, id ? BK_CREATED : BK_DELETED, id);
	free(id);
	return rc < 0 ? rc : id != NULL;
}

int bk_unwind(bk_reaper *r, size_t from)
{
	int rc = 0, live;

	if (!r->journal)
		return 0;
	for (size_t i = bk_journal_ledger(r->journal)->count; i-- > from;) {
		if (!to_undo(r, bk_journal_ledger(r->journal), i))
			continue;
		if ((live = find_intended(r, i)) < 0 || (live && undo_copy_of(r, i) < 0))
			rc = BAKEAMI_ERROR;
	}
	return rc;
}

int bk_reap_entry(bk_reaper *r, size_t n)
{
	if (!r->journal || n >= bk_journal_ledger(r->journal)->count ||
	    !bk_entry_live(&bk_journal_ledger(r->journal)->items[n]))
		return 0;
	return undo_copy_of(r, n);
}

int bk_reap(bk_reaper *r, const char *kind, const char *id)
{
	long n = r->journal ? bk_ledger_find(bk_journal_ledger(r->journal), kind, NULL, id) : -1;

	return n < 0 ? bk_reap_found(r, kind, id) : bk_reap_entry(r, (size_t)n);
}

int bk_reap_found(bk_reaper *r, const char *kind, const char *id)
{
	bk_entry_spec s = {.kind = kind, .id = id};
	bk_entry e = {(char *)kind, (char *)id, NULL, NULL, NULL, BK_CREATED, BK_KV_INIT, NULL};
	size_t n;
	int rc;

	if (!r->journal)
		return undo_one(r, &e, -1);
	if ((rc = bk_journal_add(r->journal, &n, &s, BK_CREATED)) < 0)
		return rc;
	return bk_reap_entry(r, n);
}

/* ---- an image's snapshots ------------------------------------------------ */

static int delete_children(bk_reaper *r, const bk_entry *img)
{
	const bk_ledger *l = bk_journal_ledger(r->journal);
	int rc = 0;

	for (size_t i = 0; i < l->count; i++)
		if (is_child(&l->items[i], img) && undo_copy_of(r, i) < 0)
			rc = BAKEAMI_ERROR;
	return rc < 0 ? bk_err(rc, "some snapshots of %s could not be deleted", img->id) : 0;
}

static int delete_found_snapshots(bk_reaper *r, const bk_entry *img, const bk_strv *found)
{
	int rc = 0;

	for (size_t i = 0; i < found->count; i++) {
		bk_entry e = {"snapshot", found->items[i], NULL, img->region, img->id, BK_CREATED,
			      BK_KV_INIT, NULL};
		if (undo_one(r, &e, -1) < 0)
			rc = BAKEAMI_ERROR;
	}
	return rc < 0 ? bk_err(rc, "some snapshots of %s could not be deleted", img->id) : 0;
}

int bk_ledger_live_ids(bk_strv *out, const bk_ledger *l, size_t from)
{
	int rc = 0;

	for (size_t i = l->count; rc == 0 && i-- > from;)
		if (l->items[i].state == BK_CREATED && l->items[i].id &&
		    strcmp(l->items[i].kind, "snapshot"))
			rc = bk_strv_push(out, l->items[i].id);
	return rc;
}
