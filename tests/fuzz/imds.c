/*
 * imds.c - libFuzzer target: the instance metadata service's credentials
 * document (an instance role's keys and their expiry time).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "aws/aws.h"
#include "aws/aws_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	bk_aws_creds c = {0};
	char *json = malloc(size + 1);

	if (!json)
		return 0;
	memcpy(json, data, size);
	json[size] = '\0';
	bk_aws__imds_parse_creds(&c, json, "fuzz-role");
	bk_aws__creds_clear(&c);
	free(json);
	bk_err_clear();
	return 0;
}
