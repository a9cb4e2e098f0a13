/* stage_secgroup.c - CREATE_SECURITY_GROUP: where the instance goes (the
 * network filters, as Packer's StepNetworkInfo), then SSH admitted only from where
 * we connect from, never 0.0.0.0/0 unless the template says so. */
#include <arpa/inet.h>
#include <netdb.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <curl/curl.h>

#include "bake.h"

#define BK_DEFAULT_CHECK_IP "https://checkip.amazonaws.com"

static size_t collect(char *data, size_t size, size_t n, void *buf)
{
	return bk_buf_put(buf, data, size * n) == 0 ? size * n : 0;
}

/* The agent's public address from a check-ip endpoint (plain-text body). */
static int public_address(char out[INET6_ADDRSTRLEN + 4], bakeami_bake *b, const char *url)
{
	CURL *h = curl_easy_init();
	bk_buf body = BK_BUF_INIT;
	CURLcode cc = CURLE_FAILED_INIT;
	unsigned char tmp[sizeof(struct in6_addr)];
	int rc;

	if (h) {
		curl_easy_setopt(h, CURLOPT_URL, url);
		curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, collect);
		curl_easy_setopt(h, CURLOPT_WRITEDATA, &body);
		curl_easy_setopt(h, CURLOPT_TIMEOUT, 10L);
		curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
		curl_easy_setopt(h, CURLOPT_FAILONERROR, 1L);
		cc = curl_easy_perform(h);
		curl_easy_cleanup(h);
	}
	while (body.len && (body.ptr[body.len - 1] == '\n' || body.ptr[body.len - 1] == '\r' ||
			    body.ptr[body.len - 1] == ' '))
		body.ptr[--body.len] = '\0';
	if (cc != CURLE_OK)
		rc = bk_err(BAKEAMI_EAWS, "check-ip %s: %s", url, curl_easy_strerror(cc));
	else if (inet_pton(AF_INET, body.ptr, tmp) == 1)
		rc = snprintf(out, INET6_ADDRSTRLEN + 4, "%s/32", body.ptr) > 0 ? 0 : BAKEAMI_ERROR;
	else if (inet_pton(AF_INET6, body.ptr, tmp) == 1)
		rc = snprintf(out, INET6_ADDRSTRLEN + 4, "%s/128", body.ptr) > 0 ? 0 : BAKEAMI_ERROR;
	else
		rc = bk_err(BAKEAMI_EAWS, "check-ip %s: not an IP address: %.40s", url, body.ptr ? body.ptr : "");
	if (rc == 0)
		bk_step(b, "public address %s (from %s)", out, url);
	bk_buf_free(&body);
	return rc;
}

/* The local address the kernel would use to reach host: a connected UDP
 * socket sends nothing but has a source address. */
static int route_source(char out[INET6_ADDRSTRLEN + 4], const char *host, int port)
{
	struct addrinfo hints = {0}, *ai = NULL;
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	char portstr[16], addr[INET6_ADDRSTRLEN];
	int fd = -1, rc = BAKEAMI_ERROR;

	hints.ai_socktype = SOCK_DGRAM;
	snprintf(portstr, sizeof(portstr), "%d", port);
	if (getaddrinfo(host, portstr, &hints, &ai) != 0)
		return bk_err(BAKEAMI_ESSH, "cannot resolve ssh_host %s", host);
	fd = socket(ai->ai_family, SOCK_DGRAM, 0);
	if (fd >= 0 && connect(fd, ai->ai_addr, ai->ai_addrlen) == 0 &&
	    getsockname(fd, (struct sockaddr *)&ss, &len) == 0) {
		if (ss.ss_family == AF_INET)
			inet_ntop(AF_INET, &((struct sockaddr_in *)&ss)->sin_addr, addr, sizeof(addr));
		else
			inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&ss)->sin6_addr, addr, sizeof(addr));
		snprintf(out, INET6_ADDRSTRLEN + 4, "%s/%d", addr, ss.ss_family == AF_INET ? 32 : 128);
		rc = 0;
	} else {
		rc = bk_err(BAKEAMI_ESSH, "no route to ssh_host %s", host);
	}
	if (fd >= 0)
		close(fd);
	freeaddrinfo(ai);
	return rc;
}

/* Behind a bastion the instance's SSH comes from the bastion, whose private
 * address we do not know: the build VPC's own range, where bastions live
 * (Packer's default is 0.0.0.0/0; one in a peered network needs
 * temporary_security_group_source_cidrs). */
