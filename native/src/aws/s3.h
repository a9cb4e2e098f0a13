/*
 * s3.h - the S3 calls a bake needs for amazon-instance's bundles: list a
 * prefix, delete objects. REST calls, path-style against the S3 endpoint
 * (AWS_ENDPOINT_URL_S3, AWS_ENDPOINT_URL, else s3.<region>.amazonaws.com),
 * signed by libcurl (CURLOPT_AWS_SIGV4, service s3); XML by libxml2.
 */
#ifndef BK_S3_H
#define BK_S3_H

#include "aws.h"

/* The keys under prefix in bucket (ListObjectsV2, every page), in S3's
 * order. BAKEAMI_ENOTFOUND when the bucket does not exist. */
int bk_s3_list(bk_strv *out_keys, bk_aws *aws, const char *region, const char *bucket,
	       const char *prefix);
/* DeleteObjects, 1000 keys a call; a key already gone is no error. */
int bk_s3_delete(bk_aws *aws, const char *region, const char *bucket,
		 const char *const *keys, size_t count);
/* Every object under prefix deleted; *deleted (may be NULL) gets how
 * many there were. A missing bucket holds nothing: 0. */
int bk_s3_delete_prefix(size_t *deleted, bk_aws *aws, const char *region, const char *bucket,
			const char *prefix);
/* HeadObject: 0 when bucket/key exists, BAKEAMI_ENOTFOUND when not. */
int bk_s3_head(bk_aws *aws, const char *region, const char *bucket, const char *key);

#endif
