/*
 * coalesce.c - one call for many askers. A service that answers one call
 * at a time (moto), or counts every call against a rate (AWS), is asked
 * less when askers that want the same kind of answer at about the same
 * time share a call: the first sends at once, alone; whoever asks while a
 * call is in flight joins the next one, which the first of them to wake
 * sends with every id gathered. An id already in the call in flight rides
 * on it: its answer is that call's. Each asker reads its part of the
 * shared answer itself, and so tells an id the answer lacks.
 *
 * Each asker keeps its own cancel: it stops waiting when its flag is set,
 * leaving the batch to the others. A call cut short by its sender's
 * cancel is asked again by the askers that were not cancelled.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "util.h"

/* How often a waiting asker looks at its cancel flag (as bk_sleep_ms). */
#define CANCEL_LOOK_MS 50

struct bk_coalesce_batch {
	bk_strv ids;
	int refs;              /* askers holding it */
	bool done;
	int rc;
	char code[64];
	char msg[1024];        /* the sender's error message */
	void *answer;
};

struct bk_coalesce {
	pthread_mutex_t lock;
	pthread_cond_t cond;   /* a batch was sent or answered */
	size_t max_ids;
	void (*free_answer)(void *);
	bk_coalesce_batch *open;    /* gathering ids for the next call */
	bk_coalesce_batch *flight;  /* the call in flight */
};

int bk_coalesce_new(bk_coalesce **out, size_t max_ids, void (*free_answer)(void *))
{
	bk_coalesce *c = calloc(1, sizeof(*c));
	pthread_condattr_t attr;

	if (!c)
		return bk_oom();
	pthread_mutex_init(&c->lock, NULL);
	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_init(&c->cond, &attr);
	pthread_condattr_destroy(&attr);
	c->max_ids = max_ids ? max_ids : 1;
	c->free_answer = free_answer;
	*out = c;
	return 0;
}

static bool holds(const bk_coalesce_batch *b, const char *id)
{
	for (size_t i = 0; b && i < b->ids.count; i++)
		if (!strcmp(b->ids.items[i], id))
			return true;
	return false;
}

/* Under the lock. */
static void drop(bk_coalesce *c, bk_coalesce_batch *b)
{
	if (--b->refs > 0)
		return;
	if (c->open == b)
		c->open = NULL;
	if (b->answer && c->free_answer)
		c->free_answer(b->answer);
	bk_strv_free(&b->ids);
	free(b);
}

/* Only once no asker is left: every batch is then freed by its last one. */
void bk_coalesce_free(bk_coalesce *c)
{
	if (!c)
		return;
	if (c->open && !c->open->refs) {   /* left empty by an ENOMEM in join */
		c->open->refs = 1;
		drop(c, c->open);
	}
	pthread_cond_destroy(&c->cond);
	pthread_mutex_destroy(&c->lock);
	free(c);
}

/* The batch that will carry id, with a reference for the asker; NULL when
 * the next call is full (wait for it to go), or on ENOMEM (*rc set; an
 * empty batch stays open for the next asker). */
static bk_coalesce_batch *join(bk_coalesce *c, const char *id, int *rc)
{
	bk_coalesce_batch *b = holds(c->flight, id) ? c->flight : c->open;

	if (!b && !(b = c->open = calloc(1, sizeof(*b))))
		*rc = bk_oom();
	else if (!holds(b, id) && b->ids.count >= c->max_ids)
		b = NULL;
	else if (!holds(b, id) && (*rc = bk_strv_push(&b->ids, id)) < 0)
		b = NULL;
	if (b)
		b->refs++;
	return b;
}

/* Under the lock, which it lets go during the call. */
static void send_batch(bk_coalesce *c, bk_coalesce_batch *b, bk_coalesce_send send, void *ctx)
{
	char code[64] = "";
	void *answer = NULL;
	int rc;

	c->open = NULL;
	c->flight = b;
	pthread_cond_broadcast(&c->cond);   /* those the full batch left out may join the next */
	pthread_mutex_unlock(&c->lock);
	rc = send(&answer, code, (const char *const *)b->ids.items, b->ids.count, ctx);
	pthread_mutex_lock(&c->lock);
	b->rc = rc;
	b->answer = answer;
	memcpy(b->code, code, sizeof(code));
	if (rc < 0)
		snprintf(b->msg, sizeof(b->msg), "%s", bk_err_msg());
	b->done = true;
	c->flight = NULL;
	pthread_cond_broadcast(&c->cond);
}

static void wait_a_moment(bk_coalesce *c)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	ts.tv_nsec += CANCEL_LOOK_MS * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	pthread_cond_timedwait(&c->cond, &c->lock, &ts);
}

/* Under the lock: the answered batch of id (a reference held), or NULL
 * with *rc an error. */
static bk_coalesce_batch *answered(bk_coalesce *c, const char *id, const bk_cancel *cancel,
				   bk_coalesce_send send, void *ctx, bool *sent, int *rc)
{
	bk_coalesce_batch *b = NULL;

	for (;;) {
		if (!b && !(b = join(c, id, rc)) && *rc < 0)
			return NULL;
		/* The sender's own cancel cut its call short: ask again. */
		if (b && b->done && b->rc == BAKEAMI_ECANCELLED && !*sent && !bk_cancelled(cancel)) {
			drop(c, b);
			b = NULL;
			continue;
		}
		if (b && b->done)
			return b;
		if (b && b == c->open && !c->flight) {
			send_batch(c, b, send, ctx);
			*sent = true;
			continue;
		}
		if (bk_cancelled(cancel)) {
			if (b)
				drop(c, b);
			*rc = bk_err(BAKEAMI_ECANCELLED, "cancelled");
			return NULL;
		}
		wait_a_moment(c);
	}
}

int bk_coalesce_ask(bk_coalesce_reply *r, bk_coalesce *c, const char *id, const bk_cancel *cancel,
		    bk_coalesce_send send, void *ctx)
{
	bool sent = false;
	int rc = 0;
	bk_coalesce_batch *b;

	memset(r, 0, sizeof(*r));
	pthread_mutex_lock(&c->lock);
	b = answered(c, id, cancel, send, ctx, &sent, &rc);
	pthread_mutex_unlock(&c->lock);
	if (!b)
		return rc;
	r->batch = b;
	r->answer = b->answer;
	r->ids = b->ids.count;
	r->sent = sent;
	memcpy(r->code, b->code, sizeof(r->code));
	/* The sender's thread has the message already; the others get a copy. */
	if (b->rc < 0 && !sent)
		bk_err(b->rc, "%s", b->msg);
	return b->rc;
}

void bk_coalesce_done(bk_coalesce *c, bk_coalesce_reply *r)
{
	if (!r->batch)
		return;
	pthread_mutex_lock(&c->lock);
	drop(c, r->batch);
	pthread_mutex_unlock(&c->lock);
	memset(r, 0, sizeof(*r));
}

void bk_coalesce_askers(bk_coalesce *c, int *in_flight, int *next)
{
	pthread_mutex_lock(&c->lock);
	*in_flight = c->flight ? c->flight->refs : 0;
	*next = c->open ? c->open->refs : 0;
	pthread_mutex_unlock(&c->lock);
}
