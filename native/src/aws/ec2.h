/*
 * ec2.h - the EC2 operations a bake needs, typed. Each call is one
 * bk_aws_query(); errors come back as BAKEAMI_EAWS with the AWS code in
 * the last error message.
 */
#ifndef BK_EC2_H
#define BK_EC2_H

#include "aws.h"
#include "../util/types.h"

typedef struct {
	char *id;
	char *name;
	char *state;           /* "available", "pending", "failed" */
	char *owner_id;
	char *creation_date;   /* ISO 8601 */
	char *root_device_type;
	char *deprecation_time; /* ISO 8601; NULL: none */
	bk_kv tags;
	bk_strv snapshot_ids;  /* from the block device mappings */
} bk_ec2_image;

typedef struct {
	bk_ec2_image *items;
	size_t count;
} bk_ec2_images;
void bk_ec2_images_free(bk_ec2_images *imgs);

typedef struct {
	const char *const *image_ids;  size_t image_ids_count;
	const char *const *owners;     size_t owners_count;
	const bk_kv *filters;          /* name -> value (one value per name) */
	/* A lookup whose answer may be that of the same query another bake of
	 * the process has in flight (a source AMI's filters). */
	bool shared;
} bk_ec2_image_query;

/* Images matching the query, sorted newest first by creation date.
 * BAKEAMI_ENOTFOUND when an ImageId is unknown (InvalidAMIID.NotFound).
 * One ImageId alone is asked together with the other bakes' of the
 * process asking at about the same time (ec2_shared.c). */
int bk_ec2_describe_images(bk_ec2_images *out, bk_aws *aws, const char *region,
			   const bk_ec2_image_query *q);
/* The account's own images called exactly `name` in region (NULL: the
 * client's), newest first; EC2 keeps a name unique per region. */
int bk_ec2_describe_images_named(bk_ec2_images *out, bk_aws *aws, const char *region,
				 const char *name);

int bk_ec2_import_key_pair(char **out_key_pair_id, bk_aws *aws, const char *name,
			   const char *public_key_line, const bk_kv *tags);
int bk_ec2_delete_key_pair(bk_aws *aws, const char *name);

int bk_ec2_create_security_group(char **out_group_id, bk_aws *aws, const char *name,
				 const char *description, const char *vpc_id,
				 const bk_kv *tags);
/* tcp ingress on port from each CIDR. */
int bk_ec2_authorize_ingress(bk_aws *aws, const char *group_id, int port,
			     const char *const *cidrs, size_t cidrs_count);
/* Retries DependencyViolation until `deadline` (bk_now() seconds). */
int bk_ec2_delete_security_group(bk_aws *aws, const char *group_id, double deadline);

typedef struct {
	const char *image_id;
	const char *instance_type;
	const char *key_name;            /* NULL: none */
	const char *const *security_group_ids; size_t security_group_ids_count;
	const char *subnet_id;           /* NULL: default */
	const char *iam_instance_profile; /* name or ARN; NULL: none */
	const char *user_data;           /* plain text; base64-encoded here */
	const char *availability_zone;
	const char *tenancy;             /* Placement.Tenancy; NULL: EC2's default */
	bool unlimited_cpu_credits;      /* CreditSpecification (T2 Unlimited) */
	int associate_public_ip;         /* -1 unset, 0, 1 */
	const char *http_tokens;         /* "required" (default) or "optional" */
	int http_put_response_hop_limit; /* 0: unset */
	const char *http_endpoint;       /* NULL: unset */
	const char *shutdown_behavior;   /* NULL: unset */
	const bk_bdm *bdms; size_t bdms_count;
	const bk_kv *instance_tags;
	const bk_kv *volume_tags;
	const char *client_token;        /* required: idempotency */
} bk_ec2_run_request;

typedef struct {
	char *id;
	char *state;          /* pending, running, shutting-down, terminated, stopping, stopped */
	char *public_ip;
	char *private_ip;
	char *public_dns;
	char *private_dns;
	char *vpc_id;
	char *subnet_id;
	char *image_id;
	bk_kv tags;
	char *architecture;   /* x86_64, arm64, i386 */
	bk_strv volume_ids;   /* its EBS volumes (blockDeviceMapping), once attached */
} bk_ec2_instance;
void bk_ec2_instance_free(bk_ec2_instance *inst);

