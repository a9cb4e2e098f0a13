/*
 * fuzz_file.h - the readers that take a path get the fuzz input as a file
 * in a private folder (on /dev/shm when there is one: no disk writes).
 */
#ifndef FUZZ_FILE_H
#define FUZZ_FILE_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/util.h"

/* dir/name, the folder made once per process. */
static const char *fuzz_path(const char *name)
{
	static char dir[64];
	static char path[8][128];
	static int n;

	if (!dir[0]) {
		snprintf(dir, sizeof(dir), "%s/bakeami-fuzz-XXXXXX",
			 access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp");
		if (!mkdtemp(dir))
			abort();
	}
	n = (n + 1) % 8;
	snprintf(path[n], sizeof(path[n]), "%s/%s", dir, name);
	return path[n];
}

static const char *fuzz_file(const char *name, const void *data, size_t size)
{
	const char *path = fuzz_path(name);

	if (bk_file_write(path, data, size, 0600) != 0)
		abort();
	return path;
}

#endif
