/*
 * template.h - Packer JSON templates (amazon-ebs subset, DESIGN.md §4):
 * loading, variables, {{ }} interpolation, validation with JSON paths.
 * Makes no network call.
 *
 * Two phases, as Packer's deferred interpolation:
 *   bk_template_validate()  the validation pass: bk_template_load, then
 *                       every layer asked whether it can run the plan;
 *   bk_template_load()  parses, merges variables, validates every field and
 *                       renders everything with empty build variables into
 *                       the typed plan, so syntax errors and undefined
 *                       variables fail early;
 *   bk_template_bind()  renders again once the source AMI is known, giving
 *                       the final config with {{.SourceAMI}} etc. filled in.
 */
#ifndef BK_TEMPLATE_H
#define BK_TEMPLATE_H

#include <cJSON.h>

#include "../util/util.h"
#include "../util/types.h"
#include "promote_plan.h"

typedef struct bk_template bk_template;
typedef struct bk_test_plan bk_test_plan;   /* the tests section: verify/verify.h */

/* {{aws_secretsmanager}}: the SecretString of secret `name` (a new string
 * in *out), read by the layer that may call AWS (template/ makes none). */
typedef int (*bk_secret_fn)(char **out, const char *name, void *payload);

typedef struct {
	const char *path;
	const char *const *var_files; size_t var_files_count;
	const char *const *vars; size_t vars_count;     /* "k=v" */
	/* ---- builds (builds.c) ---- */
	const char *build;          /* the build to plan (its name); NULL: the one selected */
	const char *const *only; size_t only_count;     /* exact build names, as Packer's -only */
	const char *const *except; size_t except_count;
	int force;                  /* Packer's -force: force_deregister + force_delete_snapshot */
	bk_secret_fn secret;        /* NULL: aws_secretsmanager is refused */
	void *secret_payload;
} bk_template_source;

/* One builder of the template, as a build (builds.c). */
typedef struct {
	char *name;                 /* "name", else the type, rendered with the user variables:
				     * what -only/-except match */
	char *raw_name;             /* as written: provisioners' only/except and override */
	char *type;
	size_t index;               /* in builders[] */
	bool runnable;              /* amazon-ebs or amazon-instance */
} bk_build_info;
typedef struct {
	bk_build_info *items;       /* sorted by name: Packer's order */
	size_t count;
} bk_build_list;

/* Packer's rule (JSON mode): exact names; -only keeps the listed, -except
 * drops the listed. */
bool bk_build_selected(const char *name, const char *const *only, size_t only_count,
		       const char *const *except, size_t except_count);
bool bk_builder_type_runnable(const char *type);
/* The builds src->only/except select from tpl (parse checks, names rendered,
 * a selected build of a type bakeami does not run refused). */
int bk_template_builds(bk_build_list *out, const bk_template *tpl,
		       const bk_template_source *src);
void bk_build_list_free(bk_build_list *l);
/* The selected builds of a template, without making any plan: parse, the
 * variables, the builders' checks. For running several builds. */
int bk_template_select(bk_build_list *out, const bk_template_source *src);
/* Packer's `validate -syntax-only`: the JSON, the top level and the
 * builders', provisioners' and post-processors' shape; no variable. */
int bk_template_check_syntax(const bk_template_source *src);
/* Packer's `inspect`, as JSON: {"description", "variables":[{"name",
 * "default"|null, "required", "sensitive"}], "builders":[{"name","type"}],
 * "provisioners":["type", ...]}. Variables are not resolved. */
int bk_template_inspect(char **out, const bk_template_source *src);

/* `bakeami validate --dump-plan` (dump.c): the loaded build as {"name",
 * "type", "provisioners": [{"path", "type"}], "values": {JSON path: value
 * as decoded, defaults added}}, secrets masked; and the resolved user
 * variables as {name: value}. New items. */
int bk_template_dump(cJSON **out, const bk_template *tpl);
int bk_template_dump_vars(cJSON **out, const bk_template *tpl);

/* Errors are BAKEAMI_EINVALID with "<file>: <json.path>: <what>" or, for
 * JSON syntax, "<file>:<line>:<col>: <what>". */
int bk_template_load(bk_template **out, const bk_template_source *src);
/* The one validation pass, for bakes and `bakeami validate` alike: the
 * plan of bk_template_load, then what no layer can run refused (e.g.
 * "<file>: provisioners[2].type: ... not supported by this build") and
 * settings that cannot work together. The load's notes are appended to
 * warnings (may be NULL), also when it fails. */
