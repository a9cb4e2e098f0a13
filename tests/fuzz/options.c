/*
 * options.c - libFuzzer target: the bake options as one JSON document (what
 * the Jenkins plugin sends across JNI), read and written back.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bakeami.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	bakeami_options *o = NULL;
	char *json = malloc(size + 1);

	if (!json)
		return 0;
	memcpy(json, data, size);
	json[size] = '\0';
	if (bakeami_options_from_json(&o, json) == 0) {
		char *back = NULL;
		bakeami_options_to_json(&back, o);
		free(back);
	}
	bakeami_options_free(o);
	free(json);
	return 0;
}
