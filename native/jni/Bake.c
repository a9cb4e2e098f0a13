/*
 * Bake.c - natives of io.bakeami.nativelib.Bake: one bakeami_bake per Java
 * Bake, its log events delivered to Bake.event() as they come, cancel from
 * any thread, results as JSON.
 *
 * The handle Java keeps (a long) points to a struct bkj_bake. The log
 * callback runs on the thread that called run0 (bakeami_bake_run calls it
 * on the baking thread), so it uses that thread's JNIEnv and the Bake
 * reference run0 got; each event gets its own local frame, so a bake that
 * logs for an hour holds no more local references than one that logs once.
 */
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bakeami_jni.h"
#include "io_bakeami_nativelib_Bake.h"

struct bkj_bake {
	bakeami_bake *bake;
	/* Set by run0 for the length of the run; read by the log callback. */
	int running;
	pthread_t thread;     /* the thread in run0 */
	JNIEnv *env;          /* its JNIEnv */
	jobject self;         /* the Bake (run0's local reference) */
	jobject self_global;  /* the same, for an event from any other thread */
};

/* The options as C strings, copied out of the Java arrays. */
struct bkj_opts {
	char *template_path, *region, *access_key, *secret_key, *session_token;
	char *journal, *manifest, *junit, *result;
	char **vars, **var_files, **extra_tags;
	size_t vars_count, var_files_count, extra_tags_count;
};

static void opts_free(struct bkj_opts *o)
{
	free(o->template_path);
	free(o->region);
	free(o->access_key);
	bkj_free_secret(o->secret_key);
	bkj_free_secret(o->session_token);
	free(o->journal);
	free(o->manifest);
	free(o->junit);
	free(o->result);
	bkj_cstrv_free(o->vars, o->vars_count);
	bkj_cstrv_free(o->var_files, o->var_files_count);
	bkj_cstrv_free(o->extra_tags, o->extra_tags_count);
	memset(o, 0, sizeof(*o));
}

/* Copies the Java arguments into *o and points *copts at them. Returns 0, or
 * -1 with a Java exception pending (and *o freed). */
static int opts_load(JNIEnv *env, struct bkj_opts *o, bakeami_options *copts,
		     jbyteArray tmpl, jobjectArray vars, jobjectArray var_files,
		     jbyteArray region, jbyteArray access_key, jbyteArray secret_key,
		     jbyteArray session_token, jbyteArray journal, jbyteArray manifest,
		     jbyteArray junit, jbyteArray result, jboolean on_error_abort,
		     jboolean debug, jobjectArray extra_tags)
{
	int err = 0;

	memset(o, 0, sizeof(*o));
	o->template_path = bkj_cstr(env, tmpl, &err);
	if (!err) o->region = bkj_cstr(env, region, &err);
	if (!err) o->access_key = bkj_cstr(env, access_key, &err);
	if (!err) o->secret_key = bkj_cstr(env, secret_key, &err);
	if (!err) o->session_token = bkj_cstr(env, session_token, &err);
	if (!err) o->journal = bkj_cstr(env, journal, &err);
	if (!err) o->manifest = bkj_cstr(env, manifest, &err);
	if (!err) o->junit = bkj_cstr(env, junit, &err);
	if (!err) o->result = bkj_cstr(env, result, &err);
	if (!err) o->vars = bkj_cstrv(env, vars, &o->vars_count, &err);
	if (!err) o->var_files = bkj_cstrv(env, var_files, &o->var_files_count, &err);
	if (!err) o->extra_tags = bkj_cstrv(env, extra_tags, &o->extra_tags_count, &err);
	if (err) {
		opts_free(o);
		return -1;
	}
	if (bakeami_options_init(copts, BAKEAMI_OPTIONS_VERSION) < 0) {
		opts_free(o);
		bkj_throw(env, BAKEAMI_ERROR, bakeami_error_last());
		return -1;
	}
	copts->template_path = o->template_path;
	copts->vars = (const char *const *)o->vars;
	copts->vars_count = o->vars_count;
	copts->var_files = (const char *const *)o->var_files;
	copts->var_files_count = o->var_files_count;
	copts->journal_path = o->journal;
	copts->manifest_path = o->manifest;
	copts->result_path = o->result;
	copts->junit_path = o->junit;
	copts->on_error_abort = on_error_abort ? 1 : 0;
	copts->debug = debug ? 1 : 0;
	copts->access_key_id = o->access_key;
	copts->secret_access_key = o->secret_key;
	copts->session_token = o->session_token;
	copts->region = o->region;
	copts->extra_tags = (const char *const *)o->extra_tags;
	copts->extra_tags_count = o->extra_tags_count;
	return 0;
}

static struct bkj_bake *handle(JNIEnv *env, jlong h)
{
	struct bkj_bake *jb = BKJ_PTR(struct bkj_bake, h);

	if (!jb || !jb->bake)
		bkj_throw(env, BAKEAMI_EINVALID, "the bake is closed");
	return jb;
}

/* ---- the log callback ---------------------------------------------------- */

