/*
 * rspec.c - libFuzzer target: the reader of rspec's JSON report (what the
 * Serverspec suite on the agent writes; a hostile suite controls it).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "verify/verify.h"
#include "verify/verify_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	bk_test_report r;
	size_t examples;
	char *json = malloc(size + 1);

	if (!json)
		return 0;
	memcpy(json, data, size);
	json[size] = '\0';
	memset(&r, 0, sizeof(r));
	bk_serverspec_parse(&r, "serverspec", json, &examples);
	bk_test_report_free(&r);
	free(json);
	bk_err_clear();
	return 0;
}
