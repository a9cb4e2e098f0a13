/*
 * validate.c - checks on the builder that need more than one field or a
 * rule of EC2's (AMI names, fingerprints), run after every field is read.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../aws/aws.h"
#include "../provision/cmdtmpl.h"
#include "../ssh/ssh.h"
#include "template_int.h"

static int ferr(const bk_cfg_ctx *c, const char *bpath, const char *key, const char *fmt, ...)
	BK_PRINTF(4, 5);

static int ferr(const bk_cfg_ctx *c, const char *bpath, const char *key, const char *fmt, ...)
{
	char path[160], what[512];
	va_list ap;

	snprintf(path, sizeof(path), "%s%s%s", bpath, key ? "." : "", key ? key : "");
	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	return bk_tpl_err(c->file, path, "%s", what);
}

static bool set(const char *s)
{
	return s && *s;
}

static bool one_of(const char *s, const char *const *list)
{
	for (; *list; list++)
		if (strcmp(s, *list) == 0)
			return true;
	return false;
}

static int check_source(bk_cfg_ctx *c, const char *bpath)
{
	bk_build_config *cfg = c->cfg;

	if (set(cfg->source_ami))
		return 0;
	if (cfg->source_ami_filters.count == 0)
		return ferr(c, bpath, NULL, "no source image: set source_ami or "
			    "source_ami_filter (source_ami is empty)");
	return 0;
}

/* EC2's rule, checked by Packer too: 3-128 characters from a small set. */
static int check_ami_name(bk_cfg_ctx *c, const char *bpath)
{
	const char *name = c->cfg->ami_name;
	size_t len = name ? strlen(name) : 0;
	char *clean;
	int rc = 0;

	if (c->cfg->skip_create_ami) {
		/* kept for throw-away test bakes (DESIGN.md); said, as Packer 1.6.6
		 * stops at it as an unknown key */
		bk_tpl_warn(c->warnings, "%s: %s.skip_create_ami: not a Packer 1.6.6 option (Packer "
			    "1.7 added it; 1.6.6 refuses it as an unknown key): bakeami builds and "
			    "tests without creating an image", c->file, bpath);
		return 0;
	}
	if (!name)
		return 0;
	if (len < 3 || len > 128)
		return ferr(c, bpath, "ami_name", "\"%s\" must be 3 to 128 characters long "
			    "(it is %zu)", name, len);
	if (!(clean = bk_clean_resource_name(name)))
		return bk_oom();
	if (strcmp(clean, name) != 0)
		rc = ferr(c, bpath, "ami_name", "\"%s\" has characters AMI names cannot have "
			  "(only letters, digits and ()[] ./-'@_): pass the part that makes "
			  "them through clean_resource_name, e.g. {{isotime | "
			  "clean_resource_name}}", name);
	free(clean);
	return rc;
}

/* "SHA256:" and the unpadded base64 of 32 bytes, as ssh-keygen -lf prints. */
static bool valid_fingerprint(const char *s)
{
	size_t n = 0;

	if (!bk_str_starts(s, "SHA256:"))
		return false;
	for (s += 7; s[n] && (strchr("+/", s[n]) || (s[n] >= 'A' && s[n] <= 'Z') ||
			      (s[n] >= 'a' && s[n] <= 'z') || (s[n] >= '0' && s[n] <= '9'));
	     n++)
		;
	return n == 43 && (!s[n] || strcmp(s + n, "=") == 0);
}

static int check_ssh_key(bk_cfg_ctx *c, const char *bpath)
{
	bk_build_config *cfg = c->cfg;
	char *found = NULL, path[160];
	int rc;

	/* Packer's rule: the key pair's private key is a file or in the agent. */
	if (set(cfg->ssh_keypair_name) && !set(cfg->ssh_private_key_file) && !cfg->ssh_agent_auth)
		return ferr(c, bpath, "ssh_keypair_name", "needs ssh_private_key_file, the "
			    "private key of that key pair, or ssh_agent_auth with that key in "
			    "the SSH agent");
	if (set(cfg->ssh_host_key_fingerprint) && !valid_fingerprint(cfg->ssh_host_key_fingerprint))
		return ferr(c, bpath, "ssh_host_key_fingerprint", "\"%s\" is not a fingerprint: "
			    "expected SHA256: and 43 base64 characters, as ssh-keygen -lf "
			    "prints it", cfg->ssh_host_key_fingerprint);
	if (!set(cfg->ssh_private_key_file))
		return 0;
	snprintf(path, sizeof(path), "%s.ssh_private_key_file", bpath);
	if ((rc = bk_tpl_find_local(&found, c, cfg->ssh_private_key_file, path)) != 0)
		return rc;
	free(cfg->ssh_private_key_file);
	cfg->ssh_private_key_file = found;
	return 0;
}

