/*
 * bakeami_jni.h - what the JNI bridge's C files share: the class and
 * method ids cached by JNI_OnLoad, and the UTF-8 byte[] <-> C string and
 * exception helpers. The bridge uses only the public bakeami.h.
 *
 * Rules (sqlite-jdbc's): one C file per Java class with natives; C never
 * builds an exception object, it calls a static Java helper and returns at
 * once; strings cross as UTF-8 byte[] both ways, never modified UTF-8.
 */
#ifndef BAKEAMI_JNI_H
#define BAKEAMI_JNI_H

#include <jni.h>
#include <pthread.h>

#include "bakeami.h"

/* Filled once by JNI_OnLoad (global refs), released by JNI_OnUnload. Each
 * class loader loads its own copy of the .so, so these never mix loaders. */
struct bkj_cache {
	JavaVM *vm;
	/* Set on library threads this copy attached; its destructor detaches
	 * them when they exit. */
	pthread_key_t attached;
	int attached_ok;      /* the key was created (so it is deleted once) */
	jclass native_baker;  /* io.bakeami.nativelib.NativeBaker */
	jmethodID throwex;    /* static void throwex(int code, byte[] msgUtf8) */
	jclass bake;          /* io.bakeami.nativelib.Bake */
	jmethodID event;      /* void event(int kind, int stream, double elapsed, byte[] stage, byte[] line) */
};
extern struct bkj_cache bkj;

/* Throws io.bakeami.nativelib.BakeException(code, msg) through
 * NativeBaker.throwex. The caller returns right after. */
void bkj_throw(JNIEnv *env, int code, const char *msg);

/* A NUL-terminated malloc'd copy of a UTF-8 byte[]; NULL for a null array
 * (*err stays 0) or on failure (*err set to 1, a Java exception pending). */
char *bkj_cstr(JNIEnv *env, jbyteArray bytes, int *err);

/* Zeroes, then frees (for secrets). */
void bkj_free_secret(char *s);

/* This thread's JNIEnv. A thread the JVM does not know (a library thread
 * delivering an event) is attached once, as a daemon so it never holds the
 * JVM open, and detached when it exits; NULL if the JVM refuses. */
JNIEnv *bkj_env(void);

/* Calls self.method(int kind, int stream, double elapsed, byte[] stage,
 * byte[] line) for one event, in a local frame of its own (a bake that
 * logs for an hour holds no more local references than one that logs
 * once); a Java exception is cleared: a lost line must not stop a bake or
 * its cleanup. */
void bkj_deliver(JNIEnv *env, jobject self, jmethodID method, const bakeami_event *ev);

/* A new byte[] holding the UTF-8 bytes of s; NULL for s == NULL. */
jbyteArray bkj_bytes(JNIEnv *env, const char *s);

/* Handle <-> pointer, through an integer wide enough for either. */
#define BKJ_PTR(type, h) ((type *)(intptr_t)(h))
#define BKJ_HANDLE(p) ((jlong)(intptr_t)(p))

#endif
