/*
 * tmpdir.c - private temp folders for what a tool run on the agent needs
 * on disk (a private key, a known_hosts file, an inventory): 0700, files
 * in it 0600, and removed with all they hold, whatever the tool left.
 */
#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "util.h"

int bk_tmpdir_make(bk_tmpdir *t, const char *prefix)
{
	const char *base = getenv("TMPDIR");

	snprintf(t->path, sizeof(t->path), "%s/%s-XXXXXX", base && *base ? base : "/tmp", prefix);
	if (!mkdtemp(t->path)) {
		int e = errno;
		t->path[0] = '\0';
		return bk_err(BAKEAMI_EIO, "cannot make a temp dir for %s: %s", prefix, strerror(e));
	}
	return 0;
}

char *bk_tmpdir_file(const bk_tmpdir *t, const char *name)
{
	return bk_sprintf("%s/%s", t->path, name);
}

int bk_tmpdir_write_key(char **path, const bk_tmpdir *t, const char *name, const char *pem)
{
	size_t n = pem ? strlen(pem) : 0;
	char *text;
	int rc;

	*path = NULL;
	if (!n)
		return bk_err(BAKEAMI_EINVALID, "no private key to write");
	/* OpenSSH refuses a key file whose last line has no newline. */
	text = pem[n - 1] == '\n' ? bk_strdup(pem) : bk_sprintf("%s\n", pem);
	if (!text || !(*path = bk_tmpdir_file(t, name))) {
		free(text);
		return bk_oom();
	}
	rc = bk_file_write(*path, text, strlen(text), 0600);
	OPENSSL_cleanse(text, strlen(text));
	free(text);
	return rc;
}

static int remove_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st, (void)flag, (void)ftw;
	remove(path);
	return 0;
}

void bk_tmpdir_remove(bk_tmpdir *t)
{
	if (!t->path[0])
		return;
	/* Depth first, never following a link out of the folder. */
	nftw(t->path, remove_one, 16, FTW_DEPTH | FTW_PHYS);
	t->path[0] = '\0';
}
