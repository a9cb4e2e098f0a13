/* stage_keypair.c - CREATE_KEYPAIR: an ephemeral ed25519 key made in
 * memory and imported, or the user's key pair. */
#include <stdlib.h>

#include "bake.h"

static int user_key(bakeami_bake *b)
{
	const bk_build_config *c = b->cfg;
	int rc = bk_ssh_key_load(&b->key, c->ssh_private_key_file);

	if (rc == 0)
		bk_step(b, "using key %s%s%s", c->ssh_private_key_file,
			c->ssh_keypair_name ? " of key pair " : "",
			c->ssh_keypair_name ? c->ssh_keypair_name : "");
	return rc;
}

/* The bastion's key, read here with the instance's so a bad file fails
 * before anything is launched. */
static int bastion_key(bakeami_bake *b)
{
	const char *path = b->cfg->ssh_bastion_host ? b->cfg->ssh_bastion_private_key_file : NULL;
	int rc;

	if (!path || b->bastion_key)
		return 0;
	if ((rc = bk_ssh_key_load(&b->bastion_key, path)) < 0)
		return bk_err_wrap(rc, "ssh_bastion_private_key_file");
	return 0;
}

/* Packer's StepKeyPair: with ssh_agent_auth and no key file, no key pair is
 * made; the agent holds the key of ssh_keypair_name, or of the source AMI. */
static int agent_key(bakeami_bake *b)
{
	const char *pair = b->cfg->ssh_keypair_name;

	bk_step(b, "using the SSH agent's keys%s%s", pair ? " for key pair " : " (key pair of the "
		"source AMI)", pair ? pair : "");
	return 0;
}

int bk_stage_create_keypair(bakeami_bake *b)
{
	bk_kv tags = BK_KV_INIT;
	char *name, *key_pair_id = NULL;
	int rc;

	if ((rc = bastion_key(b)) < 0)
		return rc;
	if (b->cfg->ssh_private_key_file)
		return user_key(b);
	if (b->cfg->ssh_agent_auth)
		return agent_key(b);
	name = b->cfg->temporary_key_pair_name && *b->cfg->temporary_key_pair_name
		? bk_strdup(b->cfg->temporary_key_pair_name) : bk_sprintf("bakeami-%s", b->run_id);
	if (!name)
		return bk_oom();
	if ((rc = bk_ssh_key_generate(&b->key, name)) < 0 ||
	    (rc = bk_add_secret(b, bk_ssh_key_private_pem(b->key))) < 0 ||
	    (rc = bk_bake_tags(&tags, b, NULL)) < 0 ||
	    (rc = bk_journal_intent(b->journal, "key-pair", name)) < 0)
		goto done;
	rc = bk_ec2_import_key_pair(&key_pair_id, b->aws, name, bk_ssh_key_public_line(b->key), &tags);
	if (rc == 0) {
		b->key_name = name;
		name = NULL;
		rc = bk_journal_created(b->journal, "key-pair", b->key_name);
		if (rc == 0)
			rc = bk_lease_hold(b, key_pair_id);   /* CreateTags takes its id */
		bk_step(b, "imported temporary ed25519 key pair %s (%s)", b->key_name, key_pair_id);
	}
done:
	bk_kv_free(&tags);
	free(key_pair_id);
	free(name);
	return rc;
}
