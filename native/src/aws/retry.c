/* retry.c - which AWS failures are worth another attempt, and how long to wait. */
#include <string.h>

#include "aws_int.h"

/* Codes AWS services use to say "slow down"; they come with 400/503. */
static const char *const throttling_codes[] = {
	"Throttling",
	"ThrottlingException",
	"ThrottledException",
	"RequestLimitExceeded",
	"RequestThrottled",
	"RequestThrottledException",
	"TooManyRequestsException",
	"ProvisionedThroughputExceededException",
	"SlowDown",
	"EC2ThrottledException",
	"BandwidthLimitExceeded",
	"PriorRequestNotComplete",
};

static bool is_throttling(const char *code)
{
	if (!code || !*code)
		return false;
	for (size_t i = 0; i < BK_ARRAY_SIZE(throttling_codes); i++)
		if (strcmp(code, throttling_codes[i]) == 0)
			return true;
	return false;
}

/* EC2's "no capacity" comes as a 500, but a retry seconds later rarely finds
 * any: the caller decides (spot tries another type or on-demand). */
static bool no_capacity(const char *code)
{
	return code && (!strcmp(code, "InsufficientInstanceCapacity") ||
			!strcmp(code, "InsufficientHostCapacity") ||
			!strcmp(code, "InsufficientReservedInstanceCapacity"));
}

bool bk_retry_should(int http_status, const char *aws_code)
{
	if (no_capacity(aws_code))
		return false;
	switch (http_status) {
	case 0:     /* no response at all: connect failure, reset, timeout */
	case 429:
	case 500:
	case 502:
	case 503:
	case 504:
		return true;
	default:
		return is_throttling(aws_code);
	}
}

/*
 * Full jitter (the AWS architecture blog's "Exponential Backoff And
 * Jitter"): a uniform delay in [0, min(cap, base * 2^(attempt-1))).
 * `attempt` counts retries: 1 is the wait before the second request.
 */
long bk_retry_delay_ms(const bk_retry_policy *p, int attempt, double rnd)
{
	long ceiling = p->base_ms > 0 ? p->base_ms : 1;

	for (int i = 1; i < attempt && ceiling < p->max_ms; i++)
		ceiling *= 2;   /* stops at the cap, so it cannot overflow */
	if (ceiling > p->max_ms)
		ceiling = p->max_ms;
	if (rnd < 0)
		rnd = 0;
	if (rnd >= 1)
		rnd = 0.999999;
	return (long)(rnd * (double)ceiling);
}

bool bk_aws__uncertain(long http_status, const char *aws_code)
{
	/* A throttled request was refused before it did anything. */
	return (http_status == 0 || http_status >= 500) && !is_throttling(aws_code);
}
