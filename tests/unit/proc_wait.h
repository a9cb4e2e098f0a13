/*
 * proc_wait.h - for unit tests that check a child process was stopped:
 * polls /proc instead of trusting one look after a sleep.
 */
#ifndef TESTS_UNIT_PROC_WAIT_H
#define TESTS_UNIT_PROC_WAIT_H

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

#include "util/util.h"

/* A process is gone once it is reaped or left as a zombie; looks every
 * 20 ms, at most tries times. */
static inline bool process_gone(pid_t pid, int tries)
{
	char path[64], *stat = NULL;
	bool gone;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	for (int i = 0; i < tries; i++) {
		if (bk_file_read(&stat, NULL, path) < 0)
			return true;
		gone = strstr(stat, ") Z ") != NULL;
		free(stat);
		if (gone)
			return true;
		usleep(20 * 1000);
	}
	return false;
}

#endif