static void deliver(JNIEnv *env, jobject self, const bakeami_event *ev)
{
	jbyteArray stage, line;

	if ((*env)->PushLocalFrame(env, 4) < 0) {
		(*env)->ExceptionClear(env); /* no memory for this event: drop it */
		return;
	}
	stage = bkj_bytes(env, ev->stage);
	line = bkj_bytes(env, ev->line ? ev->line : ev->text);
	if (!(*env)->ExceptionCheck(env))
		(*env)->CallVoidMethod(env, self, bkj.event, (jint)ev->kind, (jint)ev->stream,
				       (jdouble)ev->elapsed, stage, line);
	/* Bake.event catches everything; only an Error (OOM) can get here. The
	 * bake goes on: a lost log line must not leave cloud resources behind. */
	if ((*env)->ExceptionCheck(env))
		(*env)->ExceptionClear(env);
	(*env)->PopLocalFrame(env, NULL);
}

static void on_event(const bakeami_event *ev, void *payload)
{
	struct bkj_bake *jb = payload;
	JNIEnv *env = NULL;
	jint r;

	if (!jb->running)
		return;
	if (pthread_equal(pthread_self(), jb->thread)) {
		deliver(jb->env, jb->self, ev);
		return;
	}
	/* Not the baking thread (the library does not do this today). */
	r = (*bkj.vm)->GetEnv(bkj.vm, (void **)&env, JNI_VERSION_1_8);
	if (r == JNI_OK) {
		deliver(env, jb->self_global, ev);
	} else if (r == JNI_EDETACHED &&
		   (*bkj.vm)->AttachCurrentThreadAsDaemon(bkj.vm, (void **)&env, NULL) == JNI_OK) {
		deliver(env, jb->self_global, ev);
		(*bkj.vm)->DetachCurrentThread(bkj.vm);
	}
}

/* ---- natives ------------------------------------------------------------- */

JNIEXPORT jlong JNICALL Java_io_bakeami_nativelib_Bake_new0(
	JNIEnv *env, jclass cls, jbyteArray tmpl, jobjectArray vars, jobjectArray var_files,
	jbyteArray region, jbyteArray access_key, jbyteArray secret_key, jbyteArray session_token,
	jbyteArray journal, jbyteArray manifest, jbyteArray junit, jbyteArray result,
	jboolean on_error_abort, jboolean debug, jobjectArray extra_tags)
{
	struct bkj_opts o;
	bakeami_options copts;
	struct bkj_bake *jb;
	int rc;

	(void)cls;
	if (opts_load(env, &o, &copts, tmpl, vars, var_files, region, access_key, secret_key,
		      session_token, journal, manifest, junit, result, on_error_abort, debug,
		      extra_tags) < 0)
		return 0;
	if (!(jb = calloc(1, sizeof(*jb)))) {
		opts_free(&o);
		bkj_throw(env, BAKEAMI_ENOMEM, "out of memory");
		return 0;
	}
	copts.log_cb = on_event;
	copts.log_payload = jb;
	rc = bakeami_bake_new(&jb->bake, &copts); /* copies every string */
	opts_free(&o);
	if (rc < 0) {
		free(jb);
		bkj_throw(env, rc, bakeami_error_last());
		return 0;
	}
	return BKJ_HANDLE(jb);
}

JNIEXPORT void JNICALL Java_io_bakeami_nativelib_Bake_validate0(
	JNIEnv *env, jclass cls, jbyteArray tmpl, jobjectArray vars, jobjectArray var_files,
	jbyteArray region, jbyteArray access_key, jbyteArray secret_key, jbyteArray session_token,
	jbyteArray journal, jbyteArray manifest, jbyteArray junit, jbyteArray result,
	jboolean on_error_abort, jboolean debug, jobjectArray extra_tags)
{
	struct bkj_opts o;
	bakeami_options copts;
	int rc;

	(void)cls;
	if (opts_load(env, &o, &copts, tmpl, vars, var_files, region, access_key, secret_key,
		      session_token, journal, manifest, junit, result, on_error_abort, debug,
		      extra_tags) < 0)
		return;
	rc = bakeami_template_validate(&copts);
	opts_free(&o);
	if (rc < 0)
		bkj_throw(env, rc, bakeami_error_last());
}

/* Runs the bake on the calling thread; events reach this.event() as they
 * come. Returns normally on success; otherwise throws BakeException with
 * the bake's error and code (cleanup has run either way). */
JNIEXPORT void JNICALL Java_io_bakeami_nativelib_Bake_run0(JNIEnv *env, jobject self, jlong h)
{
	struct bkj_bake *jb = handle(env, h);
	const char *msg;
	int rc;

	if (!jb || !jb->bake)
		return;
	if (!(jb->self_global = (*env)->NewGlobalRef(env, self))) {
		bkj_throw(env, BAKEAMI_ENOMEM, "out of memory");
		return;
	}
	jb->thread = pthread_self();
	jb->env = env;
	jb->self = self;
	jb->running = 1;
	rc = bakeami_bake_run(jb->bake);
	jb->running = 0;
	jb->env = NULL;
	jb->self = NULL;
	(*env)->DeleteGlobalRef(env, jb->self_global);
	jb->self_global = NULL;
	if (rc < 0) {
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

	(void)env;
	(void)cls;
	if (!jb)
		return;
	bakeami_bake_free(jb->bake);
	free(jb);
}
