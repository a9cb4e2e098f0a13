/*
 * iam.c - libFuzzer target: the IAM answers of a temporary instance profile
 * (XML, from IAM's global endpoint) and Secrets Manager's GetSecretValue
 * (JSON), through fuzz_aws.h. The first byte picks the call.
 */
#include "fuzz_aws.h"
#include "aws/iam.h"

static void iam(int which)
{
	bk_aws *aws = fuzz_client();

	switch (which) {
	case 0: bk_iam_create_role(aws, "r", "/bakeami/", "{}", "d", NULL); break;
	case 1: bk_iam_create_instance_profile(aws, "p", "/bakeami/", NULL); break;
	case 2: bk_iam_put_role_policy(aws, "r", "p", "{}"); break;
	case 3: bk_iam_add_role_to_instance_profile(aws, "p", "r"); break;
	case 4: bk_iam_remove_role_from_instance_profile(aws, "p", "r"); break;
	case 5: bk_iam_delete_role_policy(aws, "r", "p"); break;
	case 6: bk_iam_delete_instance_profile(aws, "p"); break;
	case 7: bk_iam_delete_role(aws, "r"); break;
	case 8: bk_iam_role_exists(aws, "r"); break;
	default: bk_iam_instance_profile_exists(aws, "p"); break;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *secret = NULL;

	if (size < 1)
		return 0;
	fuzz_client();
	fuzz_replies_set(data + 1, size - 1);
	if (data[0] % 11 == 10)
		bk_secrets_get_string(&secret, fuzz_client(), "fuzz/secret");
	else
		iam(data[0] % 11);
	free(secret);
	bk_err_clear();
	return 0;
}
