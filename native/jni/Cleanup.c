/*
 * Cleanup.c - natives of io.bakeami.nativelib.Cleanup: `bakeami cleanup
 * --journal F` (bakeami_cleanup_run) for a bake that is gone without an
 * outcome, its lines delivered to Cleanup.event() as they come, signed with
 * the bake's credentials (its keys, its role) when it had some.
 */
#include <stdlib.h>

#include "bakeami_jni.h"
#include "io_bakeami_nativelib_Cleanup.h"

struct bkj_cleanup {
	jobject self;     /* global ref: events may come from a library thread */
	jmethodID event;
};

/* Cleanup.run0's strings, in its order; the keys are secrets. */
enum { S_JOURNAL, S_REGION, S_KEY, S_SECRET, S_TOKEN, S_ROLE, S_EXTERNAL_ID, S_SESSION, S_COUNT };

static void on_event(const bakeami_event *ev, void *payload)
{
	struct bkj_cleanup *c = payload;
	JNIEnv *env = bkj_env();

	if (env) /* NULL: the JVM refused to attach this thread; the line is lost */
		bkj_deliver(env, c->self, c->event, ev);
}

static void free_all(char **s)
{
	for (int i = 0; i < S_COUNT; i++)
		bkj_free_secret(s[i]);
}

/* 0 with every string copied (NULL for null); -1 with a Java exception. */
static int read_all(JNIEnv *env, jobjectArray strings, char **s)
{
	int err = 0;

	for (int i = 0; i < S_COUNT; i++) {
		jbyteArray b = (*env)->GetObjectArrayElement(env, strings, i);
		s[i] = bkj_cstr(env, b, &err);
		if (b)
			(*env)->DeleteLocalRef(env, b);
		if (err) {
			free_all(s);
			return -1;
		}
	}
	return 0;
}

static void fill(bakeami_cleanup_options *o, char **s, jint duration)
{
	o->journal_path = s[S_JOURNAL];
	o->region = s[S_REGION];
	o->access_key_id = s[S_KEY];
	o->secret_access_key = s[S_SECRET];
	o->session_token = s[S_TOKEN];
	o->role_arn = s[S_ROLE];
	o->role_external_id = s[S_EXTERNAL_ID];
	o->role_session_name = s[S_SESSION];
	o->role_duration_seconds = duration > 0 ? (unsigned int)duration : 0;
}

/* Runs the cleanup on the calling thread; throws BakeException when it
 * could not finish (what it could not delete is in its lines). */
JNIEXPORT void JNICALL Java_io_bakeami_nativelib_Cleanup_run0(JNIEnv *env, jobject self, jobjectArray strings,
							       jint duration)
{
	bakeami_cleanup_options o = BAKEAMI_CLEANUP_OPTIONS_INIT;
	struct bkj_cleanup c = {NULL, NULL};
	char *s[S_COUNT] = {NULL};
	jclass cls;
	int rc;

	if ((*env)->GetArrayLength(env, strings) != S_COUNT) {
		bkj_throw(env, BAKEAMI_EINVALID, "Cleanup.run0: wrong number of strings");
		return;
	}
	if (read_all(env, strings, s) < 0)
		return;
	cls = (*env)->GetObjectClass(env, self);
	c.event = (*env)->GetMethodID(env, cls, "event", "(IID[B[B)V");
	(*env)->DeleteLocalRef(env, cls);
	if (!c.event || !(c.self = (*env)->NewGlobalRef(env, self))) {
		free_all(s);
		if (!(*env)->ExceptionCheck(env))
			bkj_throw(env, BAKEAMI_ENOMEM, "out of memory");
		return;
	}
	fill(&o, s, duration);
	o.log_cb = on_event;
	o.log_payload = &c;
	rc = bakeami_cleanup_run(&o);
	(*env)->DeleteGlobalRef(env, c.self);
	free_all(s);
	if (rc < 0)
		bkj_throw(env, rc, bakeami_error_last());
}
