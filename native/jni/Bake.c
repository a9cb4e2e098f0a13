/*
 * Bake.c - natives of io.bakeami.nativelib.Bake: one bakeami_builds (the
 * bakes of every build the options select, as the CLI runs them) per Java
 * Bake, their log events delivered to Bake.event() as they come, cancel
 * from any thread, each build's results as UTF-8 byte[].
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
	bakeami_builds *builds;
	jobject self;  /* global ref to the Bake, from new0 to free0 */
};

static struct bkj_bake *handle(JNIEnv *env, jlong h)
{
	struct bkj_bake *jb = BKJ_PTR(struct bkj_bake, h);

	if (!jb || !jb->builds)
		bkj_throw(env, BAKEAMI_EINVALID, "the bake is closed");
	return jb;
}

/* The i-th build's bake, or NULL (closed handle, or no such build). */
static const bakeami_bake *build_at(JNIEnv *env, jlong h, jint i)
{
	struct bkj_bake *jb = handle(env, h);

	return jb && jb->builds && i >= 0 ? bakeami_builds_bake(jb->builds, (size_t)i) : NULL;
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
	bakeami_builds_free(jb->builds); /* no event comes after this returns */
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
	rc = bakeami_builds_new(&jb->builds, o); /* copies every string */
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

/* Runs every build on the calling thread (the library's threads bake them
 * in parallel); events reach this.event() as they come. Returns normally
 * when all succeeded; otherwise throws BakeException with the worst
 * failure's code and message, which bakeami_builds_run left as this
 * thread's last error (cleanup has run either way). */
JNIEXPORT void JNICALL Java_io_bakeami_nativelib_Bake_run0(JNIEnv *env, jobject self, jlong h)
{
	struct bkj_bake *jb = handle(env, h);
	int rc;

	(void)self;
	if (!jb || !jb->builds)
		return;
	if ((rc = bakeami_builds_run(jb->builds)) < 0)
		bkj_throw(env, rc, bakeami_error_last());
}

/* Thread-safe: the library takes its own lock. Java never calls this after
 * free0 (Bake guards the handle). */
JNIEXPORT void JNICALL Java_io_bakeami_nativelib_Bake_cancel0(JNIEnv *env, jclass cls, jlong h)
{
	struct bkj_bake *jb = handle(env, h);

	(void)cls;
	if (jb && jb->builds)
		bakeami_builds_cancel(jb->builds);
}

JNIEXPORT jint JNICALL Java_io_bakeami_nativelib_Bake_count0(JNIEnv *env, jclass cls, jlong h)
{
	struct bkj_bake *jb = handle(env, h);

	(void)cls;
	return jb && jb->builds ? (jint)bakeami_builds_count(jb->builds) : 0;
}

/* A string of the i-th build, from the builds or from its bake; NULL for
 * a closed handle or no such build. */
static jbyteArray builds_str(JNIEnv *env, jlong h, jint i,
			     const char *(*get)(const bakeami_builds *, size_t))
{
	struct bkj_bake *jb = handle(env, h);

	return jb && jb->builds && i >= 0 ? bkj_bytes(env, get(jb->builds, (size_t)i)) : NULL;
}

static jbyteArray bake_str(JNIEnv *env, jlong h, jint i, const char *(*get)(const bakeami_bake *))
{
	const bakeami_bake *b = build_at(env, h, i);

	return b ? bkj_bytes(env, get(b)) : NULL;
}

JNIEXPORT jbyteArray JNICALL Java_io_bakeami_nativelib_Bake_name0(JNIEnv *env, jclass cls, jlong h,
								  jint i)
{
	(void)cls;
	return builds_str(env, h, i, bakeami_builds_name);
}

JNIEXPORT jbyteArray JNICALL Java_io_bakeami_nativelib_Bake_type0(JNIEnv *env, jclass cls, jlong h,
								  jint i)
{
	(void)cls;
	return builds_str(env, h, i, bakeami_builds_type);
}

JNIEXPORT jbyteArray JNICALL Java_io_bakeami_nativelib_Bake_runId0(JNIEnv *env, jclass cls, jlong h,
								   jint i)
{
	(void)cls;
	return bake_str(env, h, i, bakeami_bake_run_id);
}

JNIEXPORT jbyteArray JNICALL Java_io_bakeami_nativelib_Bake_ami0(JNIEnv *env, jclass cls, jlong h,
								 jint i, jbyteArray region)
{
	const bakeami_bake *b = build_at(env, h, i);
	jbyteArray out;
	char *r;
	int err = 0;

	(void)cls;
	if (!b)
		return NULL;
	r = bkj_cstr(env, region, &err);
	if (err)
		return NULL;
	out = bkj_bytes(env, bakeami_bake_ami(b, r));
	free(r);
	return out;
}

/* Java pairs the region with ami(): the AMI's, which differs from the
 * build region's with skip_save_build_region; the build region without one. */
static const char *ami_or_build_region(const bakeami_bake *b)
{
	const char *r = bakeami_bake_ami_region(b);

	return r ? r : bakeami_bake_region(b);
}

JNIEXPORT jbyteArray JNICALL Java_io_bakeami_nativelib_Bake_region0(JNIEnv *env, jclass cls, jlong h,
								    jint i)
{
	(void)cls;
	return bake_str(env, h, i, ami_or_build_region);
}

/* i < 0: the combined document of every build. */
JNIEXPORT jbyteArray JNICALL Java_io_bakeami_nativelib_Bake_resultJson0(JNIEnv *env, jclass cls,
									jlong h, jint i)
{
	struct bkj_bake *jb;

	(void)cls;
	if (i >= 0)
		return bake_str(env, h, i, bakeami_bake_result_json);
	jb = handle(env, h);
	return jb && jb->builds ? bkj_bytes(env, bakeami_builds_result_json(jb->builds)) : NULL;
}

JNIEXPORT jbyteArray JNICALL Java_io_bakeami_nativelib_Bake_error0(JNIEnv *env, jclass cls, jlong h,
								   jint i)
{
	(void)cls;
	return bake_str(env, h, i, bakeami_bake_error);
}

JNIEXPORT void JNICALL Java_io_bakeami_nativelib_Bake_free0(JNIEnv *env, jclass cls, jlong h)
{
	struct bkj_bake *jb = BKJ_PTR(struct bkj_bake, h);

	(void)cls;
	if (jb)
		bake_free(env, jb);
}