/* The bastion's key file, found as ssh_private_key_file is, and read now so
 * a bad file fails at validate, as Packer's FileSigner check does. */
static int check_bastion_key(bk_cfg_ctx *c, const char *bpath)
{
	bk_build_config *cfg = c->cfg;
	char *found = NULL, path[160];
	bk_ssh_key *key = NULL;
	int rc;

	snprintf(path, sizeof(path), "%s.ssh_bastion_private_key_file", bpath);
	if ((rc = bk_tpl_find_local(&found, c, cfg->ssh_bastion_private_key_file, path)) != 0)
		return rc;
	free(cfg->ssh_bastion_private_key_file);
	cfg->ssh_bastion_private_key_file = found;
	if ((rc = bk_ssh_key_load(&key, found)) != 0)
		return ferr(c, bpath, "ssh_bastion_private_key_file", "%s", bk_err_msg());
	bk_ssh_key_free(key);
	return 0;
}

/* Packer's prepareSSH rules for ssh_bastion_*, with its defaults. */
static int check_bastion(bk_cfg_ctx *c, const char *bpath)
{
	bk_build_config *cfg = c->cfg;

	if (!set(cfg->ssh_bastion_host))
		return 0;
	if (cfg->ssh_bastion_port == 0)
		cfg->ssh_bastion_port = 22;
	if (cfg->ssh_bastion_port > 65535)
		return ferr(c, bpath, "ssh_bastion_port", "%d is not a TCP port (1-65535)",
			    cfg->ssh_bastion_port);
	if (set(cfg->ssh_bastion_host_key_fingerprint) &&
	    !valid_fingerprint(cfg->ssh_bastion_host_key_fingerprint))
		return ferr(c, bpath, "ssh_bastion_host_key_fingerprint", "\"%s\" is not a "
			    "fingerprint: expected SHA256: and 43 base64 characters, as ssh-keygen "
			    "-lf prints it", cfg->ssh_bastion_host_key_fingerprint);
	if (!set(cfg->ssh_bastion_private_key_file) && set(cfg->ssh_private_key_file) &&
	    !(cfg->ssh_bastion_private_key_file = bk_strdup(cfg->ssh_private_key_file)))
		return bk_oom();
	if (!set(cfg->ssh_bastion_private_key_file) && !cfg->ssh_bastion_agent_auth)
		return ferr(c, bpath, NULL, "ssh_bastion_host needs ssh_bastion_private_key_file "
			    "(or ssh_private_key_file) or ssh_bastion_agent_auth to log in to the "
			    "bastion");
	if (!set(cfg->ssh_bastion_username))
		bk_tpl_warn(c->warnings, "%s.ssh_bastion_username is not set: the bastion is "
			    "asked for an empty user name, as Packer does", bpath);
	return set(cfg->ssh_bastion_private_key_file) ? check_bastion_key(c, bpath) : 0;
}

static int check_choice(bk_cfg_ctx *c, const char *bpath, const char *key, const char *v,
			const char *const *list, const char *listed)
{
	if (!set(v) || one_of(v, list))
		return 0;
	return ferr(c, bpath, key, "\"%s\" is not one of %s", v, listed);
}

/* As Go's SSH client (Packer's) does, names libssh2 lacks are left out,
 * with a warning; none it offers is an error. */
static int check_methods(bk_cfg_ctx *c, const char *bpath, const char *kind, const char *key,
			 const bk_strv *names)
{
	bk_strv missing = BK_STRV_INIT;
	char *have = NULL;
	int rc = names->count ? bk_ssh_methods_missing(&missing, &have, kind, names) : 0;

	if (rc == 0 && names->count && missing.count == names->count)
		rc = ferr(c, bpath, key, "libssh2 offers none of these (it has: %s)", have);
	for (size_t i = 0; rc == 0 && i < missing.count; i++)
		bk_tpl_warn(c->warnings, "%s.%s: \"%s\" is left out: libssh2 does not offer it",
			    bpath, key, missing.items[i]);
	bk_strv_free(&missing);
	free(have);
	return rc;
}

