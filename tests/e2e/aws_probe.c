/*
 * aws_probe - a tiny driver of the aws layer for tests/e2e/test_aws_signing.py.
 * Credentials, region and endpoint come from the environment (the chain).
 *
 *   aws_probe describe-images [NAME]  signed EC2 DescribeImages (Owner self,
 *                                 optionally Filter name=NAME)
 *   aws_probe whoami              signed STS GetCallerIdentity, prints the ARN
 *   aws_probe ssm-get NAME        signed SSM GetParameter (JSON protocol)
 *   aws_probe s3-list BUCKET PREFIX      signed S3 ListObjectsV2, one key a line
 *   aws_probe s3-delete BUCKET PREFIX    every object under PREFIX deleted
 *   aws_probe s3-head BUCKET KEY         HeadObject: exists=1 or exists=0
 *   aws_probe describe-instances-shared FIRST ID...
 *                                 DescribeInstances of FIRST, then "asked first",
 *                                 a line read from stdin, then one thread per ID,
 *                                 each with its own client as each bake has;
 *                                 "id=<id> rc=<rc> state=<state>" each
 *
 * Prints "source=<credential source>" first, then the result; on failure
 * "error: <message>" on stderr and exit status 1.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aws/ec2.h"
#include "aws/s3.h"

static void log_line(bk_log_level level, const char *msg, void *payload)
{
	(void)payload;
	fprintf(stderr, "log %d: %s\n", (int)level, msg);
}

static int describe_images(bk_aws *aws, const char *name)
{
	const char *self = "self";
	bk_kv filters = BK_KV_INIT;
	bk_ec2_image_query q = {NULL, 0, &self, 1, &filters, false};
	bk_ec2_images imgs;
	int rc = name ? bk_kv_add(&filters, "name", name) : 0;

	if (rc == 0)
		rc = bk_ec2_describe_images(&imgs, aws, NULL, &q);
	bk_kv_free(&filters);

	if (rc == 0) {
		printf("images=%zu\n", imgs.count);
		bk_ec2_images_free(&imgs);
	}
	return rc;
}

static int whoami(bk_aws *aws)
{
	xmlDocPtr doc = NULL;
	int rc = bk_aws_query(&doc, aws, "sts", NULL, "GetCallerIdentity", NULL, NULL);

	if (rc == 0) {
		char *arn = bk_xml_child_text(bk_xml_find(xmlDocGetRootElement(doc),
							  "GetCallerIdentityResult"), "Arn");
		printf("arn=%s\n", arn ? arn : "");
		free(arn);
	}
	xmlFreeDoc(doc);
	return rc;
}

static int ssm_get(bk_aws *aws, const char *name)
{
	cJSON *body = cJSON_CreateObject(), *out = NULL;
	int rc;

	if (!body || !cJSON_AddStringToObject(body, "Name", name)) {
		cJSON_Delete(body);
		return bk_err(BAKEAMI_ENOMEM, "out of memory");
	}
	rc = bk_aws_json(&out, aws, "ssm", NULL, "AmazonSSM.GetParameter", body, NULL);
	if (rc == 0) {
		const cJSON *v = cJSON_GetObjectItem(cJSON_GetObjectItem(out, "Parameter"), "Value");
		printf("value=%s\n", cJSON_IsString(v) ? v->valuestring : "");
	}
	cJSON_Delete(out);
	cJSON_Delete(body);
	return rc;
}

static int s3(bk_aws *aws, const char *cmd, const char *bucket, const char *arg)
{
	bk_strv keys = BK_STRV_INIT;
	size_t n = 0;
	int rc;

	if (strcmp(cmd, "s3-list") == 0) {
		rc = bk_s3_list(&keys, aws, NULL, bucket, arg);
		for (size_t i = 0; rc == 0 && i < keys.count; i++)
			printf("key=%s\n", keys.items[i]);
		bk_strv_free(&keys);
		return rc;
	}
	if (strcmp(cmd, "s3-delete") == 0) {
		if ((rc = bk_s3_delete_prefix(&n, aws, NULL, bucket, arg)) == 0)
			printf("deleted=%zu\n", n);
		return rc;
	}
	rc = bk_s3_head(aws, NULL, bucket, arg);
	if (rc == 0 || rc == BAKEAMI_ENOTFOUND)
		printf("exists=%d\n", rc == 0);
	return rc == BAKEAMI_ENOTFOUND ? 0 : rc;
}

typedef struct {
	const bk_aws_config *cfg;
	const char *id;
	pthread_t thread;
	int rc;
	char *state;
} describer;

static void *describe_one(void *arg)
{
	describer *d = arg;
	bk_ec2_instance inst = {0};
	bk_aws *aws = NULL;

	/* A client sends one call at a time: the bakes that share are many clients. */
	if ((d->rc = bk_aws_new(&aws, d->cfg)) == 0)
		d->rc = bk_ec2_describe_instance(&inst, aws, d->id);
	if (d->rc == 0)
		d->state = bk_strdup(inst.state ? inst.state : "");
	bk_ec2_instance_free(&inst);
	bk_aws_free(aws);
	return NULL;
}

