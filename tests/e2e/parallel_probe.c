/*
 * parallel_probe.c - N bakes at once in one process, through the public
 * API only: proves the library keeps no shared mutable state.
 * usage: parallel_probe N TEMPLATE [-var K=V]...
 * Prints "bake I: rc=R ami=AMI run=RUN" per bake; exit 0 when all baked.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bakeami.h"

typedef struct {
	int index;
	bakeami_options opts;
	int rc;
	char ami[64];
	char run_id[64];
	long lines;
} job;

static void count_line(const bakeami_event *ev, void *payload)
{
	job *j = payload;
	(void)ev;
	j->lines++;
}

static void *bake_one(void *arg)
{
	job *j = arg;
	bakeami_bake *b = NULL;

	j->rc = bakeami_bake_new(&b, &j->opts);
	if (j->rc == 0)
		j->rc = bakeami_bake_run(b);
	if (b) {
		snprintf(j->run_id, sizeof(j->run_id), "%s", bakeami_bake_run_id(b));
		if (bakeami_bake_ami(b, NULL))
			snprintf(j->ami, sizeof(j->ami), "%s", bakeami_bake_ami(b, NULL));
		if (j->rc < 0)
			fprintf(stderr, "bake %d: %s\n", j->index, bakeami_bake_error(b));
	}
	bakeami_bake_free(b);
	return NULL;
}

int main(int argc, char **argv)
{
	int n = argc > 2 ? atoi(argv[1]) : 0, failed = 0;
	const char *vars[64];
	size_t nvars = 0;

	if (n <= 0 || n > 16) {
		fprintf(stderr, "usage: parallel_probe N TEMPLATE [-var K=V]...\n");
		return 2;
	}
	for (int i = 3; i + 1 < argc && nvars < 64; i += 2)
		if (!strcmp(argv[i], "-var"))
			vars[nvars++] = argv[i + 1];
	job *jobs = calloc((size_t)n, sizeof(*jobs));
	pthread_t *tids = calloc((size_t)n, sizeof(*tids));
	for (int i = 0; i < n; i++) {
		jobs[i].index = i;
		bakeami_options_init(&jobs[i].opts, BAKEAMI_OPTIONS_VERSION);
		jobs[i].opts.template_path = argv[2];
		jobs[i].opts.vars = vars;
		jobs[i].opts.vars_count = nvars;
		jobs[i].opts.log_cb = count_line;
		jobs[i].opts.log_payload = &jobs[i];
		pthread_create(&tids[i], NULL, bake_one, &jobs[i]);
	}
	for (int i = 0; i < n; i++) {
		pthread_join(tids[i], NULL);
		printf("bake %d: rc=%d ami=%s run=%s lines=%ld\n", i, jobs[i].rc, jobs[i].ami,
		       jobs[i].run_id, jobs[i].lines);
		failed |= jobs[i].rc != 0;
	}
	free(jobs);
	free(tids);
	return failed;
}
