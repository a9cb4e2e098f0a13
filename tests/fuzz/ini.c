/*
 * ini.c - libFuzzer target: the AWS config/credentials INI reader. The
 * input is the file; the lookups are the ones credential resolution makes.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "aws/aws.h"
#include "aws/aws_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const sections[] = {"default", "profile dev", "dev", "sso-session x"};
	static const char *const keys[] = {"aws_access_key_id", "region", "role_arn",
					   "source_profile"};
	char *text = malloc(size + 1);

	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	for (size_t s = 0; s < sizeof(sections) / sizeof(*sections); s++) {
		bk_ini__has_section(text, sections[s]);
		for (size_t k = 0; k < sizeof(keys) / sizeof(*keys); k++)
			free(bk_ini_get(text, sections[s], keys[k]));
	}
	free(text);
	bk_err_clear();
	return 0;
}