/* EC2's rule for a key pair's name: 1 to 255 ASCII characters. */
static int check_key_pair_name(bk_cfg_ctx *c, const char *bpath)
{
	const char *name = c->cfg->temporary_key_pair_name;

	if (!set(name))   /* "" is unset, as in Packer: the default name */
		return 0;
	for (const unsigned char *p = (const unsigned char *)name; *p; p++)
		if (*p < 0x20 || *p > 0x7e)
			return ferr(c, bpath, "temporary_key_pair_name", "EC2 takes printable ASCII "
				    "characters only");
	if (strlen(name) > 255)
		return ferr(c, bpath, "temporary_key_pair_name", "EC2 takes at most 255 characters, "
			    "not %zu", strlen(name));
	return 0;
}

/* How files go and what the handshake may offer. */
static int check_ssh_protocol(bk_cfg_ctx *c, const char *bpath)
{
	static const char *const transfer[] = {"sftp", "scp", NULL};
	const bk_build_config *cfg = c->cfg;
	int rc = check_choice(c, bpath, "ssh_file_transfer_method", cfg->ssh_file_transfer_method,
			      transfer, "sftp, scp");

	if (rc == 0 && set(cfg->ssh_file_transfer_method) &&
	    !strcmp(cfg->ssh_file_transfer_method, "scp"))
		bk_tpl_warn(c->warnings, "%s.ssh_file_transfer_method \"scp\": bakeami sends files "
			    "over SFTP, so the instance's sshd needs its sftp subsystem", bpath);
	if (rc == 0)
		rc = check_methods(c, bpath, "cipher", "ssh_ciphers", &cfg->ssh_ciphers);
	if (rc == 0)
		rc = check_methods(c, bpath, "kex", "ssh_key_exchange_algorithms", &cfg->ssh_kex);
	return rc;
}

static int check_ssh(bk_cfg_ctx *c, const char *bpath)
{
	static const char *const ifaces[] = {"public_ip", "private_ip", "public_dns",
					     "private_dns", NULL};
	bk_build_config *cfg = c->cfg;
	int rc;

	if (cfg->ssh_port < 1 || cfg->ssh_port > 65535)
		return ferr(c, bpath, "ssh_port", "%d is not a TCP port (1-65535)", cfg->ssh_port);
	if (cfg->ssh_wait_timeout_s > 0)   /* Packer 1.6.6's communicator does the same */
		cfg->ssh_timeout_s = cfg->ssh_wait_timeout_s;
	if (cfg->ssh_timeout_s <= 0)
		return ferr(c, bpath, "ssh_timeout", "must be longer than 0");
	if (!set(cfg->ssh_interface)) {
		free(cfg->ssh_interface);
		if (!(cfg->ssh_interface = bk_strdup("public_ip")))
			return bk_oom();
	} else if (!one_of(cfg->ssh_interface, ifaces)) {
		return ferr(c, bpath, "ssh_interface", "\"%s\" is not supported (use public_ip, "
			    "private_ip, public_dns or private_dns)", cfg->ssh_interface);
	}
	if ((rc = check_ssh_protocol(c, bpath)) != 0 || (rc = check_key_pair_name(c, bpath)) != 0)
		return rc;
	rc = check_ssh_key(c, bpath);
	return rc ? rc : check_bastion(c, bpath);
}

/* spot_price_auto_product: Packer 1.6.6 reads it and only warns it is
 * deprecated; bakeami asks the price history for that product (EC2's
 * ProductDescription values: a misspelt one would find no price). */
static int check_auto_product(bk_cfg_ctx *c, const char *bpath)
{
	static const char *const products[] = {
		"Linux/UNIX", "Linux/UNIX (Amazon VPC)", "SUSE Linux", "SUSE Linux (Amazon VPC)",
		"Red Hat Enterprise Linux", "Red Hat Enterprise Linux (Amazon VPC)", "Windows",
		"Windows (Amazon VPC)", NULL
	};
	const char *v = c->cfg->spot_price_auto_product;
	int rc = check_choice(c, bpath, "spot_price_auto_product", v, products, "Linux/UNIX, "
			      "SUSE Linux, Red Hat Enterprise Linux, Windows (each also with "
			      "\" (Amazon VPC)\")");

	if (rc == 0 && set(v))
		bk_tpl_warn(c->warnings, "%s.spot_price_auto_product is deprecated in Packer 1.6.6 "
			    "(ignored there); bakeami reads spot_price \"auto\"'s price history "
			    "for it%s", bpath, c->cfg->spot_price && !strcmp(c->cfg->spot_price, "auto")
			    ? "" : ", but spot_price is not \"auto\": unused");
	return rc;
}

