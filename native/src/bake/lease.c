/*
 * lease.c - the lease on a run's temporary resources. Each is tagged on
 * create with bakeami:expires = now + the lease (an hour by default), and
 * a thread of the run moves the expiry on every renew interval (twenty
 * minutes) while the run lives, whatever the run is doing (a long wait, a
 * provisioner that runs for hours). So `bakeami cleanup --stale` removes
 * what a dead agent left within about an hour, and never what a live run
 * still uses: a live run's expiry is always at least lease - renew ahead.
 * The thread starts with the first temporary resource and stops when
 * CLEANUP begins (what is deleted needs no lease); it shares the run's
 * AWS client, which serializes calls. An instance's EBS volumes are held
 * from the moment it runs (EC2 names them then), so `cleanup --stale`
 * sweeps them on the same lease.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bake.h"

double bk_lease_seconds(const bakeami_bake *b)
{
	return b->opts.lease_seconds > 0 ? (double)b->opts.lease_seconds : BK_LEASE_S;
}

/* Unset, a third of the lease (twenty minutes at most): two renewals can
 * fail before the expiry passes. */
static double renew_seconds(const bakeami_bake *b)
{
	double third = bk_lease_seconds(b) / 3;

	if (b->opts.lease_renew_seconds > 0)
		return (double)b->opts.lease_renew_seconds;
	return third < BK_LEASE_RENEW_S ? third : BK_LEASE_RENEW_S;
}

void bk_lease_expiry(char out[32], const bakeami_bake *b)
{
	bk_iso8601(out, bk_wall() + bk_lease_seconds(b));
}

/* The wait is on the monotonic clock: a wall clock step moves no renewal. */
void bk_lease_init(bk_lease *l)
{
	pthread_condattr_t ca;

	memset(l, 0, sizeof(*l));
	pthread_mutex_init(&l->mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&l->cv, &ca);
	pthread_condattr_destroy(&ca);
}

/* One CreateTags for every resource held; a failure is a warning: the
 * next renewal tries again, and the expiry is still lease - renew away. */
static void renew(bakeami_bake *b, const bk_strv *ids)
{
	bk_kv tags = BK_KV_INIT;
	char expires[32];
	int rc;

	bk_lease_expiry(expires, b);
	rc = bk_kv_set(&tags, "bakeami:expires", expires);
	if (rc == 0)
		rc = bk_ec2_create_tags(b->aws, NULL, (const char *const *)ids->items, ids->count,
					&tags);
	if (rc == 0)
		bk_emit(b, BAKEAMI_EVENT_DEBUG, 0, "lease: %zu temporary resources now expire at %s",
			ids->count, expires);
	else
		bk_warn(b, "lease: could not extend bakeami:expires of %zu temporary resources "
			"(retried in %.0fs): %s", ids->count, renew_seconds(b), bk_err_msg());
	bk_kv_free(&tags);
}

static struct timespec deadline_after(double s)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	ts.tv_sec += (time_t)s;
	ts.tv_nsec += (long)((s - (double)(time_t)s) * 1e9);
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	return ts;
}

/* Copy the ids under the lock: stages add to them while we renew. */
static int snapshot(bk_strv *out, bk_lease *l)
{
	int rc = 0;

	for (size_t i = 0; rc == 0 && i < l->ids.count; i++)
		rc = bk_strv_push(out, l->ids.items[i]);
	return rc;
}

static void *lease_thread(void *arg)
{
	bakeami_bake *b = arg;
	bk_lease *l = &b->lease;

	pthread_mutex_lock(&l->mu);
	while (!l->stop) {
		struct timespec at = deadline_after(renew_seconds(b));
		bk_strv ids = BK_STRV_INIT;
		int w = 0;

		while (!l->stop && w != ETIMEDOUT)
			w = pthread_cond_timedwait(&l->cv, &l->mu, &at);
		if (l->stop || snapshot(&ids, l) < 0) {
			bk_strv_free(&ids);
			break;
		}
		pthread_mutex_unlock(&l->mu);
		renew(b, &ids);
		bk_strv_free(&ids);
		pthread_mutex_lock(&l->mu);
	}
	pthread_mutex_unlock(&l->mu);
	return NULL;
}

int bk_lease_hold(bakeami_bake *b, const char *id)
{
	bk_lease *l = &b->lease;
	int rc;

	pthread_mutex_lock(&l->mu);
	rc = l->stop ? 0 : bk_strv_push(&l->ids, id);
	if (rc == 0 && !l->stop && !l->started) {
		if (pthread_create(&l->tid, NULL, lease_thread, b) == 0)
			l->started = true;
		else
			bk_warn(b, "lease: no thread to extend bakeami:expires: the temporary "
				"resources expire %.0fs after they were made", bk_lease_seconds(b));
	}
	pthread_mutex_unlock(&l->mu);
	return rc;
}

int bk_lease_hold_volumes(bakeami_bake *b, const bk_ec2_instance *inst)
{
	int rc = 0;

	for (size_t i = 0; rc == 0 && i < inst->volume_ids.count; i++)
		rc = bk_lease_hold(b, inst->volume_ids.items[i]);
	return rc;
}

void bk_lease_release(bakeami_bake *b, const char *id)
{
	bk_lease *l = &b->lease;
	size_t kept = 0;

	pthread_mutex_lock(&l->mu);
	for (size_t i = 0; i < l->ids.count; i++) {
		if (!strcmp(l->ids.items[i], id))
			free(l->ids.items[i]);
		else
			l->ids.items[kept++] = l->ids.items[i];
	}
	l->ids.count = kept;
	if (l->ids.items)
		l->ids.items[kept] = NULL;
	pthread_mutex_unlock(&l->mu);
}

void bk_lease_stop(bk_lease *l)
{
	bool joined;

	pthread_mutex_lock(&l->mu);
	l->stop = true;
	joined = l->started;
	l->started = false;
	pthread_cond_broadcast(&l->cv);
	pthread_mutex_unlock(&l->mu);
	if (joined)
		pthread_join(l->tid, NULL);
}

void bk_lease_free(bk_lease *l)
{
	bk_lease_stop(l);
	bk_strv_free(&l->ids);
	pthread_cond_destroy(&l->cv);
	pthread_mutex_destroy(&l->mu);
}
