/* error.c - the thread-local last error (libgit2's model). */
#include <stdio.h>
#include <string.h>

#include "util.h"

static _Thread_local char last_error[1024];

int bk_verr(int code, const char *fmt, va_list ap)
{
	vsnprintf(last_error, sizeof(last_error), fmt, ap);
	return code;
}

int bk_err(int code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	bk_verr(code, fmt, ap);
	va_end(ap);
	return code;
}

int bk_err_wrap(int code, const char *fmt, ...)
{
	char prefix[256], old[sizeof(last_error)];
	va_list ap;

	memcpy(old, last_error, sizeof(old));
	va_start(ap, fmt);
	vsnprintf(prefix, sizeof(prefix), fmt, ap);
	va_end(ap);
	/* Truncation of a very long message is acceptable. */
	size_t n = strlen(prefix);
	memcpy(last_error, prefix, n);
	snprintf(last_error + n, sizeof(last_error) - n, ": %.*s",
		 (int)(sizeof(last_error) - n - 3), old);
	return code;
}

int bk_oom(void)
{
	return bk_err(BAKEAMI_ENOMEM, "out of memory");
}

const char *bk_err_msg(void)
{
	return last_error;
}

void bk_err_clear(void)
{
	last_error[0] = '\0';
}

int bk_gone_is_done(int rc)
{
	if (rc != BAKEAMI_ENOTFOUND)
		return rc;
	bk_err_clear();
	return 0;
}

const char *bakeami_error_last(void)
{
	return last_error;
}

const char *bakeami_strerror(int code)
{
	switch ((bakeami_error_t)code) {
	case BAKEAMI_OK: return "ok";
	case BAKEAMI_ERROR: return "failed";
	case BAKEAMI_EINVALID: return "invalid input";
	case BAKEAMI_EAWS: return "AWS call failed";
	case BAKEAMI_ESSH: return "SSH failed";
	case BAKEAMI_ETIMEOUT: return "timed out";
	case BAKEAMI_ECANCELLED: return "cancelled";
	case BAKEAMI_ETESTFAIL: return "tests failed";
	case BAKEAMI_ENOMEM: return "out of memory";
	case BAKEAMI_ENOTFOUND: return "not found";
	case BAKEAMI_EPROVISION: return "provisioner failed";
	case BAKEAMI_EIO: return "I/O error";
	}
	return "unknown error";
}

int bakeami_exit_code(int code)
{
	switch (code) {
	case BAKEAMI_OK: return 0;
	case BAKEAMI_EINVALID: return 2;
	case BAKEAMI_ETESTFAIL: return 3;
	case BAKEAMI_ECANCELLED: return 130;
	default: return 1;
	}
}
