/*
 * test_util_coalesce.c - one call for many askers (util/coalesce.c), on
 * threads: a lone asker sends at once; askers that come while a call is in
 * flight share the next; the same id rides on the call in flight; an error
 * reaches every asker of the call; a cancelled asker leaves at once and
 * the others still get their answer; a call cut short by its sender's
 * cancel is sent again for the others; max_ids splits. The fake call is
 * held by a gate the test opens; the test waits for states (calls begun,
 * askers queued), never for a length of time.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "util/util.h"

#define MAX_CALLS 8

/* The fake service: its calls wait for the gate, or their sender's cancel. */
typedef struct {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool gate_open;
	int calls;
	char ids[MAX_CALLS][256];     /* each call's ids, ",a,b," */
	int failing_call;             /* 1-based; 0: none fails */
} service;

typedef struct {
	service *svc;
	bk_coalesce *c;
	const char *id;
	bk_cancel cancel;
	pthread_t thread;
	int rc;
	char answer[256];
	char code[64];
	char msg[256];
	bool sent;
	size_t ids;
} asker;

static int fake_call(void **answer, char code[64], const char *const *ids, size_t n, void *ctx)
{
	asker *a = ctx;
	service *s = a->svc;
	int call;

	pthread_mutex_lock(&s->lock);
	call = s->calls++;
	assert_true(call < MAX_CALLS);
	snprintf(s->ids[call], sizeof(s->ids[call]), ",");
	for (size_t i = 0; i < n; i++)
		snprintf(s->ids[call] + strlen(s->ids[call]),
			 sizeof(s->ids[call]) - strlen(s->ids[call]), "%s,", ids[i]);
	pthread_cond_broadcast(&s->cond);
	while (!s->gate_open && !bk_cancelled(&a->cancel))
		pthread_cond_wait(&s->cond, &s->lock);
	pthread_mutex_unlock(&s->lock);
	if (bk_cancelled(&a->cancel))
		return bk_err(BAKEAMI_ECANCELLED, "DescribeInstances: cancelled");
	if (call + 1 == s->failing_call) {
		snprintf(code, 64, "Throttling");
		return bk_err(BAKEAMI_EAWS, "DescribeInstances: Throttling: slow down");
	}
	*answer = bk_strdup(s->ids[call]);
	return *answer ? 0 : bk_oom();
}

static void *ask_thread(void *arg)
{
	asker *a = arg;
	bk_coalesce_reply r;

	a->rc = bk_coalesce_ask(&r, a->c, a->id, &a->cancel, fake_call, a);
	if (r.answer)
		snprintf(a->answer, sizeof(a->answer), "%s", (const char *)r.answer);
	snprintf(a->code, sizeof(a->code), "%s", r.code);
	if (a->rc < 0)
		snprintf(a->msg, sizeof(a->msg), "%s", bk_err_msg());
	a->sent = r.sent;
	a->ids = r.ids;
	bk_coalesce_done(a->c, &r);
	return NULL;
}

static void start(asker *a, service *s, bk_coalesce *c, const char *id)
{
	memset(a, 0, sizeof(*a));
	a->svc = s;
	a->c = c;
	a->id = id;
	assert_int_equal(pthread_create(&a->thread, NULL, ask_thread, a), 0);
}

static void finish(asker *a)
{
	pthread_join(a->thread, NULL);
}

static void service_init(service *s)
{
	memset(s, 0, sizeof(*s));
	pthread_mutex_init(&s->lock, NULL);
	pthread_cond_init(&s->cond, NULL);
}

static void service_free(service *s)
{
	pthread_cond_destroy(&s->cond);
	pthread_mutex_destroy(&s->lock);
}

static void open_gate(service *s)
{
	pthread_mutex_lock(&s->lock);
	s->gate_open = true;
	pthread_cond_broadcast(&s->cond);
	pthread_mutex_unlock(&s->lock);
}

static void cancel(asker *a)
{
	pthread_mutex_lock(&a->svc->lock);
	bk_cancel_set(&a->cancel);
	pthread_cond_broadcast(&a->svc->cond);
	pthread_mutex_unlock(&a->svc->lock);
}

