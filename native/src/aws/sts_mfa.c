/*
 * sts_mfa.c - role sessions bought with an MFA code, shared per process.
 *
 * STS takes an MFA code once, but one run makes several clients that each
 * assume the caller's role (the bake's, one per copy region, one per build
 * of a template with several): the first asks STS, the others get the same
 * session. Sessions are kept only until they expire.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "aws_int.h"

struct mfa_session {
	char *role_arn;
	char *serial;
	char *token;           /* the code that bought it */
	bk_aws_creds creds;
	struct mfa_session *next;
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct mfa_session *sessions;

static void session_free(struct mfa_session *m)
{
	free(m->role_arn);
	free(m->serial);
	if (m->token)
		explicit_bzero(m->token, strlen(m->token));
	free(m->token);
	bk_aws__creds_clear(&m->creds);
	free(m);
}

/* Drops (and wipes) the sessions that have expired. */
static void prune(double now)
{
	struct mfa_session **p = &sessions;

	while (*p) {
		struct mfa_session *m = *p;
		if (m->creds.expires > 0 && m->creds.expires <= now) {
			*p = m->next;
			session_free(m);
		} else {
			p = &m->next;
		}
	}
}

static struct mfa_session *find(const bk_refresh *r)
{
	for (struct mfa_session *m = sessions; m; m = m->next)
		if (!strcmp(m->role_arn, r->role_arn) && !strcmp(m->serial, r->mfa_serial) &&
		    !strcmp(m->token, r->mfa_token))
			return m;
	return NULL;
}

/* Keeps `fresh` (now owned by the list) as the session r's code bought. */
static int remember(const bk_refresh *r, bk_aws_creds *fresh, struct mfa_session **out)
{
	struct mfa_session *m = calloc(1, sizeof(*m));

	if (!m || !(m->role_arn = bk_strdup(r->role_arn)) || !(m->serial = bk_strdup(r->mfa_serial)) ||
	    !(m->token = bk_strdup(r->mfa_token))) {
		if (m)
			session_free(m);
		bk_aws__creds_clear(fresh);
		return bk_oom();
	}
	m->creds = *fresh;
	memset(fresh, 0, sizeof(*fresh));
	m->next = sessions;
	sessions = m;
	*out = m;
	return 0;
}

int bk_aws__mfa_session(bk_aws *aws, const bk_refresh *r, bk_aws_creds *out)
{
	bk_aws_creds fresh = {0};
	struct mfa_session *m;
	int rc = 0;

	/* Held across the STS call: a second client waits for the first's session
	 * rather than spend the code again. */
	pthread_mutex_lock(&lock);
	prune(bk_wall());
	if (!(m = find(r)) && (rc = bk_aws__assume_role(aws, r, &fresh)) == 0)
		rc = remember(r, &fresh, &m);
	if (rc == 0)
		rc = bk_aws__creds_set(out, m->creds.access_key_id, m->creds.secret_access_key,
				       m->creds.session_token, m->creds.source, m->creds.expires);
	pthread_mutex_unlock(&lock);
	return rc;
}