int bk_template_validate(bk_template **out, bk_strv *warnings, const bk_template_source *src);
void bk_template_free(bk_template *tpl);

/* Values of sensitive variables (and any secret_key / token fields), for
 * masking in logs. */
const bk_strv *bk_template_secrets(const bk_template *tpl);
/* Notes for the log made while loading: trailing commas removed, the old
 * clean_ami_name and puppet-server `options` accepted, post-processors
 * ignored. Never holds secrets. */
const bk_strv *bk_template_warnings(const bk_template *tpl);
/* The run start (epoch seconds) that {{isotime}} and {{timestamp}} use, and
 * the run id ({{build `PackerRunUUID`}} when bk_build_vars.run_id is NULL). */
double bk_template_start_time(const bk_template *tpl);
const char *bk_template_run_id(const bk_template *tpl);
/* A resolved user variable, or NULL when not declared. */
const char *bk_template_var(const bk_template *tpl, const char *name);

/* Build variables, known after the source AMI is resolved. */
typedef struct {
	const char *source_ami;
	const char *source_ami_name;
	const char *source_ami_creation_date;
	const char *source_ami_owner;
	const bk_kv *source_ami_tags;
	const char *build_region;
	const char *run_id;       /* {{build `PackerRunUUID`}} */
	const char *ssh_host, *ssh_user, *instance_id;
	int ssh_port;
} bk_build_vars;

typedef enum {
	BK_PROV_SHELL,
	BK_PROV_FILE,
	BK_PROV_SHELL_LOCAL,
	BK_PROV_PUPPET_MASTERLESS,
	BK_PROV_PUPPET_SERVER,
	BK_PROV_ANSIBLE_LOCAL,
	BK_PROV_ANSIBLE
} bk_prov_type;

/* shell: Packer's keys, read and checked; scripts are the local files found. */
typedef struct {
	bk_strv inline_lines;        /* inline; empty when scripts are given */
	bk_strv scripts;             /* script, or scripts: paths that exist */
	bk_strv environment_vars;    /* "NAME=value", names checked */
	bk_kv env;
	char *execute_command;       /* NULL: Packer's default */
	char *inline_shebang;        /* NULL: "/bin/sh -e" */
	char *remote_folder, *remote_file, *remote_path;   /* NULL: unset */
	char *env_var_format;        /* NULL: the default for use_env_var_file */
	int expect_disconnect, skip_clean, binary, use_env_var_file;
	bk_intv valid_exit_codes;    /* empty: {0} */
	double start_retry_timeout_s;
	double pause_after_s;
} bk_prov_shell_cfg;

/* file: upload (sources or content) or download (sources are remote). */
typedef struct {
	bk_strv sources;             /* source, or sources; local uploads found */
	char *destination;
	char *content;               /* NULL: none */
	int download;                /* direction "download" */
	int generated;               /* sources appear during the build */
} bk_prov_file_cfg;

/* shell-local: run on the agent. */
typedef struct {
	bk_strv inline_lines;        /* command, then inline */
	bk_strv scripts;             /* script, then scripts (paths as written) */
	char *inline_shebang;        /* NULL: "/bin/sh -e" */
	bk_strv environment_vars;
	bk_kv env;
	bk_intv valid_exit_codes;    /* empty: {0} */
} bk_prov_local_cfg;

/* puppet-masterless and puppet-server (Packer 1.6.6's keys); local paths
 * are the files and directories found. */
typedef struct {
	bk_kv facter;
	bk_strv extra_arguments;     /* rendered with the command's fields */
	char *execute_command;       /* NULL: Packer's default */
	char *staging_dir;           /* staging_directory / staging_dir; NULL: Packer's */
	char *working_dir;           /* NULL: the staging directory */
	char *puppet_bin_dir;
	char *guest_os_type;         /* NULL or "unix" */
	int prevent_sudo, ignore_exit_codes;
	int clean_staging_dir;       /* -1 unset: removed, as nothing temporary stays */
	char *manifest_file;         /* masterless: a file or a directory */
	char *manifest_dir, *hiera_config_path;
	bk_strv module_paths;
	char *puppet_server, *puppet_node;                   /* server */
	char *client_cert_path, *client_private_key_path;    /* directories */
	char *options;               /* server: the old key, beside extra_arguments */
} bk_prov_puppet_cfg;

