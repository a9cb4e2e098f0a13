/* misc.c - strings, files, time, cancellation, logging, random. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/rand.h>

#include "util.h"

char *bk_strdup(const char *s)
{
	return s ? strdup(s) : NULL;
}

char *bk_strndup(const char *s, size_t n)
{
	return s ? strndup(s, n) : NULL;
}

char *bk_sprintf(const char *fmt, ...)
{
	bk_buf b = BK_BUF_INIT;
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = bk_buf_vprintf(&b, fmt, ap);
	va_end(ap);
	if (rc < 0) {
		bk_buf_free(&b);
		return NULL;
	}
	return bk_buf_detach(&b);
}

bool bk_str_starts(const char *s, const char *prefix)
{
	return s && strncmp(s, prefix, strlen(prefix)) == 0;
}

bool bk_str_ends(const char *s, const char *suffix)
{
	size_t ls, lx;

	if (!s)
		return false;
	ls = strlen(s);
	lx = strlen(suffix);
	return ls >= lx && strcmp(s + ls - lx, suffix) == 0;
}

int bk_file_read(char **out, size_t *out_len, const char *path)
{
	bk_buf b = BK_BUF_INIT;
	char chunk[8192];
	size_t n;
	FILE *f = fopen(path, "rb");

	if (!f)
		return bk_err(errno == ENOENT ? BAKEAMI_ENOTFOUND : BAKEAMI_EIO,
			      "%s: %s", path, strerror(errno));
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
		if (bk_buf_put(&b, chunk, n) < 0) {
			fclose(f);
			bk_buf_free(&b);
			return bk_oom();
		}
	}
	if (ferror(f)) {
		int e = errno;
		fclose(f);
		bk_buf_free(&b);
		return bk_err(BAKEAMI_EIO, "%s: %s", path, strerror(e));
	}
	fclose(f);
	if (out_len)
		*out_len = b.len;
	*out = bk_buf_detach(&b);
	return *out ? 0 : bk_oom();
}

static const char *file_kind(mode_t m)
{
	if (S_ISDIR(m))
		return "a directory";
	if (S_ISFIFO(m))
		return "a FIFO";
	if (S_ISCHR(m) || S_ISBLK(m))
		return "a device";
	if (S_ISSOCK(m))
		return "a socket";
	return "not a regular file";
}

/* stat, then open without blocking and fstat what was opened: a FIFO or a
 * device never gets the chance to block open() or to read forever. */
static int open_regular(int *fd, const char *path, size_t max)
{
	struct stat st;

	if (stat(path, &st) < 0)
		return bk_err(errno == ENOENT ? BAKEAMI_ENOTFOUND : BAKEAMI_EIO,
			      "%s: %s", path, strerror(errno));
	if (!S_ISREG(st.st_mode))
		return bk_err(BAKEAMI_EIO, "%s: is %s, not a regular file", path,
			      file_kind(st.st_mode));
	if ((*fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC)) < 0)
		return bk_err(BAKEAMI_EIO, "%s: %s", path, strerror(errno));
	if (fstat(*fd, &st) < 0 || !S_ISREG(st.st_mode) || (size_t)st.st_size > max) {
		bool big = S_ISREG(st.st_mode) && (size_t)st.st_size > max;
		close(*fd);
		if (big)
			return bk_err(BAKEAMI_EIO, "%s: %lld bytes, more than the %zu allowed",
				      path, (long long)st.st_size, max);
		return bk_err(BAKEAMI_EIO, "%s: is %s, not a regular file", path,
			      file_kind(st.st_mode));
	}
	return 0;
}

int bk_file_read_regular(char **out, size_t *out_len, const char *path, size_t max)
{
	bk_buf b = BK_BUF_INIT;
	char chunk[8192];
	ssize_t n;
	int fd = -1, rc = open_regular(&fd, path, max);

	*out = NULL;
	if (rc < 0)
		return rc;
	/* The size can change after fstat: the limit holds for what is read. */
	while ((n = read(fd, chunk, sizeof(chunk))) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			rc = bk_err(BAKEAMI_EIO, "%s: %s", path, strerror(errno));
		else if (b.len + (size_t)n > max)
			rc = bk_err(BAKEAMI_EIO, "%s: more than the %zu bytes allowed", path, max);
		else if (bk_buf_put(&b, chunk, (size_t)n) < 0)
			rc = bk_oom();
		if (rc < 0)
			break;
	}
	close(fd);
	if (rc < 0) {
		bk_buf_free(&b);
		return rc;
	}
	if (out_len)
		*out_len = b.len;
	*out = bk_buf_detach(&b);
	return *out ? 0 : bk_oom();
}

