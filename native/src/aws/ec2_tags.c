/*
 * ec2_tags.c - CreateTags, and finding what bakes left behind by their
 * bakeami:run-id tag (for `bakeami cleanup --run-id` and `--stale`).
 */
#include <stdlib.h>
#include <string.h>

#include "ec2_int.h"

#define TAG_RUN_ID "bakeami:run-id"
#define TAG_EXPIRES "bakeami:expires"
/* EC2 takes at most 200 values per filter. */
#define FILTER_CHUNK 200

/* CreateTags and DeleteTags take the same parameters. */
static int tags_call(bk_aws *aws, const char *region, const char *action,
		     const char *const *resource_ids, size_t count, const bk_kv *tags)
{
	bk_params p = BK_KV_INIT;
	xmlDocPtr doc = NULL;
	int rc;

	if (!tags || tags->count == 0 || count == 0)
		return 0;
	rc = bk_ec2__list(&p, "ResourceId", resource_ids, count);
	if (rc == 0)
		rc = bk_ec2__tags(&p, "", tags);
	if (rc == 0)
		rc = bk_ec2__call(&doc, aws, region, action, &p, NULL);
	xmlFreeDoc(doc);
	bk_kv_free(&p);
	return rc;
}

int bk_ec2_create_tags(bk_aws *aws, const char *region, const char *const *resource_ids,
		       size_t count, const bk_kv *tags)
{
	return tags_call(aws, region, "CreateTags", resource_ids, count, tags);
}

int bk_ec2_delete_tags(bk_aws *aws, const char *region, const char *const *resource_ids,
		       size_t count, const bk_kv *tags)
{
	return tags_call(aws, region, "DeleteTags", resource_ids, count, tags);
}

static void tagged_clear(bk_ec2_tagged *t)
{
	free(t->type);
	free(t->id);
	free(t->run_id);
	free(t->expires);
	free(t->state);
	memset(t, 0, sizeof(*t));
}

void bk_ec2_tagged_free(bk_ec2_tagged_list *l)
{
	if (!l)
		return;
	for (size_t i = 0; i < l->count; i++)
		tagged_clear(&l->items[i]);
	free(l->items);
	l->items = NULL;
	l->count = 0;
}

/* ---- the tag sweep ------------------------------------------------------------ */

static int list_push(bk_ec2_tagged_list *l, const char *type, const char *id, const char *run_id)
{
	bk_ec2_tagged *items = realloc(l->items, (l->count + 1) * sizeof(*items));
	bk_ec2_tagged t = {bk_strdup(type), bk_strdup(id), bk_strdup(run_id), NULL, NULL};

	if (items)
		l->items = items;
	if (!items || !t.type || !t.id || !t.run_id) {
		tagged_clear(&t);
		return bk_oom();
	}
	l->items[l->count++] = t;
	return 0;
}

static bk_ec2_tagged *find_entry(bk_ec2_tagged_list *l, const char *id)
{
	for (size_t i = 0; i < l->count; i++)
		if (strcmp(l->items[i].id, id) == 0)
			return &l->items[i];
	return NULL;
}

/* Fill *slot with a copy of val (replacing). */
static int set_str(char **slot, const char *val)
{
	char *c = bk_strdup(val);

	if (!c)
		return bk_oom();
	free(*slot);
	*slot = c;
	return 0;
}

static int tags_params(bk_params *p, const char *next_token)
{
	static const char *const keys[] = {TAG_RUN_ID, TAG_EXPIRES};
	static const char *const types[] = {"instance", "volume", "key-pair", "security-group",
					    "image", "snapshot"};
	int rc = bk_ec2__filter(p, 1, "key", keys, BK_ARRAY_SIZE(keys));

	if (rc == 0)
		rc = bk_ec2__filter(p, 2, "resource-type", types, BK_ARRAY_SIZE(types));
	if (rc == 0)
		rc = bk_params_add(p, "MaxResults", "1000");
	if (rc == 0 && next_token)
		rc = bk_params_add(p, "NextToken", next_token);
	return rc;
}

/* One tag row: a run-id tag adds a resource, an expires tag is kept aside
 * (its resource may come on a later page). */
static int take_tag(bk_ec2_tagged_list *l, bk_kv *expiries, xmlNodePtr item, const char *run_id)
{
	char *id = bk_xml_child_text(item, "resourceId");
	char *type = bk_xml_child_text(item, "resourceType");
	char *key = bk_xml_child_text(item, "key");
	char *val = bk_xml_child_text(item, "value");
	int rc = 0;

	if (!id || !type || !key || !val)
		rc = 0;   /* a row we cannot use */
	else if (strcmp(key, TAG_RUN_ID) == 0 && (!run_id || strcmp(val, run_id) == 0))
		rc = find_entry(l, id) ? 0 : list_push(l, type, id, val);
	else if (strcmp(key, TAG_EXPIRES) == 0)
		rc = bk_kv_set(expiries, id, val);
	free(id);
	free(type);
	free(key);
	free(val);
	return rc;
}

