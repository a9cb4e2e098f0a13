/*
 * stage_spot.c - LAUNCH with spot_price: Packer 1.6.6's launch template and
 * instant EC2 Fleet (with "auto", the highest price of the last hour as
 * MaxPrice, where Packer 1.6.6 sends none), then what Packer lacks: when
 * EC2 has no spot capacity for a type (InsufficientInstanceCapacity), the
 * next of spot_instance_types, then on-demand with spot_fallback_on_demand. The
 * template, each fleet and the instance are ledger entries before their
 * calls; CLEANUP removes the instance, the fleets, then the template.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bake.h"

/* What says "try another type or the on-demand market". */
static bool no_capacity(const char *code)
{
	return code && (!strcmp(code, "InsufficientInstanceCapacity") ||
			!strcmp(code, "SpotMaxPriceTooLow") || !strcmp(code, "UnfulfillableCapacity") ||
			!strcmp(code, "InsufficientCapacity"));
}

/* spot_price "auto": the highest price of the last hour for any type
 * that may be tried, in the build's zone when known, so that whichever
 * type gets capacity is not refused for its price. (Packer 1.6.6 sends no
 * MaxPrice for "auto": README, Packer compatibility.) */
static int auto_price(bakeami_bake *b, bk_spot_price *out, const char *const *types, size_t n)
{
	const bk_build_config *c = b->cfg;
	bk_spot_price_query q = {types, n, c->spot_price_auto_product ? c->spot_price_auto_product
				 : "Linux/UNIX", c->availability_zone};
	int rc = bk_ec2_spot_price_max(out, b->aws, &q);

	if (rc == 0)
		bk_step(b, "spot_price auto: max price %s, the highest of %zu %s price%s of the last "
			"hour in %s", out->price, out->rows, q.product, out->rows > 1 ? "s" : "",
			q.zone ? q.zone : "the region");
	return rc;
}

static int make_template(bakeami_bake *b, char **id, const bk_ec2_run_request *req,
			 const char *price, const char *purpose)
{
	const bk_build_config *c = b->cfg;
	bk_kv tags = BK_KV_INIT;
	char *name = bk_sprintf("bakeami-%s-%s", b->run_id, purpose);
	int rc = name ? bk_bake_tags(&tags, b, NULL) : bk_oom();

	if (rc == 0 && (rc = bk_journal_intent(b->journal, "launch-template", name)) == 0 &&
	    (rc = bk_ec2_create_launch_template(id, b->aws, name, req, price, &c->spot_tags,
						&tags)) == 0)
		rc = bk_journal_created(b->journal, "launch-template", *id);
	bk_kv_free(&tags);
	free(name);
	return rc;
}

/* One instant fleet of type: 1 when EC2 had no capacity for it. */
static int try_type(bakeami_bake *b, bk_ec2_instance *out, const char *template_id,
		    const char *type, const char *token)
{
	bk_ec2_fleet f;
	bk_kv tags = BK_KV_INIT;
	int rc = bk_bake_tags(&tags, b, NULL);

	if (rc == 0 && (rc = bk_journal_intent(b->journal, "instance", token)) == 0)
		rc = bk_ec2_create_fleet(&f, b->aws, template_id, type, token, &tags);
	else
		memset(&f, 0, sizeof(f));
	if (f.fleet_id) {
		bk_entry_spec s = {.kind = "fleet", .id = f.fleet_id};
		int jrc = bk_journal_add(b->journal, NULL, &s, BK_CREATED);
		rc = rc < 0 ? rc : jrc;
	}
	if (rc == 0 && (rc = bk_journal_created(b->journal, "instance", f.instance_id)) == 0 &&
	    !(out->id = bk_strdup(f.instance_id)))
		rc = bk_oom();
	if (rc == BAKEAMI_EAWS && no_capacity(f.error_code)) {
		bk_warn(b, "no spot capacity for %s (%s)", type, f.error_code);
		rc = 1;
	}
	bk_ec2_fleet_free(&f);
	bk_kv_free(&tags);
	return rc;
}

/* The on-demand launch after every type found no spot capacity. */
static int on_demand(bakeami_bake *b, bk_ec2_instance *out, bk_ec2_run_request *req,
		     const char *token)
{
	const bk_build_config *c = b->cfg;
	char od[96];

	if (!c->spot_fallback_on_demand)
		return bk_err(BAKEAMI_EAWS, "no spot capacity for %s (set spot_fallback_on_demand "
			      "to launch on-demand then)", req->instance_type ? req->instance_type
			      : c->spot_instance_types.items[0]);
	if (!req->instance_type)
		req->instance_type = c->spot_instance_types.items[0];   /* the first choice */
	snprintf(od, sizeof(od), "%.80s-od", token);
	req->client_token = od;
	bk_step(b, "no spot capacity: launching %s on-demand (spot_fallback_on_demand)",
		req->instance_type);
	return bk_launch_on_demand(b, out, req);
}

int bk_launch_spot(bakeami_bake *b, bk_ec2_instance *out, bk_ec2_run_request *req,
		   const char *purpose)
{
	const bk_build_config *c = b->cfg;
	const char *one[1] = {c->instance_type};
	const char *const *types = c->spot_instance_types.count
		? (const char *const *)c->spot_instance_types.items : one;
	size_t n = c->spot_instance_types.count ? c->spot_instance_types.count : 1;
	bk_spot_price found = {0};
	char *template_id = NULL, token[80];
	const char *price = c->spot_price;
	int rc = 0;

	req->instance_type = c->spot_instance_types.count ? NULL : c->instance_type;
	if (!strcmp(price, "auto") && (rc = auto_price(b, &found, types, n)) == 0)
		price = found.price;
	if (rc == 0 && (rc = make_template(b, &template_id, req, price, purpose)) == 0)
		rc = 1;
	for (size_t i = 0; rc == 1 && i < n; i++) {
		snprintf(token, sizeof(token), "%s-%s-spot%zu", b->run_id, purpose, i + 1);
		if ((rc = try_type(b, out, template_id, types[i], token)) == 0)
			bk_step(b, "%s launched as a spot instance (%s, max price %s)", out->id,
				types[i], price);
	}
	if (rc == 1)
		rc = on_demand(b, out, req, token);
	free(template_id);
	bk_spot_price_free(&found);
	return rc;
}