int bk_file_write(const char *path, const char *data, size_t len, int mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	size_t off = 0;

	if (fd < 0)
		return bk_err(BAKEAMI_EIO, "%s: %s", path, strerror(errno));
	while (off < len) {
		ssize_t w = write(fd, data + off, len - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0) {
			int e = errno;
			close(fd);
			return bk_err(BAKEAMI_EIO, "%s: %s", path, strerror(e));
		}
		off += (size_t)w;
	}
	if (close(fd) < 0)
		return bk_err(BAKEAMI_EIO, "%s: %s", path, strerror(errno));
	return 0;
}

int bk_mkdirs(const char *path, int mode)
{
	char *p = bk_strdup(path);
	int rc = 0;

	if (!p)
		return bk_oom();
	for (char *s = p + 1; *s && rc == 0; s++) {
		if (*s != '/')
			continue;
		*s = '\0';
		if (mkdir(p, (mode_t)mode) < 0 && errno != EEXIST)
			rc = bk_err(BAKEAMI_EIO, "mkdir %s: %s", p, strerror(errno));
		*s = '/';
	}
	if (rc == 0 && mkdir(p, (mode_t)mode) < 0 && errno != EEXIST)
		rc = bk_err(BAKEAMI_EIO, "mkdir %s: %s", p, strerror(errno));
	free(p);
	return rc;
}

double bk_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

double bk_wall(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void bk_iso8601(char out[32], double epoch)
{
	time_t t = (time_t)epoch;
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

bool bk_cancelled(const bk_cancel *c)
{
	return c && atomic_load(&((bk_cancel *)c)->flag) != 0;
}

void bk_cancel_set(bk_cancel *c)
{
	atomic_store(&c->flag, 1);
}

int bk_sleep_ms(const bk_cancel *c, long ms)
{
	/* Sleep in short slices so a cancel is seen within 50 ms. */
	while (ms > 0) {
		long slice = ms < 50 ? ms : 50;
		struct timespec ts = {slice / 1000, (slice % 1000) * 1000000L};

		if (bk_cancelled(c))
			return BAKEAMI_ECANCELLED;
		nanosleep(&ts, NULL);
		ms -= slice;
	}
	return bk_cancelled(c) ? BAKEAMI_ECANCELLED : 0;
}

void bk_logf(const bk_logger *lg, bk_log_level level, const char *fmt, ...)
{
	char msg[4096];
	va_list ap;

	if (!lg || !lg->fn)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	lg->fn(level, msg, lg->payload);
}

int bk_random_hex(char *out, size_t nbytes)
{
	unsigned char raw[64];

	if (nbytes > sizeof(raw) || RAND_bytes(raw, (int)nbytes) != 1)
		return bk_err(BAKEAMI_ERROR, "random: RAND_bytes failed");
	for (size_t i = 0; i < nbytes; i++)
		sprintf(out + 2 * i, "%02x", raw[i]);
	out[2 * nbytes] = '\0';
	return 0;
}

void bk_uuid4(char out[37])
{
	unsigned char r[16];

	RAND_bytes(r, sizeof(r));
	r[6] = (r[6] & 0x0f) | 0x40;
	r[8] = (r[8] & 0x3f) | 0x80;
	snprintf(out, 37,
		 "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
		 r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[8], r[9],
		 r[10], r[11], r[12], r[13], r[14], r[15]);
}

char *bk_base64(const unsigned char *data, size_t len)
{
	char *out = malloc(4 * ((len + 2) / 3) + 1);

	if (out)
		EVP_EncodeBlock((unsigned char *)out, data, (int)len);
	return out;
}

void bk_sha256_hex(char out[65], const void *data, size_t len)
{
	unsigned char md[32];
	unsigned int n = 0;

	EVP_Digest(data, len, md, &n, EVP_sha256(), NULL);
	for (unsigned int i = 0; i < n; i++)
		sprintf(out + 2 * i, "%02x", md[i]);
	out[64] = '\0';
}

/* The "}}" closing a {{ }} action, skipping quoted strings: the template
 * engine and the command renderer read actions alike. */
const char *bk_action_close(const char *a)
{
	for (const char *p = a; *p; p++) {
		if (*p == '"' || *p == '`') {
			char q = *p;
			for (p++; *p && *p != q; p++)
				if (q == '"' && *p == '\\' && p[1])
					p++;
			if (!*p)
				return NULL;
		} else if (p[0] == '}' && p[1] == '}') {
			return p;
		}
	}
	return NULL;
}
