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

int bk_stage_create_keypair(bakeami_bake *b)
{
	bk_kv tags = BK_KV_INIT;
	char *name, *key_pair_id = NULL;
	int rc;

	if (b->cfg->ssh_private_key_file)
		return user_key(b);
	if (!(name = bk_sprintf("bakeami-%s", b->run_id)))
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
