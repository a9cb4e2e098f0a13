/*
 * ssm.c - SSM Parameter Store, the "latest image" pointer: GetParameter,
 * PutParameter, DeleteParameter over the JSON protocol.
 */
#include <stdlib.h>
#include <string.h>

#include "ec2.h"

void bk_ssm_parameter_free(bk_ssm_parameter *p)
{
	if (!p)
		return;
	free(p->value);
	free(p->type);
	free(p->data_type);
	memset(p, 0, sizeof(*p));
}

/* Copy the string member `key` of obj into *out (NULL when absent). */
static int take_string(char **out, const cJSON *obj, const char *key)
{
	const char *v = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(obj, key));

	*out = NULL;
	if (v && !(*out = bk_strdup(v)))
		return bk_oom();
	return 0;
}

/* A body {"Name": name} plus what the caller adds. */
static cJSON *name_body(const char *name)
{
	cJSON *body = cJSON_CreateObject();

	if (body && !cJSON_AddStringToObject(body, "Name", name)) {
		cJSON_Delete(body);
		body = NULL;
	}
	return body;
}

static int ssm_call(bk_aws *aws, const char *region, const char *op, cJSON *body,
		    cJSON **out, char code[64])
{
	char target[64] = "AmazonSSM.";
	cJSON *resp = NULL;
	int rc;

	if (!body)
		return bk_oom();
	strncat(target, op, sizeof(target) - strlen(target) - 1);
	rc = bk_aws_json(&resp, aws, "ssm", region, target, body, code);
	cJSON_Delete(body);
	if (out)
		*out = resp;
	else
		cJSON_Delete(resp);
	return rc;
}

int bk_ssm_get_parameter(bk_ssm_parameter *out, bk_aws *aws, const char *region,
			 const char *name)
{
	const cJSON *param;
	cJSON *resp = NULL;
	char code[64];
	int rc;

	memset(out, 0, sizeof(*out));
	/* No decryption: a pointer to an image is never a SecureString, and the
	 * caller refuses to overwrite one. */
	rc = ssm_call(aws, region, "GetParameter", name_body(name), &resp, code);
	if (rc == BAKEAMI_EAWS && strcmp(code, "ParameterNotFound") == 0) {
		bk_err_clear();
		return 0;
	}
	param = cJSON_GetObjectItemCaseSensitive(resp, "Parameter");
	if (rc == 0 && !cJSON_IsObject(param))
		rc = bk_err(BAKEAMI_EAWS, "GetParameter %s: the answer has no Parameter", name);
	if (rc == 0)
		rc = take_string(&out->value, param, "Value");
	if (rc == 0)
		rc = take_string(&out->type, param, "Type");
	if (rc == 0)
		rc = take_string(&out->data_type, param, "DataType");
	if (rc < 0)
		bk_ssm_parameter_free(out);
	cJSON_Delete(resp);
	return rc;
}

int bk_ssm_put_parameter(bk_aws *aws, const char *region, const char *name,
			 const char *value, const char *type, const char *data_type)
{
	cJSON *body = name_body(name);

	if (body && (!cJSON_AddStringToObject(body, "Value", value) ||
		     !cJSON_AddStringToObject(body, "Type", type ? type : "String") ||
		     !cJSON_AddStringToObject(body, "DataType", data_type ? data_type : "text") ||
		     !cJSON_AddTrueToObject(body, "Overwrite"))) {
		cJSON_Delete(body);
		body = NULL;
	}
	return ssm_call(aws, region, "PutParameter", body, NULL, NULL);
}

int bk_ssm_delete_parameter(bk_aws *aws, const char *region, const char *name)
{
	char code[64];
	int rc = ssm_call(aws, region, "DeleteParameter", name_body(name), NULL, code);

	if (rc == BAKEAMI_EAWS && strcmp(code, "ParameterNotFound") == 0)
		rc = bk_aws_gone("SSM parameter", name);
	return rc;
}
