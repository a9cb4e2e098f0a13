/*
 * Bake.c - natives of io.bakeami.nativelib.Bake: one bakeami_bake per Java
 * Bake, its log events delivered to Bake.event() as they come, cancel from
 * any thread, results as UTF-8 byte[].
 *
 * The options cross as one UTF-8 JSON document (BakeOptions.toJson), read
 * by the library's bakeami_options_from_json: this file knows no option by
 * name. The handle Java keeps (a long) points to a struct bkj_bake.
 *
 * Threads: the library serializes the events of one bake, but they may
 * come from its own threads (bakeami.h). So the callback never assumes the
 * thread in run0: it finds (or attaches, once per thread) its JNIEnv with
 * bkj_env() and calls the Bake through a global reference that lives as
 * long as the handle, so there is no "is it running" flag to race on. Each
 * event gets its own local frame, so a bake that logs for an hour holds no
 * more local references than one that logs once.
 */
#include <stdint.h>
#include <stdlib.h>

#include "bakeami_jni.h"
#include "io_bakeami_nativelib_Bake.h"

struct bkj_bake {
	bakeami_bake *bake;
	jobject self;  /* global ref to the Bake, from new0 to free0 */
};

static struct bkj_bake *handle(JNIEnv *env, jlong h)
{
	struct bkj_bake *jb = BKJ_PTR(struct bkj_bake, h);

	if (!jb || !jb->bake)
		bkj_throw(env, BAKEAMI_EINVALID, "the bake is closed");
	return jb;
}

/* The options document as bakeami_options (free with bakeami_options_free),
 * or NULL with a BakeException pending. */
static bakeami_options *options(JNIEnv *env, jbyteArray json)
{
	bakeami_options *o = NULL;
	int err = 0, rc;
	char *doc = bkj_cstr(env, json, &err);

	if (err)
		return NULL;
	rc = bakeami_options_from_json(&o, doc);
	bkj_free_secret(doc); /* it holds the credentials */
	if (rc < 0) {
		bkj_throw(env, rc, bakeami_error_last());
		return NULL;
	}
	return o;
}

/* ---- the log callback ---------------------------------------------------- */

static void on_event(const bakeami_event *ev, void *payload)
{
	struct bkj_bake *jb = payload;
	JNIEnv *env = bkj_env();

	if (env) /* NULL: the JVM refused to attach this thread; the line is lost */
		bkj_deliver(env, jb->self, bkj.event, ev);
}

/* ---- natives ------------------------------------------------------------- */

static void bake_free(JNIEnv *env, struct bkj_bake *jb)
{
	bakeami_bake_free(jb->bake); /* no event comes after this returns */
	if (jb->self)
		(*env)->DeleteGlobalRef(env, jb->self);
	free(jb);
}

JNIEXPORT jlong JNICALL Java_io_bakeami_nativelib_Bake_new0(JNIEnv *env, jobject self, jbyteArray json)
{
	bakeami_options *o;
	struct bkj_bake *jb;
	int rc;

	if (!(o = options(env, json)))
		return 0;
	if (!(jb = calloc(1, sizeof(*jb))) || !(jb->self = (*env)->NewGlobalRef(env, self))) {
		free(jb);
		bakeami_options_free(o);
		bkj_throw(env, BAKEAMI_ENOMEM, "out of memory");
		return 0;
	}
	o->log_cb = on_event;
	o->log_payload = jb;
	rc = bakeami_bake_new(&jb->bake, o); /* copies every string */
	bakeami_options_free(o);
	if (rc < 0) {
		bake_free(env, jb);
		bkj_throw(env, rc, bakeami_error_last());
		return 0;
	}
	return BKJ_HANDLE(jb);
}

JNIEXPORT void JNICALL Java_io_bakeami_nativelib_Bake_validate0(JNIEnv *env, jclass cls, jbyteArray json)
{
	bakeami_options *o;
	int rc;

	(void)cls;
	if (!(o = options(env, json)))
		return;
	rc = bakeami_template_validate(o);
	bakeami_options_free(o);
	if (rc < 0)
		bkj_throw(env, rc, bakeami_error_last());
}

