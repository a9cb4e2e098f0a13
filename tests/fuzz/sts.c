/*
 * sts.c - libFuzzer target: STS AssumeRole's answer (the credentials a
 * role_arn profile is renewed with), through fuzz_aws.h: the client is set
 * to renew by AssumeRole and asked to renew now.
 */
#include "fuzz_aws.h"

static bk_aws *role_client(void)
{
	bk_aws *aws = fuzz_client();

	if (aws->refresh.kind != BK_REFRESH_ASSUME_ROLE) {
		aws->refresh.kind = BK_REFRESH_ASSUME_ROLE;
		if (bk_aws__creds_set(&aws->refresh.source, "AKIDSOURCE", "source-secret", NULL,
				      "fuzz", 0) != 0 ||
		    !(aws->refresh.role_arn = bk_strdup("arn:aws:iam::123456789012:role/fuzz")) ||
		    !(aws->refresh.session_name = bk_strdup("fuzz")))
			abort();
	}
	return aws;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	bk_aws *aws = role_client();

	fuzz_replies_set(data, size);
	bk_aws__refresh_creds(aws, true);
	bk_err_clear();
	return 0;
}