static int start(describer *d, const bk_aws_config *cfg, const char *id)
{
	d->cfg = cfg;
	d->id = id;
	return pthread_create(&d->thread, NULL, describe_one, d) ? bk_err(BAKEAMI_ERROR, "pthread_create")
								   : 0;
}

static void report(describer *d)
{
	pthread_join(d->thread, NULL);
	printf("id=%s rc=%d state=%s\n", d->id, d->rc, d->state ? d->state : "");
	free(d->state);
}

/* The first id's call is in flight (the test delays it at the proxy) when
 * the others ask, so they share the next call: the test says when, on
 * stdin, once the proxy has seen the first. */
static int describe_shared(const bk_aws_config *cfg, char **ids, int n)
{
	describer *d = calloc((size_t)n, sizeof(*d));
	char line[16];
	int started = 0, rc = d ? start(&d[0], cfg, ids[0]) : bk_oom();

	if (rc == 0) {
		started = 1;
		printf("asked first\n");
		fflush(stdout);
		if (!fgets(line, sizeof(line), stdin))
			rc = bk_err(BAKEAMI_EINVALID, "no go-ahead on stdin");
	}
	for (; rc == 0 && started < n; started++)
		rc = start(&d[started], cfg, ids[started]);
	for (int i = 0; i < started; i++)
		report(&d[i]);
	free(d);
	return rc;
}

int main(int argc, char **argv)
{
	bk_aws_config cfg = {0};
	bk_aws *aws = NULL;
	int rc;

	if (argc < 2) {
		fprintf(stderr, "usage: aws_probe describe-images [NAME]|whoami|ssm-get NAME\n");
		return 2;
	}
	cfg.log.fn = log_line;
	rc = bk_aws_new(&aws, &cfg);
	if (rc == 0) {
		printf("source=%s region=%s\n", bk_aws_credentials(aws)->source, bk_aws_region(aws));
		if (strcmp(argv[1], "describe-images") == 0)
			rc = describe_images(aws, argc > 2 ? argv[2] : NULL);
		else if (strcmp(argv[1], "whoami") == 0)
			rc = whoami(aws);
		else if (strcmp(argv[1], "ssm-get") == 0 && argc > 2)
			rc = ssm_get(aws, argv[2]);
		else if (strcmp(argv[1], "describe-instances-shared") == 0 && argc > 2)
			rc = describe_shared(&cfg, argv + 2, argc - 2);
		else if (!strncmp(argv[1], "s3-", 3) && argc > 3)
			rc = s3(aws, argv[1], argv[2], argv[3]);
		else
			rc = bk_err(BAKEAMI_EINVALID, "unknown command %s", argv[1]);
		printf("calls ec2=%ld sts=%ld ssm=%ld s3=%ld\n", bk_aws_call_count(aws, "ec2"),
		       bk_aws_call_count(aws, "sts"), bk_aws_call_count(aws, "ssm"),
		       bk_aws_call_count(aws, "s3"));
	}
	if (rc < 0)
		fprintf(stderr, "error: %s\n", bk_err_msg());
	bk_aws_free(aws);
	return rc < 0 ? 1 : 0;
}