static void wait_calls(service *s, int n)
{
	pthread_mutex_lock(&s->lock);
	while (s->calls < n)
		pthread_cond_wait(&s->cond, &s->lock);
	pthread_mutex_unlock(&s->lock);
}

/* Until the call in flight and the next one have these many askers. */
static void wait_askers(bk_coalesce *c, int in_flight, int next)
{
	struct timespec ms = {0, 1000000L};
	int f, n;

	for (bk_coalesce_askers(c, &f, &n); f != in_flight || n != next;
	     bk_coalesce_askers(c, &f, &n))
		nanosleep(&ms, NULL);
}

static bool carries(const char *ids, const char *id)
{
	char want[64];

	snprintf(want, sizeof(want), ",%s,", id);
	return strstr(ids, want) != NULL;
}

static void lone_asker_sends_at_once(void **state)
{
	service s;
	bk_coalesce *c;
	asker a;

	(void)state;
	service_init(&s);
	open_gate(&s);
	assert_int_equal(bk_coalesce_new(&c, 10, free), 0);
	start(&a, &s, c, "i-a");
	finish(&a);
	assert_int_equal(a.rc, 0);
	assert_string_equal(a.answer, ",i-a,");
	assert_true(a.sent);
	assert_int_equal(a.ids, 1);
	assert_int_equal(s.calls, 1);
	bk_coalesce_free(c);
	service_free(&s);
}

/* A in flight; B, C, D come meanwhile and go together in the next call. */
static void queue_behind_a(service *s, bk_coalesce *c, asker *a, asker *others)
{
	static const char *const ids[] = {"i-b", "i-c", "i-d"};

	start(a, s, c, "i-a");
	wait_calls(s, 1);
	for (int i = 0; i < 3; i++)
		start(&others[i], s, c, ids[i]);
	wait_askers(c, 1, 3);
	open_gate(s);
	finish(a);
	for (int i = 0; i < 3; i++)
		finish(&others[i]);
}

static void askers_meanwhile_share_the_next_call(void **state)
{
	service s;
	bk_coalesce *c;
	asker a, o[3];
	int senders = 0;

	(void)state;
	service_init(&s);
	assert_int_equal(bk_coalesce_new(&c, 10, free), 0);
	queue_behind_a(&s, c, &a, o);
	assert_int_equal(s.calls, 2);
	assert_int_equal(a.rc, 0);
	assert_string_equal(a.answer, ",i-a,");
	for (int i = 0; i < 3; i++) {
		assert_int_equal(o[i].rc, 0);
		assert_int_equal(o[i].ids, 3);
		assert_true(carries(o[i].answer, o[i].id));
		assert_true(carries(s.ids[1], o[i].id));
		senders += o[i].sent;
	}
	assert_int_equal(senders, 1);
	bk_coalesce_free(c);
	service_free(&s);
}

static void an_error_reaches_every_asker(void **state)
{
	service s;
	bk_coalesce *c;
	asker a, o[3];

	(void)state;
	service_init(&s);
	s.failing_call = 2;
	assert_int_equal(bk_coalesce_new(&c, 10, free), 0);
	queue_behind_a(&s, c, &a, o);
	assert_int_equal(a.rc, 0);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(o[i].rc, BAKEAMI_EAWS);
		assert_string_equal(o[i].code, "Throttling");
		assert_string_equal(o[i].msg, "DescribeInstances: Throttling: slow down");
		assert_string_equal(o[i].answer, "");
	}
	assert_int_equal(s.calls, 2);
	bk_coalesce_free(c);
	service_free(&s);
}

