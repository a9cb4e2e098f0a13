/*
 * NativeBaker.c - natives of io.bakeami.nativelib.NativeBaker: library
 * init and version, plus what every C file of the bridge shares:
 * JNI_OnLoad/JNI_OnUnload (the cached classes and method ids, the key that
 * detaches the threads it attached) and the UTF-8, exception and thread
 * helpers of bakeami_jni.h.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bakeami_jni.h"
#include "io_bakeami_nativelib_NativeBaker.h"

struct bkj_cache bkj;

/* ---- JNI_OnLoad / JNI_OnUnload ----------------------------------------- */

static jclass global_class(JNIEnv *env, const char *name)
{
	jclass local = (*env)->FindClass(env, name), global;

	if (!local)
		return NULL;
	global = (*env)->NewGlobalRef(env, local);
	(*env)->DeleteLocalRef(env, local);
	return global;
}

/* Runs as a thread attached by bkj_env exits (the key's value is the VM). */
static void detach_thread(void *vm)
{
	JavaVM *jvm = vm;

	(*jvm)->DetachCurrentThread(jvm);
}

static void release_cache(JNIEnv *env)
{
	/* Threads attached by this copy after this point stay attached until
	 * they exit: the key (and its destructor in this file) is gone. */
	if (bkj.attached_ok)
		pthread_key_delete(bkj.attached);
	if (bkj.native_baker)
		(*env)->DeleteGlobalRef(env, bkj.native_baker);
	if (bkj.bake)
		(*env)->DeleteGlobalRef(env, bkj.bake);
	memset(&bkj, 0, sizeof(bkj));
}

/* Everything is looked up once here: lazily filled statics would race
 * between bakes running on several threads. FindClass here resolves
 * through the class loader that called System.load. */
JNIEXPORT jint JNICALL JNI_OnLoad(JavaVM *vm, void *reserved)
{
	JNIEnv *env;

	(void)reserved;
	if ((*vm)->GetEnv(vm, (void **)&env, JNI_VERSION_1_8) != JNI_OK)
		return JNI_ERR;
	bkj.vm = vm;
	if (pthread_key_create(&bkj.attached, detach_thread) != 0)
		return JNI_ERR;
	bkj.attached_ok = 1;
	if (!(bkj.native_baker = global_class(env, "io/bakeami/nativelib/NativeBaker")) ||
	    !(bkj.throwex = (*env)->GetStaticMethodID(env, bkj.native_baker, "throwex", "(I[B)V")) ||
	    !(bkj.bake = global_class(env, "io/bakeami/nativelib/Bake")) ||
	    !(bkj.event = (*env)->GetMethodID(env, bkj.bake, "event", "(IID[B[B)V"))) {
		release_cache(env);
		return JNI_ERR; /* a NoSuchMethodError/NoClassDefFoundError is pending */
	}
	return JNI_VERSION_1_8;
}

/* Runs when the class loader that loaded this copy is collected. */
JNIEXPORT void JNICALL JNI_OnUnload(JavaVM *vm, void *reserved)
{
	JNIEnv *env;

	(void)reserved;
	if ((*vm)->GetEnv(vm, (void **)&env, JNI_VERSION_1_8) == JNI_OK)
		release_cache(env);
}

/* ---- helpers (bakeami_jni.h) ------------------------------------------- */

void bkj_throw(JNIEnv *env, int code, const char *msg)
{
	jbyteArray bytes;

	if ((*env)->ExceptionCheck(env))
		return; /* one is already on its way */
	if (!msg || !*msg)
		msg = bakeami_strerror(code);
	if (!(bytes = bkj_bytes(env, msg)))
		return; /* OutOfMemoryError pending */
	(*env)->CallStaticVoidMethod(env, bkj.native_baker, bkj.throwex, (jint)code, bytes);
	(*env)->DeleteLocalRef(env, bytes);
}

