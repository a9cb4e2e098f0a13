/*
 * packer.c - `bakeami build` and `bakeami inspect` as drop-ins for
 * Packer 1.6.6's (command/build.go, command/inspect.go, packer/core.go):
 * every build in parallel, each build's lines prefixed with its name, the
 * closing summary and artifact lines scripts parse, Packer's exit codes.
 * Everything goes to stdout, as Packer's (its ErrorWriter is stdout).
 */
#include <pthread.h>
#include <stdbool.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cJSON.h>

#include "cli.h"

/* ColoredUi's cycle (command/build.go), and its error colour. */
static const int colors[] = {32, 36, 35, 33, 34};
#define RED 31

typedef struct {
	const cli_args *c;
	int machine, color, stamps;
	pthread_mutex_t mu;            /* builds' lines arrive from several threads */
	bakeami_builds *builds;
	double *elapsed;               /* each build's last event time */
	int interrupted;
} packer_ui;

typedef enum { SAY, MESSAGE, ERROR_ } ui_kind;

static long long now_s(void)
{
	return (long long)time(NULL);
}

/* Ui.Machine: a line with -machine-readable; nothing otherwise (Packer's
 * BasicUi only logs it). */
static void machine_or_not(packer_ui *u, const char *target, const char *type,
			   const char *const *args, size_t n)
{
	char *line = u->machine ? pui_machine_line(now_s(), target, type, args, n) : NULL;

	if (line)
		fputs(line, stdout);
	free(line);
}

/* One Ui call. build < 0: the command's own Ui (no colour, no stamp);
 * else that build's Ui; target: TargetedUI's prefix, or NULL. */
static void ui(packer_ui *u, ui_kind kind, int build, const char *target, const char *msg)
{
	static const char *const kinds[] = {"say", "message", "error"};
	char *m = target ? pui_prefix_lines(kind != MESSAGE, target, msg) : strdup(msg), *tmp;
	char stamp[40];

	if (!m)
		return;
	if (u->machine) {
		const char *args[] = {kinds[kind], m};
		machine_or_not(u, NULL, "ui", args, 2);
		free(m);
		return;
	}
	if (build >= 0 && u->stamps) {
		pui_rfc3339(stamp, now_s());
		tmp = malloc(strlen(stamp) + strlen(m) + 3);
		if (tmp)
			sprintf(tmp, "%s: %s", stamp, m);
		free(m);
		if (!(m = tmp))
			return;
	}
	if (build >= 0 && u->color) {
		tmp = pui_colorize(m, kind == ERROR_ ? RED : colors[build % 5], kind != MESSAGE);
		free(m);
		if (!(m = tmp))
			return;
	}
	fputs(m, stdout);
	fputc('\n', stdout);
	fflush(stdout);
	free(m);
}

static int build_index(const packer_ui *u, const char *name)
{
	size_t n = bakeami_builds_count(u->builds);

	for (size_t i = 0; name && i < n; i++)
		if (!strcmp(bakeami_builds_name(u->builds, i), name))
			return (int)i;
	return 0;
}

/* A bake's event as Packer's builder would say it. */
static void on_event(const bakeami_event *ev, void *payload)
{
	packer_ui *u = payload;
	int i = build_index(u, ev->build);
	const char *name = ev->build ? ev->build : "";
	const char *text = ev->text;

	pthread_mutex_lock(&u->mu);
	u->elapsed[i] = ev->elapsed;
	switch (ev->kind) {
	case BAKEAMI_EVENT_STEP: ui(u, SAY, i, name, text); break;
	case BAKEAMI_EVENT_WARN: ui(u, SAY, i, name, text); break;
	case BAKEAMI_EVENT_ERROR: ui(u, ERROR_, i, name, text); break;
	case BAKEAMI_EVENT_OUTPUT: ui(u, MESSAGE, i, name, text); break;
	case BAKEAMI_EVENT_SUMMARY:   /* "==> summary: ..." / "    AMI ..." */
		if (!strncmp(text, "==> ", 4))
			ui(u, SAY, i, name, text + 4);
		else
			ui(u, MESSAGE, i, name, text + strspn(text, " "));
		break;
	case BAKEAMI_EVENT_STATE:
	case BAKEAMI_EVENT_DEBUG:
		if (u->c->debug)
			ui(u, MESSAGE, i, name, text);
		break;
	}
	pthread_mutex_unlock(&u->mu);
}