static void the_same_id_rides_the_call_in_flight(void **state)
{
	service s;
	bk_coalesce *c;
	asker a, b;

	(void)state;
	service_init(&s);
	assert_int_equal(bk_coalesce_new(&c, 1, free), 0);
	start(&a, &s, c, "source?owner=amazon");
	wait_calls(&s, 1);
	start(&b, &s, c, "source?owner=amazon");
	wait_askers(c, 2, 0);
	open_gate(&s);
	finish(&a);
	finish(&b);
	assert_int_equal(s.calls, 1);
	assert_int_equal(a.rc, 0);
	assert_int_equal(b.rc, 0);
	assert_string_equal(b.answer, ",source?owner=amazon,");
	assert_true(a.sent && !b.sent);
	bk_coalesce_free(c);
	service_free(&s);
}

/* B is cancelled while it waits for the next call: it leaves at once (the
 * call in flight is still held), and C's call still goes. */
static void a_cancelled_asker_leaves_the_others_their_call(void **state)
{
	service s;
	bk_coalesce *c;
	asker a, b, d;

	(void)state;
	service_init(&s);
	assert_int_equal(bk_coalesce_new(&c, 10, free), 0);
	start(&a, &s, c, "i-a");
	wait_calls(&s, 1);
	start(&b, &s, c, "i-b");
	start(&d, &s, c, "i-d");
	wait_askers(c, 1, 2);
	cancel(&b);
	finish(&b);
	assert_int_equal(b.rc, BAKEAMI_ECANCELLED);
	assert_int_equal(s.calls, 1);
	wait_askers(c, 1, 1);
	open_gate(&s);
	finish(&a);
	finish(&d);
	assert_int_equal(a.rc, 0);
	assert_int_equal(d.rc, 0);
	assert_true(carries(d.answer, "i-d"));
	assert_int_equal(s.calls, 2);
	bk_coalesce_free(c);
	service_free(&s);
}

/* A's own cancel cuts its call short; B, riding on it, asks again. */
static void a_call_cut_short_by_its_sender_is_sent_again(void **state)
{
	service s;
	bk_coalesce *c;
	asker a, b;

	(void)state;
	service_init(&s);
	assert_int_equal(bk_coalesce_new(&c, 10, free), 0);
	start(&a, &s, c, "ami-x");
	wait_calls(&s, 1);
	start(&b, &s, c, "ami-x");
	wait_askers(c, 2, 0);
	cancel(&a);
	finish(&a);
	assert_int_equal(a.rc, BAKEAMI_ECANCELLED);
	wait_calls(&s, 2);
	open_gate(&s);
	finish(&b);
	assert_int_equal(b.rc, 0);
	assert_true(b.sent);
	assert_string_equal(b.answer, ",ami-x,");
	assert_int_equal(s.calls, 2);
	bk_coalesce_free(c);
	service_free(&s);
}

static void max_ids_splits_the_askers(void **state)
{
	service s;
	bk_coalesce *c;
	asker a, o[3];

	(void)state;
	service_init(&s);
	assert_int_equal(bk_coalesce_new(&c, 2, free), 0);
	start(&a, &s, c, "i-a");
	wait_calls(&s, 1);
	start(&o[0], &s, c, "i-b");
	start(&o[1], &s, c, "i-c");
	start(&o[2], &s, c, "i-d");
	wait_askers(c, 1, 2);          /* the third waits for room */
	open_gate(&s);
	finish(&a);
	for (int i = 0; i < 3; i++) {
		finish(&o[i]);
		assert_int_equal(o[i].rc, 0);
		assert_true(carries(o[i].answer, o[i].id));
	}
	assert_int_equal(s.calls, 3);
	for (int i = 1; i < 3; i++)
		assert_true(strlen(s.ids[i]) <= strlen(",i-b,i-c,"));
	bk_coalesce_free(c);
	service_free(&s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(lone_asker_sends_at_once),
		cmocka_unit_test(askers_meanwhile_share_the_next_call),
		cmocka_unit_test(an_error_reaches_every_asker),
		cmocka_unit_test(the_same_id_rides_the_call_in_flight),
		cmocka_unit_test(a_cancelled_asker_leaves_the_others_their_call),
		cmocka_unit_test(a_call_cut_short_by_its_sender_is_sent_again),
		cmocka_unit_test(max_ids_splits_the_askers),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