/* ansible-local: uploaded to staging_directory, run on the instance.
 * Local paths are the files and folders found. */
typedef struct {
	char *playbook_file;         /* or playbook_files: one of the two */
	bk_strv playbook_files;
	char *playbook_dir;          /* uploaded as the staging folder itself */
	bk_strv playbook_paths, role_paths;   /* folders */
	char *group_vars, *host_vars;         /* folders */
	char *inventory_file, *galaxy_file;   /* NULL: none (we write the inventory) */
	bk_strv extra_arguments, inventory_groups;
	char *staging_directory;     /* NULL: /tmp/packer-provisioner-ansible-local/<uuid> */
	int clean_staging_directory;
	char *command;               /* NULL: Packer's default */
	char *galaxy_command;        /* NULL: ansible-galaxy */
} bk_prov_ansible_local_cfg;

/* ansible: run on the agent against the instance, connecting directly. */
typedef struct {
	char *playbook_file;         /* found */
	char *user;                  /* NULL: the bake's ssh_username */
	bk_strv extra_arguments, ansible_env_vars, ansible_ssh_extra_args;
	bk_strv groups, empty_groups;
	char *host_alias;            /* NULL: "default" */
	char *inventory_file_template; /* NULL: Packer's ansible 2 line */
	char *inventory_file;        /* found; NULL: we write one */
	char *inventory_directory;   /* found; NULL: a private temp folder */
	int keep_inventory_file;
	char *galaxy_file, *galaxy_command, *roles_path, *collections_path;
	int galaxy_force_install;
	char *command;               /* NULL: ansible-playbook */
} bk_prov_ansible_cfg;

typedef struct {
	bk_prov_type type;
	char *type_name;            /* as written */
	char *path;                 /* "provisioners[2]" for messages */
	double pause_before_s;
	double timeout_s;           /* 0: none */
	int max_retries;
	cJSON *rendered;            /* the whole rendered object (owned): the inputs digest */
	union {                     /* by type */
		bk_prov_shell_cfg shell;
		bk_prov_file_cfg file;
		bk_prov_local_cfg local;
		bk_prov_puppet_cfg puppet;
		bk_prov_ansible_local_cfg ansible_local;
		bk_prov_ansible_cfg ansible;
	} u;
} bk_provisioner;

/* The reuse extension (issue 14): "reuse": true or {"max_age": "168h"}. */
typedef struct {
	int enabled;                 /* the template asks for it */
	double max_age_s;            /* 0: any age */
} bk_reuse_plan;

/* A manifest post-processor (Packer's): its file and what each entry holds. */
typedef struct {
	char *output;                /* NULL: unset, Packer's packer-manifest.json */
	int strip_path, strip_time;
	bk_kv custom_data;
} bk_manifest_cfg;

/* A post-processor this build runs after its image exists, in template
 * order (those only/except leave out are not listed): a manifest, or a
 * shell-local read with the shell-local provisioner's keys. */
typedef struct {
	char *path;                  /* "post-processors[0][1]", for messages */
	bool is_manifest;
	bk_manifest_cfg manifest;
	bk_provisioner local;        /* shell-local: type BK_PROV_SHELL_LOCAL */
} bk_post_processor;