static void on_signal(int sig, int seen, void *payload)
{
	packer_ui *u = payload;

	pthread_mutex_lock(&u->mu);
	u->interrupted = 1;
	if (!seen)
		ui(u, ERROR_, -1, NULL, sig == SIGINT ? "Cancelling build after receiving interrupt"
		   : "Cancelling build after receiving terminated");
	pthread_mutex_unlock(&u->mu);
}

/* ---- the artifact: Packer's amazon Artifact (Id, String, BuilderId) ---- */

typedef struct {
	char *id, *string;
} artifact;

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* "us-east-1:ami-1,us-west-2:ami-2" and "AMIs were created:\nus-east-1: ami-1\n...\n". */
static int artifact_of(artifact *out, const bakeami_bake *bake)
{
	cJSON *res = cJSON_Parse(bakeami_bake_result_json(bake) ? bakeami_bake_result_json(bake)
				 : "{}");
	const cJSON *amis = cJSON_GetObjectItemCaseSensitive(res, "amis"), *a;
	char *ids[64], *lines[64];
	size_t n = 0, idl = 1, sl = 20;

	memset(out, 0, sizeof(*out));
	cJSON_ArrayForEach(a, amis) {
		if (n == 64 || !cJSON_IsString(a))
			continue;
		ids[n] = malloc(strlen(a->string) + strlen(a->valuestring) + 3);
		lines[n] = malloc(strlen(a->string) + strlen(a->valuestring) + 3);
		if (!ids[n] || !lines[n]) {
			free(ids[n]);
			free(lines[n]);
			break;
		}
		sprintf(ids[n], "%s:%s", a->string, a->valuestring);
		sprintf(lines[n], "%s: %s", a->string, a->valuestring);
		idl += strlen(ids[n]) + 1;
		sl += strlen(lines[n]) + 1;
		n++;
	}
	cJSON_Delete(res);
	qsort(ids, n, sizeof(*ids), cmp_str);
	qsort(lines, n, sizeof(*lines), cmp_str);
	if (n && (out->id = calloc(1, idl)) && (out->string = calloc(1, sl))) {
		strcpy(out->string, "AMIs were created:\n");
		for (size_t i = 0; i < n; i++) {
			strcat(strcat(out->id, i ? "," : ""), ids[i]);
			strcat(strcat(out->string, i ? "\n" : ""), lines[i]);
		}
		strcat(out->string, "\n");
	}
	for (size_t i = 0; i < n; i++) {
		free(ids[i]);
		free(lines[i]);
	}
	return out->id && out->string;
}

static const char *builder_id(const char *type)
{
	return type && !strcmp(type, "amazon-instance") ? "mitchellh.amazon.instance"
		: "mitchellh.amazonebs";
}

/* ---- the closing lines (command/build.go) -------------------------------- */

static void finished(packer_ui *u)
{
	size_t n = bakeami_builds_count(u->builds);
	char msg[2048];

	for (size_t i = 0; i < n; i++) {
		const bakeami_bake *b = bakeami_builds_bake(u->builds, i);
		const char *err = bakeami_bake_error(b);
		char *d = pui_duration(u->elapsed[i]);
		if (err)
			snprintf(msg, sizeof(msg), "Build '%s' errored after %s: %s",
				 bakeami_builds_name(u->builds, i), d ? d : "", err);
		else
			snprintf(msg, sizeof(msg), "Build '%s' finished after %s.",
				 bakeami_builds_name(u->builds, i), d ? d : "");
		ui(u, err ? ERROR_ : SAY, (int)i, NULL, msg);
		free(d);
	}
}