/* On an AWS error, code (may be NULL) gets its code. */
int bk_ec2_run_instance(bk_ec2_instance *out, bk_aws *aws, const bk_ec2_run_request *req,
			char code[64]);
/* ---- spot, as Packer 1.6.6 launches it (ec2_spot.c) ---- */
typedef struct {
	char *fleet_id;      /* set whenever EC2 made the fleet */
	char *instance_id;   /* the fleet's instance; NULL: none */
	char *error_code;    /* why none: InsufficientInstanceCapacity, ... */
} bk_ec2_fleet;
void bk_ec2_fleet_free(bk_ec2_fleet *f);
/* A launch template of req's settings (its instance_type NULL: none), spot
 * market, one-time, max_price NULL: none sent (EC2 caps at the on-demand price);
 * spot_tags on the spot request, tags on the template; req->client_token
 * makes it idempotent. */
int bk_ec2_create_launch_template(char **out_id, bk_aws *aws, const char *name,
				  const bk_ec2_run_request *req, const char *max_price,
				  const bk_kv *spot_tags, const bk_kv *tags);
/* An instant fleet of one spot instance of `type` from the template: 0
 * with out->instance_id, else BAKEAMI_EAWS with out->error_code. */
int bk_ec2_create_fleet(bk_ec2_fleet *out, bk_aws *aws, const char *template_id,
			const char *type, const char *token, const bk_kv *tags);
/* spot_price "auto" (bakeami's reading, not Packer 1.6.6's): the highest
 * price DescribeSpotPriceHistory lists for any of types, of product, in
 * zone (NULL: every zone), over the last hour, every page. None at all is
 * BAKEAMI_ENOTFOUND naming what was asked. */
typedef struct {
	const char *const *types;
	size_t types_count;
	const char *product;   /* "Linux/UNIX", ... */
	const char *zone;
} bk_spot_price_query;
typedef struct {
	char *price;      /* as EC2 wrote it: what MaxPrice gets */
	double value;
	size_t rows;      /* history rows read */
} bk_spot_price;
int bk_ec2_spot_price_max(bk_spot_price *out, bk_aws *aws, const bk_spot_price_query *q);
void bk_spot_price_free(bk_spot_price *p);
/* Gone already: BAKEAMI_ENOTFOUND. DeleteFleets terminates its instance. */
int bk_ec2_delete_launch_template(bk_aws *aws, const char *id);
int bk_ec2_delete_fleet(bk_aws *aws, const char *id);

/* ENOTFOUND when EC2 does not (yet) know the id. */
int bk_ec2_describe_instance(bk_ec2_instance *out, bk_aws *aws, const char *instance_id);
/* A volume's state ("available", "in-use", ...): a new string in *state;
 * BAKEAMI_ENOTFOUND when it does not exist. */
int bk_ec2_volume_state(char **state, bk_aws *aws, const char *volume_id);
/* DeleteVolume; one already gone: BAKEAMI_ENOTFOUND. */
int bk_ec2_delete_volume(bk_aws *aws, const char *volume_id);
/* BAKEAMI_ENOTFOUND: it was gone or going (terminated, shutting-down)
 * already; so for every delete below, to tell "already gone" apart. */
int bk_ec2_terminate_instance(bk_aws *aws, const char *instance_id);

typedef struct {
	const char *instance_id;
	const char *name;
	const char *description;
	const bk_bdm *bdms; size_t bdms_count;
	const bk_kv *image_tags;
	const bk_kv *snapshot_tags;
	const char *client_token;
} bk_ec2_image_request;
/* CreateImage with TagSpecifications (image, and snapshot when given). */
int bk_ec2_create_image(char **out_image_id, bk_aws *aws, const bk_ec2_image_request *req);
int bk_ec2_deregister_image(bk_aws *aws, const char *region, const char *image_id);
int bk_ec2_delete_snapshot(bk_aws *aws, const char *region, const char *snapshot_id);
/* Deregister img, then (with_snapshots) delete its snapshots: EC2 refuses
 * to delete a snapshot an image still uses. Packer's force_deregister. */