typedef struct {
	/* builder identity */
	char *builder_type;         /* "amazon-ebs" or "amazon-instance" */
	char *build_name;           /* "name" or the type */
	/* AWS access */
	char *region;
	char *access_key, *secret_key, *token, *profile;
	char *shared_credentials_file;       /* found (next to the template, else cwd); NULL: unset */
	/* assume_role: the role Packer 1.6.6's session assumes; role_arn NULL: none */
	struct {
		char *role_arn, *session_name, *external_id, *policy;
		int duration_seconds;
		bk_strv policy_arns, transitive_tag_keys;
		bk_kv tags;
	} assume_role;
	char *custom_endpoint_ec2;           /* an endpoint URL (bk_aws_endpoint_parse); NULL: unset */
	int insecure_skip_tls_verify;
	/* source */
	char *source_ami;                    /* NULL when a filter is used */
	bk_kv source_ami_filters;            /* source_ami_filter.filters */
	bk_strv source_ami_owners;
	int source_ami_most_recent;
	/* instance */
	char *instance_type;
	char *subnet_id, *vpc_id, *availability_zone;
	char *tenancy;                       /* default, dedicated, host; NULL: unset */
	char *ssh_file_transfer_method;      /* sftp, scp (Packer's); files go over SFTP */
	int enable_t2_unlimited;
	bk_strv security_group_ids;
	/* Packer's network filters, looked up at CREATE_SECURITY_GROUP when the
	 * id they stand for is not given */
	bk_kv vpc_filters;                   /* vpc_filter.filters */
	bk_kv subnet_filters;                /* subnet_filter.filters */
	int subnet_most_free, subnet_random; /* subnet_filter.most_free, .random */
	bk_kv security_group_filters;        /* security_group_filter.filters */
	bk_strv temporary_security_group_source_cidrs;
	char *iam_instance_profile;
	/* temporary_iam_instance_profile_policy_document, as the IAM policy JSON
	 * the role gets (Packer's Version + Statement[Effect, Action, Resource]);
	 * NULL: none */
	char *temp_iam_policy;
	/* spot: spot_price ("auto" or a price; NULL: on-demand, Packer's "" and "0"),
	 * spot_instance_types (tried in order), spot_tags (on the spot request),
	 * spot_fallback_on_demand (bakeami's: on-demand when no type has capacity) */
	char *spot_price;
	/* spot_price_auto_product: "auto"'s price history product; NULL:
	 * Linux/UNIX */
	char *spot_price_auto_product;
	bk_strv spot_instance_types;
	bk_kv spot_tags;
	int spot_fallback_on_demand;
	char *user_data;                     /* user_data, or user_data_file's contents */
	int associate_public_ip_address;     /* -1 unset */
	char *shutdown_behavior;
	char *http_tokens;                   /* metadata_options; default "required" */
	int http_put_response_hop_limit;
	char *http_endpoint;
	bk_bdm *launch_bdms; size_t launch_bdms_count;
	int no_ephemeral;                    /* xvdca-xvdcz mapped to no device at launch */
	bk_bdm *ami_bdms; size_t ami_bdms_count;
	/* image */
	char *ami_name;
	char *ami_description;
	bk_kv tags, run_tags, run_volume_tags, snapshot_tags;
	int skip_create_ami;
	int force_deregister, force_delete_snapshot;
	bk_strv ami_regions;
	int skip_save_build_region;          /* the build region's image is only the copies' source */
	/* communicator */
	char *ssh_username;
	char *ssh_host;
	int ssh_port;
	double ssh_timeout_s;
	double ssh_wait_timeout_s;           /* Packer's old name: when set, it wins */
	double pause_before_connecting_s;    /* connect, wait this long, connect again */
	bk_strv ssh_ciphers, ssh_kex;        /* the only ones offered; empty: libssh2's */
	int ssh_pty;                         /* provisioners' commands get a terminal */
	char *temporary_key_pair_name;       /* NULL: bakeami-<run id> */
	char *ssh_keypair_name, *ssh_private_key_file;
	char *ssh_host_key_fingerprint;
	int ssh_clear_authorized_keys;       /* default 1 */
	int communicator_none;               /* communicator "none": the instance is never reached */
	char *ssh_interface;                 /* public_ip (default), private_ip, ... */
	int ssh_agent_auth;                  /* the user's SSH agent (SSH_AUTH_SOCK) signs; no
					      * temporary key pair is made (Packer's rule) */
	/* ssh_bastion_*: the instance is reached through a direct-tcpip channel of
	 * an SSH session to this host; NULL: directly */
	char *ssh_bastion_host;
	int ssh_bastion_port;                /* 22 with a bastion host */
	char *ssh_bastion_username;          /* none by default, as in Packer */
	char *ssh_bastion_private_key_file;  /* default ssh_private_key_file, found */
	int ssh_bastion_agent_auth;
	/* bakeami's: pins the bastion's host key; NULL: ~/.ssh/known_hosts decides */
	char *ssh_bastion_host_key_fingerprint;
	char *check_ip_url;                  /* for the SG source when no ssh_host */
	/* waits */
	double instance_timeout_s;           /* running: default 600 */
	double image_timeout_s;              /* available: default 1800 */
	/* provisioners, tests, promote */
	bk_provisioner *provisioners; size_t provisioners_count;
	bk_provisioner *error_cleanup;       /* error-cleanup-provisioner; NULL: none */
	bk_test_plan *tests;                 /* parsed by the verify layer; NULL if absent */
	bk_promote_plan promote;             /* promote block and the builder keys it reads */
	bk_post_processor *post_processors; size_t post_processors_count;
	char *template_path, *template_dir;
	/* ---- added by the template module ---- */
	cJSON *builder;                      /* the whole rendered builder object (owned):
					      * amazon-instance keys, ignored Packer keys */
	bk_strv ami_users, ami_groups, snapshot_users, snapshot_groups;
	int encrypt_boot;                    /* -1 unset (keep the source's), 0, 1 */
	char *kms_key_id;
	int ebs_optimized, ena_support, sriov_support;   /* -1 unset */
	int max_retries;                     /* -1 unset: the AWS layer's default */
	double poll_delay_s;                 /* aws_polling.delay_seconds; 0 unset */
	int skip_region_validation;
	char *ami_virtualization_type;       /* NULL unset */
	/* ---- issue 14: what the inputs digest reads ---- */
	cJSON *tests_json;                   /* the rendered tests section (owned); NULL if absent */
	bk_reuse_plan reuse;
	/* amazon-instance: the bundle, Packer's defaults filled in (NULL for
	 * amazon-ebs) */
	char *account_id;                    /* dashes removed */
	char *s3_bucket;
	char *x509_cert_path, *x509_key_path; /* local files, found */
	char *x509_upload_path;              /* default /tmp */
	char *bundle_destination;            /* default /tmp */
	char *bundle_prefix;                 /* default image-<timestamp> */
	char *bundle_vol_command;            /* Go-template forms left for the bundler */
	char *bundle_upload_command;
	cJSON *decoded;                      /* JSON path -> the value as decoded
					      * (Packer's rules), for --dump-plan */
} bk_build_config;