static size_t report_errors(packer_ui *u)
{
	size_t n = bakeami_builds_count(u->builds), errs = 0;
	char count[32], msg[2048];

	for (size_t i = 0; i < n; i++)
		errs += bakeami_bake_error(bakeami_builds_bake(u->builds, i)) != NULL;
	if (!errs)
		return 0;
	snprintf(count, sizeof(count), "%zu", errs);
	machine_or_not(u, NULL, "error-count", (const char *[]){count}, 1);
	ui(u, ERROR_, -1, NULL, "\n==> Some builds didn't complete successfully and had errors:");
	for (size_t i = 0; i < n; i++) {
		const char *name = bakeami_builds_name(u->builds, i);
		const char *err = bakeami_bake_error(bakeami_builds_bake(u->builds, i));
		if (!err)
			continue;
		machine_or_not(u, name, "error", (const char *[]){err}, 1);
		snprintf(msg, sizeof(msg), "--> %s: %s", name, err);
		ui(u, ERROR_, -1, NULL, msg);
	}
	return errs;
}

static void one_artifact(packer_ui *u, size_t i, const artifact *a)
{
	const char *name = bakeami_builds_name(u->builds, i);
	const char *bid = builder_id(bakeami_builds_type(u->builds, i));
	char *msg = malloc(strlen(name) + strlen(a->string) + 8);

	machine_or_not(u, name, "artifact-count", (const char *[]){"1"}, 1);
	machine_or_not(u, name, "artifact", (const char *[]){"0", "builder-id", bid}, 3);
	machine_or_not(u, name, "artifact", (const char *[]){"0", "id", a->id}, 3);
	machine_or_not(u, name, "artifact", (const char *[]){"0", "string", a->string}, 3);
	machine_or_not(u, name, "artifact", (const char *[]){"0", "files-count", "0"}, 3);
	machine_or_not(u, name, "artifact", (const char *[]){"0", "end"}, 2);
	if (msg) {
		sprintf(msg, "--> %s: %s", name, a->string);
		ui(u, SAY, -1, NULL, msg);
	}
	free(msg);
}

static void report_artifacts(packer_ui *u)
{
	size_t n = bakeami_builds_count(u->builds), shown = 0;

	for (size_t i = 0; i < n; i++) {
		const bakeami_bake *b = bakeami_builds_bake(u->builds, i);
		artifact a = {NULL, NULL};
		if (bakeami_bake_error(b) || !artifact_of(&a, b)) {
			free(a.id);
			free(a.string);
			continue;
		}
		if (!shown++)
			ui(u, SAY, -1, NULL, "\n==> Builds finished. The artifacts of successful "
			   "builds are:");
		one_artifact(u, i, &a);
		free(a.id);
		free(a.string);
	}
	if (!shown)
		ui(u, SAY, -1, NULL, "\n==> Builds finished but no artifacts were created.");
}

/* ---- bakeami build ------------------------------------------------------- */

static int refuse(packer_ui *u, const char *msg)
{
	ui(u, ERROR_, -1, NULL, msg);
	return 1;
}

/* -on-error=ask asks on the terminal; a script has none. */
static int check_on_error(packer_ui *u, const cli_args *c)
{
	if (c->ask_on_error && !(isatty(STDIN_FILENO) && isatty(STDOUT_FILENO)))
		return refuse(u, "-on-error=ask needs a terminal to ask on (stdin and stdout are "
			      "not one): use -on-error=cleanup or -on-error=abort");
	if (c->ask_on_error)
		return refuse(u, "-on-error=ask is not supported by bakeami yet: use "
			      "-on-error=abort to keep what a failed build made, or cleanup");
	return 0;
}

/* ColoredUi's first line of each build, then one blank line. */
static void announce(packer_ui *u)
{
	size_t n = bakeami_builds_count(u->builds);
	char msg[512];

	if (!u->color || u->machine)
		return;
	for (size_t i = 0; i < n; i++) {
		snprintf(msg, sizeof(msg), "%s: output will be in this color.",
			 bakeami_builds_name(u->builds, i));
		int stamps = u->stamps;
		u->stamps = 0;   /* said before TimestampedUi wraps the build's Ui */
		ui(u, SAY, (int)i, NULL, msg);
		u->stamps = stamps;
	}
	if (n)
		ui(u, SAY, -1, NULL, "");
}