int bk_ec2_deregister_image_and_snapshots(bk_aws *aws, const char *region,
					  const bk_ec2_image *img, bool with_snapshots);
int bk_ec2_create_tags(bk_aws *aws, const char *region, const char *const *resource_ids,
		       size_t count, const bk_kv *tags);

/* ---- finding bakeami resources by tag (cleanup --run-id / --stale) ---- */
typedef struct {
	char *type;    /* "instance", "volume", "key-pair", "security-group", "image", "snapshot" */
	char *id;      /* for key pairs, the key name */
	char *run_id;  /* bakeami:run-id */
	char *expires; /* bakeami:expires, ISO 8601 */
	char *state;   /* instances and volumes: state; else NULL */
} bk_ec2_tagged;
typedef struct {
	bk_ec2_tagged *items;
	size_t count;
} bk_ec2_tagged_list;
void bk_ec2_tagged_free(bk_ec2_tagged_list *l);
/* Every resource carrying tag bakeami:run-id (= run_id, or any if NULL),
 * via DescribeTags (resource-type filter) + state for instances. */
int bk_ec2_find_tagged(bk_ec2_tagged_list *out, bk_aws *aws, const char *region,
		       const char *run_id);

/* ---- promotion (issue 4): ec2_promote.c and ssm.c ---------------------- */

typedef struct {
	const char *source_image_id;
	const char *source_region;
	const char *name;          /* required by EC2: the copy's name */
	const char *description;   /* NULL: none */
	int encrypted;             /* 1: Encrypted=true */
	const char *kms_key_id;    /* with encrypted; NULL: the region's default key */
	const char *client_token;  /* required: a retried CopyImage never copies twice */
} bk_ec2_copy_request;
/* CopyImage into `region` (the call is signed for it); the copy's id. */
int bk_ec2_copy_image(char **out_image_id, bk_aws *aws, const char *region,
		      const bk_ec2_copy_request *req);

/* Who may launch an image. */
typedef struct {
	bk_strv users;      /* account ids */
	bk_strv groups;     /* "all" */
	bk_strv org_arns;   /* arn:aws:organizations::...:organization/o-... */
	bk_strv ou_arns;    /* arn:aws:organizations::...:ou/o-.../ou-... */
} bk_ec2_perms;
void bk_ec2_perms_free(bk_ec2_perms *p);
bool bk_ec2_perms_empty(const bk_ec2_perms *p);
/* ModifyImageAttribute LaunchPermission.Add (add) or .Remove; nothing to
 * do when p is empty. */
int bk_ec2_launch_permission(bk_aws *aws, const char *region, const char *image_id,
			     bool add, const bk_ec2_perms *p);
/* DescribeImageAttribute launchPermission. */
int bk_ec2_describe_launch_permission(bk_ec2_perms *out, bk_aws *aws, const char *region,
				      const char *image_id);
/* ModifySnapshotAttribute createVolumePermission add/remove for account ids
 * and groups ("all"). */
int bk_ec2_volume_permission(bk_aws *aws, const char *region, const char *snapshot_id,
			     bool add, const bk_strv *users, const bk_strv *groups);
/* DescribeSnapshotAttribute createVolumePermission: account ids, groups. */
int bk_ec2_describe_volume_permission(bk_strv *users, bk_strv *groups, bk_aws *aws,
				      const char *region, const char *snapshot_id);
/* The image's deprecationTime (DescribeImages), NULL when none is set. */
int bk_ec2_image_deprecation_time(char **out, bk_aws *aws, const char *region,
				  const char *image_id);
/* EnableImageDeprecation at deprecate_at (ISO 8601), or with NULL
 * DisableImageDeprecation. */
int bk_ec2_image_deprecation(bk_aws *aws, const char *region, const char *image_id,
			     const char *deprecate_at);
/* DeleteTags: each key with its value (only a tag with that value goes). */
int bk_ec2_delete_tags(bk_aws *aws, const char *region, const char *const *resource_ids,
		       size_t count, const bk_kv *tags);
/* Which of the images an instance still uses (pending, running, stopping or
 * stopped): image id -> one such instance id. */
int bk_ec2_images_in_use(bk_kv *out, bk_aws *aws, const char *region,
			 const char *const *image_ids, size_t count);

