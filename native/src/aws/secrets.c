/*
 * secrets.c - Secrets Manager's GetSecretValue over the JSON protocol, for
 * the aws_secretsmanager template function (Packer's: the current version,
 * the SecretString only).
 */
#include <stdlib.h>
#include <string.h>

#include "ec2.h"

int bk_secrets_get_string(char **out, bk_aws *aws, const char *secret_id)
{
	cJSON *body = cJSON_CreateObject(), *resp = NULL;
	const char *value;
	char code[64];
	int rc;

	*out = NULL;
	if (!body || !cJSON_AddStringToObject(body, "SecretId", secret_id) ||
	    !cJSON_AddStringToObject(body, "VersionStage", "AWSCURRENT")) {
		cJSON_Delete(body);
		return bk_oom();
	}
	rc = bk_aws_json(&resp, aws, "secretsmanager", NULL, "secretsmanager.GetSecretValue",
			 body, code);
	cJSON_Delete(body);
	value = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(resp, "SecretString"));
	if (rc == 0 && !value)
		rc = bk_err(BAKEAMI_EINVALID, "secret %s is not a string (it has no SecretString; "
			    "Packer reads only those)", secret_id);
	if (rc == 0 && !(*out = bk_strdup(value)))
		rc = bk_oom();
	if (value)   /* the reply's copy of the secret */
		memset((char *)value, 0, strlen(value));
	cJSON_Delete(resp);
	return rc;
}
