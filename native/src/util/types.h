/*
 * types.h - value types that more than one layer speaks: the template's
 * plan holds them, aws/ sends them. Plain data, no behaviour.
 */
#ifndef BK_TYPES_H
#define BK_TYPES_H

#include <stddef.h>

/* One block device mapping, as EC2 takes it (launch or image). */
typedef struct {
	const char *device_name;
	int volume_size;          /* GiB, 0 = default */
	const char *volume_type;  /* NULL = default */
	int delete_on_termination; /* -1 unset, 0, 1 */
	int encrypted;             /* -1 unset */
	int iops, throughput;      /* 0 unset */
	const char *snapshot_id;
	const char *kms_key_id;
	int no_device;
} bk_bdm;

/* A list of integers (e.g. valid exit codes). */
typedef struct {
	int *items;
	size_t count;
} bk_intv;

#endif