/* SSM Parameter Store (JSON protocol). */
typedef struct {
	char *value;       /* NULL: the parameter does not exist */
	char *type;        /* String, StringList, SecureString */
	char *data_type;   /* text, aws:ec2:image */
} bk_ssm_parameter;
void bk_ssm_parameter_free(bk_ssm_parameter *p);
/* GetParameter; a parameter that does not exist is not an error (value NULL). */
int bk_ssm_get_parameter(bk_ssm_parameter *out, bk_aws *aws, const char *region,
			 const char *name);
/* PutParameter with Overwrite; type NULL: String, data_type NULL: text. */
int bk_ssm_put_parameter(bk_aws *aws, const char *region, const char *name,
			 const char *value, const char *type, const char *data_type);
/* DeleteParameter; one already gone: BAKEAMI_ENOTFOUND. */
int bk_ssm_delete_parameter(bk_aws *aws, const char *region, const char *name);

/* Secrets Manager GetSecretValue of the current version (AWSCURRENT):
 * the SecretString (a new string), for {{aws_secretsmanager}}. A secret
 * with only a SecretBinary is BAKEAMI_EINVALID. */
int bk_secrets_get_string(char **out, bk_aws *aws, const char *secret_id);

/* ---- amazon-instance (ec2_register.c) ---------------------------------- */
typedef struct {
	const char *name;
	const char *description;          /* NULL: none */
	const char *image_location;       /* "<bucket>/<prefix>.manifest.xml" */
	const char *architecture;         /* NULL: EC2's default */
	const char *virtualization_type;  /* NULL: EC2's default */
	int ena_support, sriov_support;   /* 1: set; else left alone */
	const bk_bdm *bdms; size_t bdms_count;
	const bk_kv *image_tags;
	const char *run_id;               /* our bakeami:run-id: adopt our own on a lost answer */
} bk_ec2_register_request;
/* RegisterImage of an uploaded bundle. */
int bk_ec2_register_image(char **out_image_id, bk_aws *aws, const bk_ec2_register_request *req);
/* The build's VPC: vpc_id, else subnet_id's (DescribeSubnets), else the
 * region's default VPC (DescribeVpcs). */
int bk_ec2_build_vpc(char **out_vpc_id, bk_aws *aws, const char *vpc_id, const char *subnet_id);
/* The ids of the groups called names[] in vpc_id, in that order
 * (DescribeSecurityGroups by group-name); a name with no group is
 * BAKEAMI_ENOTFOUND naming it. */
int bk_ec2_security_groups_named(bk_strv *out_ids, bk_aws *aws, const char *vpc_id,
				 const char *const *names, size_t n);

/* ---- the network by filters (ec2_network.c) ----------------------------- */
/* The one VPC the filters match (else BAKEAMI_EAWS listing them, or
 * BAKEAMI_ENOTFOUND). */
int bk_ec2_find_vpc(char **out_vpc_id, bk_aws *aws, const bk_kv *filters);
/* The primary CIDR block of vpc_id (DescribeVpcs), appended to out. */
int bk_ec2_vpc_cidrs(bk_strv *out, bk_aws *aws, const char *vpc_id);
typedef enum { BK_SUBNET_ONE, BK_SUBNET_MOST_FREE, BK_SUBNET_RANDOM } bk_ec2_subnet_pick;
typedef struct {
	char *id, *zone, *vpc_id;
	long free_ips;                    /* availableIpAddressCount */
	size_t matched;                   /* how many the filters matched */
} bk_ec2_subnet;
/* An available subnet the filters match, in vpc_id and zone when given
 * (NULL: any), chosen as Packer does. */
int bk_ec2_find_subnet(bk_ec2_subnet *out, bk_aws *aws, const bk_kv *filters,
		       const char *vpc_id, const char *zone, bk_ec2_subnet_pick pick);
void bk_ec2_subnet_free(bk_ec2_subnet *s);
/* Every group the filters match (in vpc_id when given); none is
 * BAKEAMI_ENOTFOUND. Appends to out_ids. */
int bk_ec2_find_security_groups(bk_strv *out_ids, bk_aws *aws, const bk_kv *filters,
				const char *vpc_id);

#endif