char *bkj_cstr(JNIEnv *env, jbyteArray bytes, int *err)
{
	jsize len;
	char *s;

	if (!bytes)
		return NULL;
	len = (*env)->GetArrayLength(env, bytes);
	if (!(s = malloc((size_t)len + 1))) {
		*err = 1;
		bkj_throw(env, BAKEAMI_ENOMEM, "out of memory");
		return NULL;
	}
	(*env)->GetByteArrayRegion(env, bytes, 0, len, (jbyte *)s);
	s[len] = '\0';
	return s;
}

void bkj_free_secret(char *s)
{
	if (!s)
		return;
	/* volatile: the compiler may not drop a store to memory about to be freed */
	for (volatile char *p = s; *p; p++)
		*p = 0;
	free(s);
}

JNIEnv *bkj_env(void)
{
	/* Named, so a thread dump tells it from the JVM's own threads. */
	JavaVMAttachArgs args = {JNI_VERSION_1_8, (char *)"bakeami library thread", NULL};
	JNIEnv *env = NULL;
	jint r = (*bkj.vm)->GetEnv(bkj.vm, (void **)&env, JNI_VERSION_1_8);

	if (r == JNI_OK)
		return env;
	if (r != JNI_EDETACHED ||
	    (*bkj.vm)->AttachCurrentThreadAsDaemon(bkj.vm, (void **)&env, &args) != JNI_OK)
		return NULL;
	if (pthread_setspecific(bkj.attached, bkj.vm) != 0) {
		/* No destructor would detach it: do not leave it attached. This
		 * event is lost. */
		(*bkj.vm)->DetachCurrentThread(bkj.vm);
		return NULL;
	}
	return env;
}

jbyteArray bkj_bytes(JNIEnv *env, const char *s)
{
	jsize len;
	jbyteArray a;

	if (!s)
		return NULL;
	len = (jsize)strlen(s);
	if ((a = (*env)->NewByteArray(env, len)))
		(*env)->SetByteArrayRegion(env, a, 0, len, (const jbyte *)s);
	return a;
}

void bkj_deliver(JNIEnv *env, jobject self, jmethodID method, const bakeami_event *ev)
{
	jbyteArray stage, line;

	if ((*env)->PushLocalFrame(env, 4) < 0) {
		(*env)->ExceptionClear(env); /* no memory for this event: drop it */
		return;
	}
	stage = bkj_bytes(env, ev->stage);
	line = bkj_bytes(env, ev->line ? ev->line : ev->text);
	if (!(*env)->ExceptionCheck(env))
		(*env)->CallVoidMethod(env, self, method, (jint)ev->kind, (jint)ev->stream,
				       (jdouble)ev->elapsed, stage, line);
	/* The Java side catches everything; only an Error (OOM) can get here. */
	if ((*env)->ExceptionCheck(env))
		(*env)->ExceptionClear(env);
	(*env)->PopLocalFrame(env, NULL);
}

/* ---- natives ----------------------------------------------------------- */

JNIEXPORT jbyteArray JNICALL Java_io_bakeami_nativelib_NativeBaker_version0(JNIEnv *env, jclass cls)
{
	(void)cls;
	return bkj_bytes(env, BAKEAMI_VERSION);
}

JNIEXPORT void JNICALL Java_io_bakeami_nativelib_NativeBaker_init0(JNIEnv *env, jclass cls)
{
	int rc;

	(void)cls;
	if ((rc = bakeami_init()) < 0)
		bkj_throw(env, rc, bakeami_error_last());
}

JNIEXPORT jint JNICALL Java_io_bakeami_nativelib_NativeBaker_exitCode0(JNIEnv *env, jclass cls, jint code)
{
	(void)env;
	(void)cls;
	return bakeami_exit_code(code);
}

JNIEXPORT jbyteArray JNICALL Java_io_bakeami_nativelib_NativeBaker_strerror0(JNIEnv *env, jclass cls, jint code)
{
	(void)cls;
	return bkj_bytes(env, bakeami_strerror(code));
}
