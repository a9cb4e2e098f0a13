/*
 * output.c - libFuzzer target: what a provisioner prints (Puppet, Ansible
 * or a script on the instance, so hostile) on its way to the console and
 * the JSON log: split into lines however the bytes arrive, each line
 * rendered as an OUTPUT event. Every JSON event must parse back, whatever
 * bytes the line held, or a CI log reader would choke on it.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "bake/bake.h"
#include "util/util.h"

static void render(int stream, const char *line, size_t len, void *payload)
{
	char *text = bk_strndup(line, len), *console = NULL, *json = NULL;
	bakeami_event ev = {BAKEAMI_EVENT_VERSION, BAKEAMI_EVENT_OUTPUT, 1.5, "provision",
			    text, NULL, NULL, stream, "fuzz"};
	cJSON *back;

	(void)payload;
	if (len > BK_LINE_MAX_BYTES)
		abort();   /* bk_lines' promise: long lines come in pieces */
	if (text && bk_event_render(&ev, "bk-fuzz", &console, &json) == 0) {
		if (!(back = cJSON_Parse(json)))
			abort();
		cJSON_Delete(back);
	}
	free(console);
	free(json);
	free(text);
}

/* The first byte sets the chunk size, as the SSH layer's reads vary. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	bk_lines lines = BK_LINES_INIT(1, render, NULL);
	size_t chunk;

	if (size == 0)
		return 0;
	chunk = (size_t)data[0] % 64 + 1;
	for (size_t off = 1; off < size; off += chunk)
		if (bk_lines_feed(&lines, data + off, size - off < chunk ? size - off : chunk) != 0)
			break;
	bk_lines_finish(&lines);
	bk_err_clear();
	return 0;
}