static int run_all(packer_ui *u)
{
	double t0;
	struct timespec ts;
	char *d, msg[128];
	size_t errs;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	t0 = ts.tv_sec + ts.tv_nsec / 1e9;
	announce(u);
	cli_run_builds(u->builds, on_signal, u);
	finished(u);
	clock_gettime(CLOCK_MONOTONIC, &ts);
	d = pui_duration(ts.tv_sec + ts.tv_nsec / 1e9 - t0);
	snprintf(msg, sizeof(msg), "\n==> Wait completed after %s", d ? d : "");
	free(d);
	ui(u, SAY, -1, NULL, msg);
	if (u->interrupted) {
		ui(u, SAY, -1, NULL, "Cleanly cancelled builds after being interrupted.");
		return 1;
	}
	errs = report_errors(u);
	report_artifacts(u);
	return errs ? 1 : 0;
}

int cli_run_build(const cli_command *cmd, cli_args *c)
{
	packer_ui u = {.c = c, .machine = c->machine_readable, .stamps = c->timestamp_ui};
	bakeami_options o;
	const char *no_color = getenv("PACKER_NO_COLOR");
	int rc;

	(void)cmd;
	u.color = c->color && !c->machine_readable && !(no_color && *no_color);
	pthread_mutex_init(&u.mu, NULL);
	if (check_on_error(&u, c))
		return 1;
	cli_fill_options(&o, c);
	o.log_cb = NULL;   /* each bake's VALIDATE says the warnings once */
	/* Packer prepares every build before running any: a bad template runs nothing. */
	if ((rc = bakeami_template_validate(&o)) < 0)
		return refuse(&u, bakeami_error_last());
	o.log_cb = on_event;   /* events come from the builds' threads, from run on */
	o.log_payload = &u;
	if ((rc = bakeami_builds_new(&u.builds, &o)) < 0)
		return refuse(&u, bakeami_error_last());
	u.elapsed = calloc(bakeami_builds_count(u.builds) + 1, sizeof(*u.elapsed));
	if (!u.elapsed) {
		bakeami_builds_free(u.builds);
		return refuse(&u, "out of memory");
	}
	rc = run_all(&u);
	bakeami_builds_free(u.builds);
	free(u.elapsed);
	pthread_mutex_destroy(&u.mu);
	return rc;
}

/* ---- bakeami inspect (core.go InspectConfig) ---------------------------- */

static int cmp_var(const void *a, const void *b)
{
	const char *x = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(*(cJSON *const *)a,
									      "name"));
	const char *y = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(*(cJSON *const *)b,
									      "name"));
	return strcmp(x, y);
}

/* The items of a JSON array, sorted by "name" (Packer sorts map keys). */
static cJSON **sorted(const cJSON *arr, size_t *n)
{
	cJSON **v = calloc((size_t)cJSON_GetArraySize(arr) + 1, sizeof(*v));
	cJSON *it;

	*n = 0;
	if (!v)
		return NULL;
	cJSON_ArrayForEach(it, arr)
		v[(*n)++] = it;
	qsort(v, *n, sizeof(*v), cmp_var);
	return v;
}

static const char *field(const cJSON *o, const char *key)
{
	const char *s = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, key));
	return s ? s : "";
}

static bool flag(const cJSON *o, const char *key)
{
	return cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, key));
}

