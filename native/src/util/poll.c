/*
 * poll.c - the adaptive wait between tries of something that becomes
 * true later (an image available, a port open, a group released): short
 * at first, because moto and a warm AWS answer at once, then longer so
 * a long wait does not hammer the API, and never past the deadline. A
 * steady phase keeps the first interval for a while: a state change in
 * the first minute (an instance starting) is noticed within that interval,
 * at one call per interval, before the backoff.
 */
#include "util.h"

static double real_now(void *payload)
{
	(void)payload;
	return bk_now();
}

static int real_sleep(const bk_cancel *c, double s, void *payload)
{
	(void)payload;
	return bk_sleep_ms(c, (long)(s * 1000));
}

static const bk_clock REAL_CLOCK = {real_now, real_sleep, NULL};

void bk_poller_start(bk_poller *p, const bk_poll_opts *o)
{
	p->o = *o;
	if (!p->o.clock)
		p->o.clock = &REAL_CLOCK;
	p->started = bk_poller_now(p);
	p->next_s = o->first_s > 0 ? o->first_s : 0;
	p->waits = 0;
}

double bk_poller_now(const bk_poller *p)
{
	return p->o.clock->now(p->o.clock->payload);
}

double bk_poller_next(const bk_poller *p)
{
	double left;

	if (p->o.deadline <= 0)
		return p->next_s;
	left = p->o.deadline - bk_poller_now(p);
	return left <= 0 ? 0 : left < p->next_s ? left : p->next_s;
}

static void grow(bk_poller *p)
{
	if (p->o.factor <= 1 || bk_poller_now(p) - p->started < p->o.steady_s)
		return;
	p->next_s *= p->o.factor;
	if (p->o.max_s > 0 && p->next_s > p->o.max_s)
		p->next_s = p->o.max_s;
}

int bk_poller_wait(bk_poller *p)
{
	if (bk_cancelled(p->o.cancel))
		return bk_err(BAKEAMI_ECANCELLED, "cancelled");
	if (p->o.deadline > 0 && bk_poller_now(p) >= p->o.deadline)
		return 1;
	if (p->o.clock->sleep(p->o.cancel, bk_poller_next(p), p->o.clock->payload) < 0)
		return bk_err(BAKEAMI_ECANCELLED, "cancelled");
	p->waits++;
	grow(p);
	return 0;
}