static int bastion_side(bk_strv *out, bakeami_bake *b)
{
	const bk_build_config *c = b->cfg;
	char *vpc = NULL;
	int rc = bk_ec2_build_vpc(&vpc, b->aws, c->vpc_id, c->subnet_id);

	rc = rc ? rc : bk_ec2_vpc_cidrs(out, b->aws, vpc);
	if (rc == 0)
		bk_step(b, "ssh_bastion_host: SSH admitted from VPC %s's %s, the bastion's side "
			"(temporary_security_group_source_cidrs for one outside it)", vpc,
			out->items[0]);
	free(vpc);
	return rc < 0 ? bk_err_wrap(rc, "the security group's source for ssh_bastion_host") : 0;
}

static int source_cidrs(bk_strv *out, bakeami_bake *b)
{
	const bk_build_config *c = b->cfg;
	char cidr[INET6_ADDRSTRLEN + 4];
	int rc;

	for (size_t i = 0; i < c->temporary_security_group_source_cidrs.count; i++)
		if ((rc = bk_strv_push(out, c->temporary_security_group_source_cidrs.items[i])) < 0)
			return rc;
	if (out->count)
		return 0;
	if (c->ssh_bastion_host)
		return bastion_side(out, b);
	rc = c->ssh_host ? route_source(cidr, c->ssh_host, c->ssh_port)
		: public_address(cidr, b, c->check_ip_url ? c->check_ip_url : BK_DEFAULT_CHECK_IP);
	if (rc < 0)
		return rc;
	return bk_strv_push(out, cidr);
}

static int create_group(bakeami_bake *b, const bk_strv *cidrs)
{
	bk_kv tags = BK_KV_INIT;
	char *name = bk_sprintf("bakeami-%s", b->run_id);
	int rc;

	if (!name)
		return bk_oom();
	if ((rc = bk_bake_tags(&tags, b, NULL)) < 0 ||
	    (rc = bk_journal_intent(b->journal, "security-group", name)) < 0 ||
	    (rc = bk_ec2_create_security_group(&b->sg_id, b->aws, name,
					       "bakeami temporary SSH access",
					       b->cfg->vpc_id, &tags)) < 0 ||
	    (rc = bk_journal_created(b->journal, "security-group", b->sg_id)) < 0 ||
	    (rc = bk_lease_hold(b, b->sg_id)) < 0)
		goto done;
	if (!cidrs->count) {
		bk_step(b, "temporary security group %s admits nothing (communicator \"none\")",
			b->sg_id);
		goto done;
	}
	rc = bk_ec2_authorize_ingress(b->aws, b->sg_id, b->cfg->ssh_port,
				      (const char *const *)cidrs->items, cidrs->count);
	if (rc == 0)
		bk_step(b, "temporary security group %s admits tcp/%d from %s%s", b->sg_id,
			b->cfg->ssh_port, cidrs->items[0], cidrs->count > 1 ? " and others" : "");
done:
	bk_kv_free(&tags);
	free(name);
	return rc;
}

static bool group_id(const char *s)
{
	return bk_str_starts(s, "sg-");
}

/* security_group_ids that are names (the seed's "all", "default"): EC2
 * wants ids, so each is looked up in the build VPC, with a warning. */
static int resolve_group_names(bakeami_bake *b)
{
	bk_strv *ids = &b->cfg->security_group_ids, names = BK_STRV_INIT, found = BK_STRV_INIT;
	bk_strv out = BK_STRV_INIT;
	char *vpc = NULL;
	size_t k = 0;
	int rc = 0;

	for (size_t i = 0; rc == 0 && i < ids->count; i++)
		if (!group_id(ids->items[i]))
			rc = bk_strv_push(&names, ids->items[i]);
	if (rc < 0 || names.count == 0)
		goto done;
	if ((rc = bk_ec2_build_vpc(&vpc, b->aws, b->cfg->vpc_id, b->cfg->subnet_id)) < 0 ||
	    (rc = bk_ec2_security_groups_named(&found, b->aws, vpc,
					       (const char *const *)names.items, names.count)) < 0) {
		rc = bk_err_wrap(rc == BAKEAMI_ENOTFOUND ? BAKEAMI_EINVALID : rc,
				 "builders[0].security_group_ids");
		goto done;
	}
	for (size_t i = 0; rc == 0 && i < ids->count; i++) {
		const char *id = group_id(ids->items[i]) ? ids->items[i] : found.items[k++];
		if (!group_id(ids->items[i]))
			bk_warn(b, "security_group_ids: \"%s\" is a group name, not an id: using "
				"%s, the group of that name in %s", ids->items[i], id, vpc);
		rc = bk_strv_push(&out, id);
	}
	if (rc == 0) {
		bk_strv_free(ids);
		*ids = out;
		memset(&out, 0, sizeof(out));
	}
done:
	bk_strv_free(&names);
	bk_strv_free(&found);
	bk_strv_free(&out);
	free(vpc);
	return rc;
}