/* Packer 1.6.6's spot rules (run_config.go), and spot_instance_types
 * without spot_price (Packer launches with no instance type then). */
static int check_spot(bk_cfg_ctx *c, const char *bpath)
{
	bk_build_config *cfg = c->cfg;
	bool types = cfg->spot_instance_types.count > 0;
	int rc = check_auto_product(c, bpath);

	if (rc != 0)
		return rc;
	if (types && set(cfg->instance_type))
		return ferr(c, bpath, "spot_instance_types", "either instance_type or "
			    "spot_instance_types must be specified, not both");
	if (types && !cfg->spot_price)
		return ferr(c, bpath, "spot_instance_types", "needs spot_price (\"auto\" or a price)");
	if (cfg->spot_tags.count && !cfg->spot_price)
		return ferr(c, bpath, "spot_tags", "spot_tags should not be set when not requesting "
			    "a spot instance");
	if (cfg->spot_fallback_on_demand && !cfg->spot_price)
		return ferr(c, bpath, "spot_fallback_on_demand", "needs spot_price");
	return 0;
}

/* Packer 1.6.6's rule: CPU credits are a T2 setting, and a spot request
 * takes none. */
static int check_t2_unlimited(bk_cfg_ctx *c, const char *bpath)
{
	const bk_build_config *cfg = c->cfg;

	if (!cfg->enable_t2_unlimited)
		return 0;
	if (cfg->spot_price)
		return ferr(c, bpath, "enable_t2_unlimited", "T2 Unlimited cannot be used with a "
			    "spot instance (spot_price)");
	if (!set(cfg->instance_type) || !bk_str_starts(cfg->instance_type, "t2."))
		return ferr(c, bpath, "enable_t2_unlimited", "T2 Unlimited enabled with a non-T2 "
			    "instance type: %s", set(cfg->instance_type) ? cfg->instance_type : "none");
	return 0;
}

#define STS_MAX_TAGS 50

static int check_session_tags(bk_cfg_ctx *c, const char *bpath)
{
	const bk_kv *tags = &c->cfg->assume_role.tags;
	const bk_strv *transitive = &c->cfg->assume_role.transitive_tag_keys;

	if (tags->count > STS_MAX_TAGS)
		return ferr(c, bpath, "assume_role.tags", "%zu session tags: STS takes at most %d",
			    tags->count, STS_MAX_TAGS);
	for (size_t i = 0; i < tags->count; i++)
		if (!*tags->keys[i] || strlen(tags->keys[i]) > 128 || strlen(tags->vals[i]) > 256)
			return ferr(c, bpath, "assume_role.tags", "\"%s\": STS takes keys of 1 to 128 "
				    "characters and values of at most 256", tags->keys[i]);
	for (size_t i = 0; i < transitive->count; i++)
		if (!bk_kv_get(tags, transitive->items[i]))
			return ferr(c, bpath, "assume_role.transitive_tag_keys", "\"%s\" is not one "
				    "of assume_role.tags", transitive->items[i]);
	return 0;
}

/* Beyond Packer, which then silently assumes nothing: a block without
 * role_arn would run the bake with the caller's own credentials. */