/* The document as the library read it, written back: what the tests of
 * the encoding compare. */
JNIEXPORT jbyteArray JNICALL Java_io_bakeami_nativelib_Bake_optionsJson0(JNIEnv *env, jclass cls,
									 jbyteArray json)
{
	bakeami_options *o;
	jbyteArray out = NULL;
	char *doc = NULL;
	int rc;

	(void)cls;
	if (!(o = options(env, json)))
		return NULL;
	rc = bakeami_options_to_json(&doc, o);
	bakeami_options_free(o);
	if (rc < 0) {
		bkj_throw(env, rc, bakeami_error_last());
		return NULL;
	}
	out = bkj_bytes(env, doc);
	bkj_free_secret(doc);
	return out;
}

/* Runs the bake on the calling thread; events reach this.event() as they
 * come. Returns normally on success; otherwise throws BakeException with
 * the bake's error and code (cleanup has run either way). */
JNIEXPORT void JNICALL Java_io_bakeami_nativelib_Bake_run0(JNIEnv *env, jobject self, jlong h)
{
	struct bkj_bake *jb = handle(env, h);
	const char *msg;
	int rc;

	(void)self;
	if (!jb || !jb->bake)
		return;
	if ((rc = bakeami_bake_run(jb->bake)) < 0) {
		msg = bakeami_bake_error(jb->bake);
		bkj_throw(env, rc, msg ? msg : bakeami_error_last());
	}
}

/* Thread-safe: the library takes its own lock. Java never calls this after
 * free0 (Bake guards the handle). */
JNIEXPORT void JNICALL Java_io_bakeami_nativelib_Bake_cancel0(JNIEnv *env, jclass cls, jlong h)
{
	struct bkj_bake *jb = handle(env, h);

	(void)cls;
	if (jb && jb->bake)
		bakeami_bake_cancel(jb->bake);
}

JNIEXPORT jbyteArray JNICALL Java_io_bakeami_nativelib_Bake_runId0(JNIEnv *env, jclass cls, jlong h)
{
	struct bkj_bake *jb = handle(env, h);

	(void)cls;
	return jb && jb->bake ? bkj_bytes(env, bakeami_bake_run_id(jb->bake)) : NULL;
}

JNIEXPORT jbyteArray JNICALL Java_io_bakeami_nativelib_Bake_ami0(JNIEnv *env, jclass cls, jlong h,
								 jbyteArray region)
{
	struct bkj_bake *jb = handle(env, h);
	jbyteArray out;
	char *r;
	int err = 0;

	(void)cls;
	if (!jb || !jb->bake)
		return NULL;
	r = bkj_cstr(env, region, &err);
	if (err)
		return NULL;
	out = bkj_bytes(env, bakeami_bake_ami(jb->bake, r));
	free(r);
	return out;
}

JNIEXPORT jbyteArray JNICALL Java_io_bakeami_nativelib_Bake_region0(JNIEnv *env, jclass cls, jlong h)
{
	struct bkj_bake *jb = handle(env, h);

	(void)cls;
	return jb && jb->bake ? bkj_bytes(env, bakeami_bake_region(jb->bake)) : NULL;
}

JNIEXPORT jbyteArray JNICALL Java_io_bakeami_nativelib_Bake_resultJson0(JNIEnv *env, jclass cls, jlong h)
{
	struct bkj_bake *jb = handle(env, h);

	(void)cls;
	return jb && jb->bake ? bkj_bytes(env, bakeami_bake_result_json(jb->bake)) : NULL;
}

JNIEXPORT jbyteArray JNICALL Java_io_bakeami_nativelib_Bake_error0(JNIEnv *env, jclass cls, jlong h)
{
	struct bkj_bake *jb = handle(env, h);

	(void)cls;
	return jb && jb->bake ? bkj_bytes(env, bakeami_bake_error(jb->bake)) : NULL;
}

JNIEXPORT void JNICALL Java_io_bakeami_nativelib_Bake_free0(JNIEnv *env, jclass cls, jlong h)
{
	struct bkj_bake *jb = BKJ_PTR(struct bkj_bake, h);

	(void)cls;
	if (jb)
		bake_free(env, jb);
}