static int take_page(bk_ec2_tagged_list *l, bk_kv *expiries, xmlDocPtr doc, const char *run_id)
{
	int rc = 0;

	for (xmlNodePtr it = bk_ec2__first_item(xmlDocGetRootElement(doc), "tagSet");
	     it && rc == 0; it = bk_ec2__next_item(it))
		rc = take_tag(l, expiries, it, run_id);
	return rc;
}

/* A non-empty nextToken of the page, or NULL. */
static int next_token(char **out, xmlDocPtr doc)
{
	int rc = bk_ec2__text(out, xmlDocGetRootElement(doc), "nextToken", false);

	if (*out && !**out) {
		free(*out);
		*out = NULL;
	}
	return rc;
}

/* DescribeTags for both bakeami tags on our resource types, every page. */
static int sweep_tags(bk_ec2_tagged_list *l, bk_kv *expiries, bk_aws *aws, const char *region,
		      const char *run_id)
{
	char *next = NULL;
	int rc = 0;

	do {
		bk_params p = BK_KV_INIT;
		xmlDocPtr doc = NULL;
		rc = tags_params(&p, next);
		free(next);
		next = NULL;
		if (rc == 0)
			rc = bk_ec2__call(&doc, aws, region, "DescribeTags", &p, NULL);
		if (rc == 0)
			rc = take_page(l, expiries, doc, run_id);
		if (rc == 0)
			rc = next_token(&next, doc);
		xmlFreeDoc(doc);
		bk_kv_free(&p);
	} while (rc == 0 && next);
	free(next);
	return rc;
}

/* ---- details per type ----------------------------------------------------------- */

/* The volumes of a live instance that go with it (DeleteOnTermination):
 * volume id -> "with-instance". */
static int mark_volumes(bk_kv *acc, xmlNodePtr inst, const char *state)
{
	int rc = 0;

	for (xmlNodePtr m = bk_ec2__first_item(inst, "blockDeviceMapping");
	     m && rc == 0 && strcmp(state, "terminated"); m = bk_ec2__next_item(m)) {
		xmlNodePtr ebs = bk_xml_child(m, "ebs");
		char *id = bk_xml_child_text(ebs, "volumeId");
		char *dot = bk_xml_child_text(ebs, "deleteOnTermination");
		if (id && dot && !strcmp(dot, "true"))
			rc = bk_kv_set(acc, id, "with-instance");
		free(id);
		free(dot);
	}
	return rc;
}

/* Instance id -> state name, from a DescribeInstances page. */
static int take_states(xmlDocPtr doc, bk_kv *acc)
{
	xmlNodePtr root = xmlDocGetRootElement(doc);
	int rc = 0;

	for (xmlNodePtr r = bk_ec2__first_item(root, "reservationSet"); r && rc == 0;
	     r = bk_ec2__next_item(r))
		for (xmlNodePtr i = bk_ec2__first_item(r, "instancesSet"); i && rc == 0;
		     i = bk_ec2__next_item(i)) {
			char *id = bk_xml_child_text(i, "instanceId");
			char *state = bk_xml_child_text(bk_xml_child(i, "instanceState"), "name");
			if (id && state)
				rc = bk_kv_set(acc, id, state);
			if (rc == 0 && state)
				rc = mark_volumes(acc, i, state);
			free(id);
			free(state);
		}
	return rc;
}

/* key -> value of each item of a page's set; keep_first: an entry already
 * there stays. */
static int take_pairs(xmlDocPtr doc, bk_kv *acc, const char *set, const char *key,
		      const char *value, bool keep_first)
{
	int rc = 0;

	for (xmlNodePtr it = bk_ec2__first_item(xmlDocGetRootElement(doc), set);
	     it && rc == 0; it = bk_ec2__next_item(it)) {
		char *k = bk_xml_child_text(it, key);
		char *v = bk_xml_child_text(it, value);
		if (k && v && !(keep_first && bk_kv_get(acc, k)))
			rc = bk_kv_set(acc, k, v);
		free(k);
		free(v);
	}
	return rc;
}

/* Volume id -> its state, from a DescribeVolumes page; one the instances'
 * answer marked "with-instance" keeps the mark. */
static int take_volume_states(xmlDocPtr doc, bk_kv *acc)
{
	return take_pairs(doc, acc, "volumeSet", "volumeId", "status", true);
}

/* Key pair id -> key name, from DescribeKeyPairs. */
static int take_key_names(xmlDocPtr doc, bk_kv *acc)
{
	return take_pairs(doc, acc, "keySet", "keyPairId", "keyName", false);
}