/* The first manifest post-processor, whose custom_data and strip_time
 * --manifest F also uses; NULL when there is none. */
const bk_manifest_cfg *bk_build_manifest(const bk_build_config *c);
/* Packer's default manifest output, relative to the working directory. */
#define BK_MANIFEST_DEFAULT "packer-manifest.json"

/* Is it an amazon-instance build (bundled to S3, registered)? */
bool bk_build_is_instance(const bk_build_config *c);

/* ---- promote_plan.c: what the promotion code asks of the config ---- */
/* Does the config ask for anything promotion does? False for a template
 * with none of promote, ami_regions, sharing or deprecate_at: such a bake
 * makes no promotion call at all. */
bool bk_promote_wanted(const bk_build_config *c);
/* Checks of the promotion settings beyond the template module's, made at
 * VALIDATE without any AWS call: "<file>: <json.path>: <what>". */
int bk_promote_check(const bk_build_config *c, const char *file);
/* skip_save_build_region keeps the image only in copies: some region besides
 * build_region (NULL: not known yet) must take one, and reuse, which looks
 * in the build region, must be off. */
int bk_skip_save_check(const bk_build_config *c, const char *file, const char *build_region,
		       bool reuse);
/* The family images are grouped by for keep_last: promote.family, else the
 * template's file name without ".json". A new string. */
char *bk_promote_family(const bk_build_config *c);

/* The config rendered with empty build variables (valid after load). */
const bk_build_config *bk_template_config(const bk_template *tpl);
/* Render the template again with real build variables. */
int bk_template_bind(bk_build_config **out, const bk_template *tpl, const bk_build_vars *bv);
void bk_build_config_free(bk_build_config *cfg);

/* ---- interpolation, exposed for unit tests and later issues ---------- */
typedef struct bk_interp bk_interp;   /* variables + build vars + clock */
int bk_template_render(char **out, const bk_template *tpl, const bk_build_vars *bv,
		       const char *text, const char *json_path);
/* clean_resource_name: keep [A-Za-z0-9()[] ./-'@_], others become '-'. */
char *bk_clean_resource_name(const char *s);
/* Go reference-time layout ("2006-01-02T15:04:05Z07:00") to text. */
char *bk_go_time_format(const char *layout, double epoch);
/* Go duration ("5m", "30s", "1h30m", "1.5h", "0") to seconds; -1 if bad. */
int bk_go_duration(double *out_seconds, const char *s);

#endif
