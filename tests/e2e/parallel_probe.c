/*
 * parallel_probe.c - N bakes at once in one process, through the public
 * API only: proves bakes do not mix (what they share is only who sends a
 * describe: aws/ec2_shared.c).
 * usage: parallel_probe N TEMPLATE [-var K=V]...
 * Prints "bake I: rc=R ami=AMI run=RUN lines=L mixed=M" per bake, M being
 * the events its callback got that name another run; exit 0 when all baked.
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
	char seen_run[64];      /* the run id of the first event */
	long mixed;             /* events naming another run */
} job;

/* The run id an event's JSON names, into out. */
static void event_run(const bakeami_event *ev, char out[64])
{
	const char *p = ev->json ? strstr(ev->json, "\"run_id\":\"") : NULL;
	size_t n = 0;

	if (p)
		for (p += 10; p[n] && p[n] != '"' && n < 63; n++)
			out[n] = p[n];
	out[n] = 0;
}

static void count_line(const bakeami_event *ev, void *payload)
{
	job *j = payload;
	char run[64];

	j->lines++;
	event_run(ev, run);
	if (!j->seen_run[0])
		memcpy(j->seen_run, run, sizeof(run));
	else if (strcmp(run, j->seen_run) != 0)
		j->mixed++;
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

	if (n <= 0 || n > 64) {
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
		printf("bake %d: rc=%d ami=%s run=%s lines=%ld mixed=%ld\n", i, jobs[i].rc, jobs[i].ami,
		       jobs[i].run_id, jobs[i].lines, jobs[i].mixed);
		failed |= jobs[i].mixed != 0 || strcmp(jobs[i].seen_run, jobs[i].run_id) != 0;
		failed |= jobs[i].rc != 0;
	}
	free(jobs);
	free(tids);
	return failed;
}