static int check_assume_role(bk_cfg_ctx *c, const char *bpath)
{
	const bk_build_config *cfg = c->cfg;
	const cJSON *block = cJSON_GetObjectItemCaseSensitive(cfg->builder, "assume_role");
	cJSON *doc = NULL;
	char where[512];
	int rc;

	if (!set(cfg->assume_role.role_arn))
		return block && !cJSON_IsNull(block)
			? ferr(c, bpath, "assume_role.role_arn", "required in an assume_role block")
			: 0;
	snprintf(where, sizeof(where), "%s: %s.assume_role", c->file, bpath);
	if ((rc = bk_aws_role_check(cfg->assume_role.role_arn, cfg->assume_role.external_id,
				    cfg->assume_role.session_name, where)) < 0 ||
	    (rc = bk_aws_role_mfa_check(cfg->assume_role.duration_seconds, NULL, NULL, where)) < 0)
		return rc;
	if (cfg->assume_role.policy && !cJSON_IsObject(doc = cJSON_Parse(cfg->assume_role.policy)))
		rc = ferr(c, bpath, "assume_role.policy", "is not a JSON policy document");
	cJSON_Delete(doc);
	for (size_t i = 0; rc == 0 && i < cfg->assume_role.policy_arns.count; i++)
		if (!bk_str_starts(cfg->assume_role.policy_arns.items[i], "arn:"))
			rc = ferr(c, bpath, "assume_role.policy_arns", "\"%s\" is not a policy ARN",
				  cfg->assume_role.policy_arns.items[i]);
	return rc ? rc : check_session_tags(c, bpath);
}

/* How the bake reaches AWS: the template's role and TLS setting. */
static int check_access(bk_cfg_ctx *c, const char *bpath)
{
	int rc = check_assume_role(c, bpath);

	if (rc == 0 && c->cfg->insecure_skip_tls_verify)
		bk_tpl_warn(c->warnings, "%s.insecure_skip_tls_verify: the EC2 and IAM endpoints' "
			    "TLS certificates are not checked: anyone on the network path can read "
			    "and answer those calls", bpath);
	return rc;
}

static int check_instance(bk_cfg_ctx *c, const char *bpath)
{
	static const char *const tenancy[] = {"default", "dedicated", "host", NULL};
	static const char *const shutdown[] = {"stop", "terminate", NULL};
	static const char *const tokens[] = {"required", "optional", NULL};
	static const char *const endpoint[] = {"enabled", "disabled", NULL};
	bk_build_config *cfg = c->cfg;
	const cJSON *b = cfg->builder;
	int rc = check_choice(c, bpath, "shutdown_behavior", cfg->shutdown_behavior, shutdown,
			      "stop, terminate");

	if (rc == 0)
		rc = check_choice(c, bpath, "metadata_options.http_tokens", cfg->http_tokens,
				  tokens, "required, optional");
	if (rc == 0)
		rc = check_choice(c, bpath, "metadata_options.http_endpoint", cfg->http_endpoint,
				  endpoint, "enabled, disabled");
	if (rc == 0 && cfg->http_put_response_hop_limit > 64)
		rc = ferr(c, bpath, "metadata_options.http_put_response_hop_limit",
			  "must be 1 to 64");
	if (rc == 0 && set(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(b, "user_data"))) &&
	    cJSON_GetObjectItemCaseSensitive(b, "user_data_file"))
		rc = ferr(c, bpath, "user_data_file", "use either user_data or user_data_file, "
			  "not both");
	if (rc == 0)
		rc = check_choice(c, bpath, "tenancy", cfg->tenancy, tenancy,
				  "default, dedicated, host");
	if (rc == 0)
		rc = check_spot(c, bpath);
	if (rc == 0)
		rc = check_t2_unlimited(c, bpath);
	if (rc == 0 && set(cfg->iam_instance_profile) && cfg->temp_iam_policy) {
		/* Packer's StepIamInstanceProfile: the given profile wins */
		bk_tpl_warn(c->warnings, "%s.temporary_iam_instance_profile_policy_document is "
			    "ignored: iam_instance_profile is set", bpath);
		free(cfg->temp_iam_policy);
		cfg->temp_iam_policy = NULL;
	}
	if (rc == 0 && !set(cfg->http_tokens)) {
		free(cfg->http_tokens);
		if (!(cfg->http_tokens = bk_strdup("required")))
			rc = bk_oom();
	}
	return rc;
}

static bool only_chars(const char *s, const char *extra)
{
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9') || strchr(extra, *s)))
			return false;
	return true;
}

/* S3's bucket naming rules: the name goes in every S3 request's path. */
static bool bucket_name(const char *s)
{
	size_t n = strlen(s);

	if (n < 3 || n > 63 || s[0] == '.' || s[0] == '-' || s[n - 1] == '.' ||
	    s[n - 1] == '-' || strstr(s, ".."))
		return false;
	for (const char *p = s; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '.' || *p == '-'))
			return false;
	return true;
}

/* The folders go unquoted into the bundle commands (as Packer's do): an
 * absolute path of plain characters. */