static void inspect_variables(packer_ui *u, const cJSON *vars)
{
	size_t n, max = 0, required = 0;
	cJSON **v = sorted(vars, &n);
	char line[1024];

	if (!v)
		return;
	if (!n) {
		ui(u, SAY, -1, NULL, "Variables:\n");
		ui(u, SAY, -1, NULL, "  <No variables>");
	}
	for (size_t i = 0; i < n; i++)
		max = strlen(field(v[i], "name")) > max ? strlen(field(v[i], "name")) : max;
	for (size_t i = 0; i < n; i++) {
		const char *def = flag(v[i], "sensitive") ? "<sensitive>" : field(v[i], "default");
		if (!flag(v[i], "required"))
			continue;
		if (!required++)
			ui(u, SAY, -1, NULL, "Required variables:\n");
		machine_or_not(u, NULL, "template-variable",
			       (const char *[]){field(v[i], "name"), def, "1"}, 3);
		snprintf(line, sizeof(line), "  %s", field(v[i], "name"));
		ui(u, SAY, -1, NULL, line);
	}
	if (required)
		ui(u, SAY, -1, NULL, "");
	if (n)
		ui(u, SAY, -1, NULL, "Optional variables and their defaults:\n");
	for (size_t i = 0; i < n; i++) {
		const char *name = field(v[i], "name");
		const char *def = flag(v[i], "sensitive") ? "<sensitive>" : field(v[i], "default");
		if (flag(v[i], "required"))
			continue;
		snprintf(line, sizeof(line), "  %s%*s = %s", name, (int)(max - strlen(name)), "", def);
		machine_or_not(u, NULL, "template-variable", (const char *[]){name, def, "0"}, 3);
		ui(u, SAY, -1, NULL, line);
	}
	free(v);
}

static void inspect_builders(packer_ui *u, const cJSON *builders)
{
	size_t n, max = 0;
	cJSON **v = sorted(builders, &n);
	char line[1024];

	if (!v)
		return;
	ui(u, SAY, -1, NULL, "Builders:\n");
	if (!n)
		ui(u, SAY, -1, NULL, "  <No builders>");
	for (size_t i = 0; i < n; i++)
		max = strlen(field(v[i], "name")) > max ? strlen(field(v[i], "name")) : max;
	for (size_t i = 0; i < n; i++) {
		const char *name = field(v[i], "name"), *type = field(v[i], "type");
		int k = snprintf(line, sizeof(line), "  %s%*s", name, (int)(max - strlen(name)), "");
		if (strcmp(name, type) && k > 0 && (size_t)k < sizeof(line))
			snprintf(line + k, sizeof(line) - (size_t)k, " (%s)", type);
		machine_or_not(u, NULL, "template-builder", (const char *[]){name, type}, 2);
		ui(u, SAY, -1, NULL, line);
	}
	free(v);
}

static void inspect_provisioners(packer_ui *u, const cJSON *provs)
{
	const cJSON *p;
	char line[512];

	ui(u, SAY, -1, NULL, "Provisioners:\n");
	if (!cJSON_GetArraySize(provs))
		ui(u, SAY, -1, NULL, "  <No provisioners>");
	cJSON_ArrayForEach(p, provs) {
		machine_or_not(u, NULL, "template-provisioner", (const char *[]){p->valuestring}, 1);
		snprintf(line, sizeof(line), "  %s", p->valuestring);
		ui(u, SAY, -1, NULL, line);
	}
}

int cli_run_inspect(const cli_command *cmd, cli_args *c)
{
	packer_ui u = {.c = c, .machine = c->machine_readable};
	bakeami_options o;
	char *json = NULL, desc[4096];
	cJSON *doc;

	(void)cmd;
	cli_fill_options(&o, c);
	if (bakeami_template_inspect(&json, &o) < 0)
		return refuse(&u, bakeami_error_last());
	doc = cJSON_Parse(json);
	free(json);
	if (!doc)
		return refuse(&u, "out of memory");
	ui(&u, SAY, -1, NULL, "Packer Inspect: JSON mode");
	if (*field(doc, "description")) {
		ui(&u, SAY, -1, NULL, "Description:\n");
		snprintf(desc, sizeof(desc), "%s\n", field(doc, "description"));
		ui(&u, SAY, -1, NULL, desc);
	}
	inspect_variables(&u, cJSON_GetObjectItemCaseSensitive(doc, "variables"));
	ui(&u, SAY, -1, NULL, "");
	inspect_builders(&u, cJSON_GetObjectItemCaseSensitive(doc, "builders"));
	ui(&u, SAY, -1, NULL, "");
	inspect_provisioners(&u, cJSON_GetObjectItemCaseSensitive(doc, "provisioners"));
	ui(&u, SAY, -1, NULL, "\nNote: If your build names contain user variables or template\n"
	   "functions such as 'timestamp', these are processed at build time,\n"
	   "and therefore only show in their raw form here.");
	cJSON_Delete(doc);
	return 0;
}
