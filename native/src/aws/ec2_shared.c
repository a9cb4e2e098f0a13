/*
 * ec2_shared.c - describes shared by the bakes of one process (a Jenkins
 * agent runs many). Bakes that wait on DescribeInstances or DescribeImages
 * by id at about the same time, in the same region with the same
 * credentials and endpoint, share one call that carries all their ids
 * (coalesce.c), or their image names (one name filter of many values);
 * identical lookups (a source AMI's filters) in flight at once share one
 * call. Each bake's client sends when its turn comes, with
 * its own retries and cancel; a lone bake sends at once, as before.
 *
 * The groups are the process's, like the MFA sessions (sts_mfa.c): a bake
 * has its own client, and what they share is only who sends. A group lives
 * while someone asks through it.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "ec2_int.h"

/* Ids per call: well under what EC2 takes in one InstanceId/ImageId list. */
#define MAX_IDS 100

struct bk_ec2__group {
	char *key;
	bk_coalesce *c;
	int users;
	struct bk_ec2__group *next;
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct bk_ec2__group *groups;

static void free_doc(void *doc)
{
	xmlFreeDoc(doc);
}

static struct bk_ec2__group *group_get(const char *key, size_t max_ids)
{
	struct bk_ec2__group *g;

	pthread_mutex_lock(&lock);
	for (g = groups; g && strcmp(g->key, key); g = g->next)
		;
	if (!g && (g = calloc(1, sizeof(*g)))) {
		if (!(g->key = bk_strdup(key)) || bk_coalesce_new(&g->c, max_ids, free_doc) < 0) {
			free(g->key);
			free(g);
			g = NULL;
		} else {
			g->next = groups;
			groups = g;
		}
	}
	if (g)
		g->users++;
	pthread_mutex_unlock(&lock);
	return g;
}

static void group_put(struct bk_ec2__group *g)
{
	struct bk_ec2__group **p;

	pthread_mutex_lock(&lock);
	if (--g->users == 0) {
		for (p = &groups; *p != g; p = &(*p)->next)
			;
		*p = g->next;
		bk_coalesce_free(g->c);
		free(g->key);
		free(g);
	}
	pthread_mutex_unlock(&lock);
}

/* Who may share: the call, the endpoint, the region and the access key
 * (the principal), then what the call asks when it is shared whole. */
static int group_key(char **out, bk_aws *aws, const char *region, const char *action,
		     const char *query)
{
	char *endpoint = NULL;
	int rc = bk_aws__endpoint(&endpoint, aws, "ec2", region);

	if (rc < 0)
		return rc;
	pthread_mutex_lock(&aws->lock);   /* a renewal replaces creds */
	*out = bk_sprintf("%s\n%s\n%s\n%s\n%s", action, endpoint, region,
			  aws->creds.access_key_id ? aws->creds.access_key_id : "", query ? query : "");
	pthread_mutex_unlock(&aws->lock);
	free(endpoint);
	return *out ? 0 : bk_oom();
}

typedef struct {
	bk_aws *aws;
	const char *region;
	const char *action;
	const bk_params *base;     /* what every asker of the group sends; NULL: nothing */
	const char *list;          /* "InstanceId": the ids as that list; NULL: none */
} send_ctx;

static int send_call(void **answer, char code[64], const char *const *ids, size_t n, void *arg)
{
	const send_ctx *s = arg;
	bk_params p = BK_KV_INIT;
	xmlDocPtr doc = NULL;
	int rc = 0;

	for (size_t i = 0; s->base && rc == 0 && i < s->base->count; i++)
		rc = bk_params_add(&p, s->base->keys[i], s->base->vals[i]);
	if (rc == 0 && s->list)
		rc = bk_ec2__list(&p, s->list, ids, n);
	if (rc == 0)
		rc = bk_ec2__call(&doc, s->aws, s->region, s->action, &p, code);
	*answer = doc;
	bk_kv_free(&p);
	return rc;
}

static int ask(bk_ec2__shared *out, const send_ctx *s, const char *id, char code[64])
{
	char *key = NULL, *query = s->base ? bk_aws__form_body("ec2", s->action, s->base)
		: bk_strdup("");
	int rc = query ? group_key(&key, s->aws, s->region, s->action, query) : bk_oom();

	memset(out, 0, sizeof(*out));
	if (rc == 0 && !(out->group = group_get(key, s->list ? MAX_IDS : 1)))
		rc = bk_oom();
	free(key);
	free(query);
	if (rc < 0)
		return rc;
	rc = bk_coalesce_ask(&out->reply, out->group->c, id, bk_aws__cancel(s->aws), send_call,
			     (void *)s);
	out->doc = (xmlDocPtr)out->reply.answer;
	memcpy(code, out->reply.code, 64);
	return rc;
}

/* A call of several ids that EC2 refused for one of them (not found yet,
 * or malformed) says nothing of the others: each asks alone. */
static bool says_nothing_of_mine(const bk_ec2__shared *s, int rc, const char *code)
{
	return rc == BAKEAMI_EAWS && s->reply.ids > 1 &&
	       (bk_str_ends(code, ".NotFound") || bk_str_ends(code, ".Malformed"));
}

int bk_ec2__shared_call(bk_ec2__shared *out, bk_aws *aws, const char *region, const char *action,
			const bk_params *base, const char *list, const char *id, char code[64])
{
	send_ctx s = {aws, region ? region : aws->region, action, base, list};
	int rc = ask(out, &s, list ? id : "", code);

	if (list && says_nothing_of_mine(out, rc, code)) {
		bk_err_clear();
		bk_ec2__shared_done(out);
		rc = send_call((void **)&out->own, code, &id, 1, &s);
		out->doc = out->own;
	}
	return rc;
}

void bk_ec2__shared_done(bk_ec2__shared *s)
{
	if (s->group) {
		bk_coalesce_done(s->group->c, &s->reply);
		group_put(s->group);
	}
	xmlFreeDoc(s->own);
	memset(s, 0, sizeof(*s));
}