static int check_remote_dir(bk_cfg_ctx *c, const char *bpath, const char *key, const char *v)
{
	if (v[0] == '/' && only_chars(v, "/._-"))
		return 0;
	return ferr(c, bpath, key, "\"%s\" must be an absolute path of letters, digits and "
		    "/ . _ - (it goes into the bundle commands as is)", v);
}

/* The fields each bundle command is rendered with (bake/stage_bundle.c,
 * stage_upload_bundle.c): Packer's, plus ManifestName, Prefix and
 * CredentialsFile for the upload. Checked now, so a typo fails before any
 * AWS call. */
static int check_bundle_command(bk_cfg_ctx *c, const char *bpath, const char *key,
				const char *tmpl, bool upload)
{
	static const bk_cmd_field vol[] = {{"AccountId", NULL, false},
		{"Architecture", NULL, false}, {"CertPath", NULL, false},
		{"Destination", NULL, false}, {"KeyPath", NULL, false}, {"Prefix", NULL, false},
		{"PrivatePath", NULL, false}};
	static const bk_cmd_field up[] = {{"AccessKey", NULL, false},
		{"BucketName", NULL, false}, {"BundleDirectory", NULL, false},
		{"CredentialsFile", NULL, false},
		{"ManifestPath", NULL, false}, {"ManifestName", NULL, false},
		{"Prefix", NULL, false}, {"Region", NULL, false}, {"SecretKey", NULL, false},
		{"Token", NULL, false}};
	char what[192], *out = NULL;
	int rc;

	snprintf(what, sizeof(what), "%s: %s.%s", c->file, bpath, key);
	rc = bk_cmd_render(&out, tmpl, upload ? up : vol,
			   upload ? BK_ARRAY_SIZE(up) : BK_ARRAY_SIZE(vol), what);
	free(out);
	return rc;
}

/* amazon-instance: what the bundle commands and S3 will be given. */
static int check_bundle(bk_cfg_ctx *c, const char *bpath)
{
	static const char *const virt[] = {"hvm", "paravirtual", NULL};
	const bk_build_config *cfg = c->cfg;
	int rc;

	if (!bk_build_is_instance(cfg))
		return 0;
	if (strlen(cfg->account_id) != 12 || !only_chars(cfg->account_id, ""))
		return ferr(c, bpath, "account_id", "\"%s\" is not a 12-digit AWS account id",
			    cfg->account_id);
	if (!bucket_name(cfg->s3_bucket))
		return ferr(c, bpath, "s3_bucket", "\"%s\" is not an S3 bucket name (3-63 "
			    "characters: a-z, 0-9, '.', '-')", cfg->s3_bucket);
	if (!only_chars(cfg->bundle_prefix, "._-"))
		return ferr(c, bpath, "bundle_prefix", "\"%s\" must be letters, digits and . _ - "
			    "(it names the bundle's files and S3 objects)", cfg->bundle_prefix);
	if ((rc = check_remote_dir(c, bpath, "x509_upload_path", cfg->x509_upload_path)) != 0 ||
	    (rc = check_remote_dir(c, bpath, "bundle_destination", cfg->bundle_destination)) != 0)
		return rc;
	if ((rc = check_choice(c, bpath, "ami_virtualization_type", cfg->ami_virtualization_type,
			       virt, "hvm, paravirtual")) != 0)
		return rc;
	if (cfg->encrypt_boot == 1)
		return ferr(c, bpath, "encrypt_boot", "an instance-store image has no EBS snapshot "
			    "to encrypt (use amazon-ebs)");
	if ((rc = check_bundle_command(c, bpath, "bundle_vol_command", cfg->bundle_vol_command,
				       false)) != 0)
		return rc;
	return check_bundle_command(c, bpath, "bundle_upload_command", cfg->bundle_upload_command,
				    true);
}

int bk_tpl_builder_validate(bk_cfg_ctx *c, const char *bpath)
{
	int rc = check_access(c, bpath);

	if (rc == 0)
		rc = check_source(c, bpath);
	if (rc == 0)
		rc = check_ami_name(c, bpath);
	if (rc == 0)
		rc = check_ssh(c, bpath);
	if (rc == 0)
		rc = check_instance(c, bpath);
	if (rc == 0)
		rc = check_bundle(c, bpath);
	return rc;
}
