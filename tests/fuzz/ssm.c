/*
 * ssm.c - libFuzzer target: SSM's JSON-protocol answers (GetParameter,
 * PutParameter, DeleteParameter) and its error bodies, through fuzz_aws.h.
 */
#include "fuzz_aws.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	bk_ssm_parameter p = {0};

	if (size < 1)
		return 0;
	fuzz_client();
	fuzz_replies_set(data + 1, size - 1);
	switch (data[0] % 3) {
	case 0:
		bk_ssm_get_parameter(&p, fuzz_client(), NULL, "/fuzz/param");
		bk_ssm_parameter_free(&p);
		break;
	case 1:
		bk_ssm_put_parameter(fuzz_client(), NULL, "/fuzz/param", "ami-1", NULL,
				     "aws:ec2:image");
		break;
	default:
		bk_ssm_delete_parameter(fuzz_client(), NULL, "/fuzz/param");
		break;
	}
	bk_err_clear();
	return 0;
}
