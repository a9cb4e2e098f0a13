/*
 * latency_probe.c - how long a line printed on the instance takes to reach
 * the library's log callback. The template's provisioner prints lines
 * "bench-line <epoch seconds with nanoseconds>" (date +%s.%N); the
 * callback stamps each on arrival with the same clock (the lab's instance
 * is this machine) and prints "latency <seconds>" per line.
 * usage: latency_probe TEMPLATE [-var K=V]...   (bench/bench.py runs it)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bakeami.h"

#define MAX_LINES 100000

typedef struct {
	double *lat;
	size_t n;
} seen;

static double wall_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void on_event(const bakeami_event *ev, void *payload)
{
	double arrived = wall_now();
	seen *s = payload;
	const char *p;

	if (ev->kind != BAKEAMI_EVENT_OUTPUT || !ev->text || s->n >= MAX_LINES)
		return;
	if ((p = strstr(ev->text, "bench-line ")) != NULL)
		s->lat[s->n++] = arrived - strtod(p + 11, NULL);
}

int main(int argc, char **argv)
{
	const char *vars[64];
	size_t nvars = 0;
	seen s = {calloc(MAX_LINES, sizeof(double)), 0};
	bakeami_options o;
	bakeami_bake *b = NULL;
	int rc;

	if (argc < 2 || !s.lat) {
		fprintf(stderr, "usage: latency_probe TEMPLATE [-var K=V]...\n");
		return 2;
	}
	for (int i = 2; i + 1 < argc && nvars < 64; i += 2)
		if (!strcmp(argv[i], "-var"))
			vars[nvars++] = argv[i + 1];
	bakeami_options_init(&o, BAKEAMI_OPTIONS_VERSION);
	o.template_path = argv[1];
	o.vars = vars;
	o.vars_count = nvars;
	o.log_cb = on_event;
	o.log_payload = &s;
	rc = bakeami_bake_new(&b, &o);
	if (rc == 0)
		rc = bakeami_bake_run(b);
	if (rc != 0)
		fprintf(stderr, "latency_probe: %s\n", b ? bakeami_bake_error(b) : "bake_new failed");
	bakeami_bake_free(b);
	for (size_t i = 0; i < s.n; i++)
		printf("latency %.6f\n", s.lat[i]);
	free(s.lat);
	return rc != 0;
}