/* Describe the resources of one type with an id filter (no NotFound error
 * for ids that vanished meanwhile), 200 ids per call. */
static int describe_ids(bk_kv *acc, bk_aws *aws, const char *region, const char *action,
			const char *filter, const bk_strv *ids, int (*take)(xmlDocPtr, bk_kv *))
{
	int rc = 0;

	for (size_t at = 0; rc == 0 && at < ids->count; at += FILTER_CHUNK) {
		size_t n = ids->count - at < FILTER_CHUNK ? ids->count - at : FILTER_CHUNK;
		bk_params p = BK_KV_INIT;
		xmlDocPtr doc = NULL;
		rc = bk_ec2__filter(&p, 1, filter, (const char *const *)ids->items + at, n);
		if (rc == 0)
			rc = bk_ec2__call(&doc, aws, region, action, &p, NULL);
		if (rc == 0)
			rc = take(doc, acc);
		xmlFreeDoc(doc);
		bk_kv_free(&p);
	}
	return rc;
}

static int ids_of_type(bk_strv *out, const bk_ec2_tagged_list *l, const char *type)
{
	int rc = 0;

	for (size_t i = 0; i < l->count && rc == 0; i++)
		if (strcmp(l->items[i].type, type) == 0)
			rc = bk_strv_push(out, l->items[i].id);
	return rc;
}

/* Dropped from the sweep: a key pair or volume EC2 no longer knows (its
 * tags may outlive it), and a volume that goes with its instance. */
static bool drop(const bk_ec2_tagged *t, const char *state, const char *name)
{
	if (!strcmp(t->type, "key-pair"))
		return !name;
	if (!strcmp(t->type, "volume"))
		return !state || !strcmp(state, "with-instance");
	return false;
}

/* Apply per-id details: instance and volume states, key names (key pairs
 * are deleted by name). */
static int apply_details(bk_ec2_tagged_list *l, const bk_kv *expiries, const bk_kv *states,
			 const bk_kv *key_names)
{
	size_t kept = 0;
	int rc = 0;

	for (size_t i = 0; i < l->count; i++) {
		bk_ec2_tagged *t = &l->items[i];
		const char *exp = bk_kv_get(expiries, t->id);
		const char *state = bk_kv_get(states, t->id);
		const char *name = bk_kv_get(key_names, t->id);

		if (rc == 0 && drop(t, state, name)) {
			tagged_clear(t);
			continue;
		}
		if (rc == 0 && exp)
			rc = set_str(&t->expires, exp);
		if (rc == 0 && state)
			rc = set_str(&t->state, state);
		if (rc == 0 && name)
			rc = set_str(&t->id, name);
		l->items[kept++] = *t;
	}
	l->count = kept;
	return rc;
}

static int add_details(bk_ec2_tagged_list *l, const bk_kv *expiries, bk_aws *aws,
		       const char *region)
{
	bk_strv instances = BK_STRV_INIT, keys = BK_STRV_INIT, volumes = BK_STRV_INIT;
	bk_kv states = BK_KV_INIT, key_names = BK_KV_INIT;
	int rc = ids_of_type(&instances, l, "instance");

	if (rc == 0)
		rc = ids_of_type(&keys, l, "key-pair");
	if (rc == 0)
		rc = ids_of_type(&volumes, l, "volume");
	if (rc == 0)
		rc = describe_ids(&states, aws, region, "DescribeInstances", "instance-id",
				  &instances, take_states);
	if (rc == 0)
		rc = describe_ids(&states, aws, region, "DescribeVolumes", "volume-id", &volumes,
				  take_volume_states);
	if (rc == 0)
		rc = describe_ids(&key_names, aws, region, "DescribeKeyPairs", "key-pair-id",
				  &keys, take_key_names);
	if (rc == 0)
		rc = apply_details(l, expiries, &states, &key_names);
	bk_strv_free(&instances);
	bk_strv_free(&keys);
	bk_strv_free(&volumes);
	bk_kv_free(&states);
	bk_kv_free(&key_names);
	return rc;
}

/*
 * Calls: DescribeTags (one page per 1000 tags), then one DescribeInstances,
 * DescribeVolumes and DescribeKeyPairs when such resources were found (per
 * 200).
 */
int bk_ec2_find_tagged(bk_ec2_tagged_list *out, bk_aws *aws, const char *region,
		       const char *run_id)
{
	bk_kv expiries = BK_KV_INIT;
	int rc;

	memset(out, 0, sizeof(*out));
	rc = sweep_tags(out, &expiries, aws, region, run_id);
	if (rc == 0)
		rc = add_details(out, &expiries, aws, region);
	if (rc < 0)
		bk_ec2_tagged_free(out);
	bk_kv_free(&expiries);
	return rc;
}
