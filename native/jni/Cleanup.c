/*
 * Cleanup.c - natives of io.bakeami.nativelib.Cleanup: `bakeami cleanup
 * --journal F` (bakeami_cleanup_run) for a bake that is gone without an
 * outcome, its lines delivered to Cleanup.event() as they come.
 */
#include <stdlib.h>

#include "bakeami_jni.h"
#include "io_bakeami_nativelib_Cleanup.h"

struct bkj_cleanup {
	jobject self;     /* global ref: events may come from a library thread */
	jmethodID event;
};

static void on_event(const bakeami_event *ev, void *payload)
{
	struct bkj_cleanup *c = payload;
	JNIEnv *env = bkj_env();

	if (env) /* NULL: the JVM refused to attach this thread; the line is lost */
		bkj_deliver(env, c->self, c->event, ev);
}

/* Runs the cleanup on the calling thread; throws BakeException when it
 * could not finish (what it could not delete is in its lines). */
JNIEXPORT void JNICALL Java_io_bakeami_nativelib_Cleanup_run0(JNIEnv *env, jobject self, jbyteArray journal,
							       jbyteArray region)
{
	bakeami_cleanup_options o = BAKEAMI_CLEANUP_OPTIONS_INIT;
	struct bkj_cleanup c = {NULL, NULL};
	int err = 0, rc;
	char *j = bkj_cstr(env, journal, &err), *r = NULL;
	jclass cls;

	if (err)
		return;
	if (!(r = bkj_cstr(env, region, &err)) && err) {
		free(j);
		return;
	}
	cls = (*env)->GetObjectClass(env, self);
	c.event = (*env)->GetMethodID(env, cls, "event", "(IID[B[B)V");
	(*env)->DeleteLocalRef(env, cls);
	if (!c.event || !(c.self = (*env)->NewGlobalRef(env, self))) {
		free(j);
		free(r);
		if (!(*env)->ExceptionCheck(env))
			bkj_throw(env, BAKEAMI_ENOMEM, "out of memory");
		return;
	}
	o.journal_path = j;
	o.region = r;
	o.log_cb = on_event;
	o.log_payload = &c;
	rc = bakeami_cleanup_run(&o);
	(*env)->DeleteGlobalRef(env, c.self);
	free(j);
	free(r);
	if (rc < 0)
		bkj_throw(env, rc, bakeami_error_last());
}