/* ---- where the instance goes: Packer's StepNetworkInfo ---------------- */

static int find_subnet(bakeami_bake *b, const bk_kv *filters, bk_ec2_subnet_pick pick)
{
	bk_build_config *c = b->cfg;
	bk_ec2_subnet sn;
	int rc = bk_ec2_find_subnet(&sn, b->aws, filters, c->vpc_id, c->availability_zone, pick);

	if (rc < 0)
		return rc;
	if (!c->subnet_id) {
		bk_step(b, "subnet_filter: subnet %s in %s (%ld free addresses%s)", sn.id, sn.zone,
			sn.free_ips, sn.matched > 1 ? pick == BK_SUBNET_MOST_FREE ? ", the most of "
			"those matched" : ", picked at random of those matched" : "");
		c->subnet_id = sn.id;
		sn.id = NULL;
	}
	if (!c->vpc_id) {
		c->vpc_id = sn.vpc_id;
		sn.vpc_id = NULL;
	}
	if (!c->availability_zone) {
		c->availability_zone = sn.zone;
		sn.zone = NULL;
	}
	bk_ec2_subnet_free(&sn);
	return 0;
}

/* The subnet's VPC, when a group is to be made or found in it. */
static int subnet_vpc(bakeami_bake *b)
{
	bk_kv by_id = BK_KV_INIT;
	int rc = bk_kv_add(&by_id, "subnet-id", b->cfg->subnet_id);

	rc = rc ? rc : find_subnet(b, &by_id, BK_SUBNET_ONE);
	bk_kv_free(&by_id);
	return rc;
}

static int resolve_network(bakeami_bake *b)
{
	bk_build_config *c = b->cfg;
	bool groups_given = c->security_group_ids.count > 0;
	int rc = 0;

	if (!c->vpc_id && c->vpc_filters.count) {
		if ((rc = bk_ec2_find_vpc(&c->vpc_id, b->aws, &c->vpc_filters)) < 0)
			return bk_err_wrap(rc, "builders[0].vpc_filter");
		bk_step(b, "vpc_filter: VPC %s", c->vpc_id);
	}
	if (!c->subnet_id && c->subnet_filters.count)
		rc = find_subnet(b, &c->subnet_filters, c->subnet_most_free == 1 ? BK_SUBNET_MOST_FREE
				 : c->subnet_random == 1 ? BK_SUBNET_RANDOM : BK_SUBNET_ONE);
	else if (c->subnet_id && !c->vpc_id && !groups_given)
		rc = subnet_vpc(b);
	if (rc < 0)
		return bk_err_wrap(rc, c->subnet_filters.count ? "builders[0].subnet_filter"
				   : "builders[0].subnet_id");
	if (groups_given || !c->security_group_filters.count)
		return 0;
	if ((rc = bk_ec2_find_security_groups(&c->security_group_ids, b->aws,
					      &c->security_group_filters, c->vpc_id)) < 0)
		return bk_err_wrap(rc, "builders[0].security_group_filter");
	bk_step(b, "security_group_filter: %zu group%s (%s%s)", c->security_group_ids.count,
		c->security_group_ids.count > 1 ? "s" : "", c->security_group_ids.items[0],
		c->security_group_ids.count > 1 ? ", ..." : "");
	return 0;
}

int bk_stage_create_security_group(bakeami_bake *b)
{
	bk_strv cidrs = BK_STRV_INIT;
	int rc;

	if ((rc = resolve_network(b)) < 0)
		return rc;
	if (b->cfg->security_group_ids.count) {
		if ((rc = resolve_group_names(b)) < 0)
			return rc;
		bk_step(b, "using security groups given by the template");
		return 0;
	}
	if (b->cfg->communicator_none || (rc = source_cidrs(&cidrs, b)) == 0)
		rc = create_group(b, &cidrs);
	bk_strv_free(&cidrs);
	return rc;
}
