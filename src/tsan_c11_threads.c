/* ThreadSanitizer builds only. Debian's librdkafka uses glibc's C11 threads (thrd_create,
 * mtx_lock, cnd_wait, ...). GCC 12's TSan does not intercept them, so threads librdkafka
 * starts crash in TSan's allocator and its locks are invisible to the race detector.
 * Defined in the executable, these win over glibc's and route everything through the
 * pthread functions TSan does intercept. glibc's C11 types wrap the pthread ones. */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <threads.h>

struct pricepipe_thrd_start {
  thrd_start_t func;
  void* arg;
};

static void* pricepipe_thrd_trampoline(void* p) {
  struct pricepipe_thrd_start start = *(struct pricepipe_thrd_start*)p;
  free(p);
  return (void*)(intptr_t)start.func(start.arg);
}

static int to_thrd(int rc) {
  return rc == 0 ? thrd_success : rc == ENOMEM ? thrd_nomem : rc == ETIMEDOUT ? thrd_timedout
                                 : rc == EBUSY ? thrd_busy : thrd_error;
}

int thrd_create(thrd_t* thr, thrd_start_t func, void* arg) {
  struct pricepipe_thrd_start* start = malloc(sizeof *start);
  if (start == NULL) return thrd_nomem;
  start->func = func;
  start->arg = arg;
  const int rc = pthread_create((pthread_t*)thr, NULL, pricepipe_thrd_trampoline, start);
  if (rc != 0) free(start);
  return to_thrd(rc);
}

int thrd_join(thrd_t thr, int* res) {
  void* result = NULL;
  const int rc = pthread_join((pthread_t)thr, &result);
  if (rc == 0 && res != NULL) *res = (int)(intptr_t)result;
  return to_thrd(rc);
}

int thrd_detach(thrd_t thr) { return to_thrd(pthread_detach((pthread_t)thr)); }
thrd_t thrd_current(void) { return (thrd_t)pthread_self(); }

int mtx_init(mtx_t* m, int type) {
  pthread_mutexattr_t attr;
  pthread_mutexattr_init(&attr);
  if (type & mtx_recursive) pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_RECURSIVE);
  const int rc = pthread_mutex_init((pthread_mutex_t*)m, &attr);
  pthread_mutexattr_destroy(&attr);
  return to_thrd(rc);
}
int mtx_lock(mtx_t* m) { return to_thrd(pthread_mutex_lock((pthread_mutex_t*)m)); }
int mtx_trylock(mtx_t* m) { return to_thrd(pthread_mutex_trylock((pthread_mutex_t*)m)); }
int mtx_unlock(mtx_t* m) { return to_thrd(pthread_mutex_unlock((pthread_mutex_t*)m)); }
void mtx_destroy(mtx_t* m) { pthread_mutex_destroy((pthread_mutex_t*)m); }

int cnd_init(cnd_t* c) { return to_thrd(pthread_cond_init((pthread_cond_t*)c, NULL)); }
int cnd_signal(cnd_t* c) { return to_thrd(pthread_cond_signal((pthread_cond_t*)c)); }
int cnd_broadcast(cnd_t* c) { return to_thrd(pthread_cond_broadcast((pthread_cond_t*)c)); }
int cnd_wait(cnd_t* c, mtx_t* m) {
  return to_thrd(pthread_cond_wait((pthread_cond_t*)c, (pthread_mutex_t*)m));
}
int cnd_timedwait(cnd_t* restrict c, mtx_t* restrict m, const struct timespec* restrict ts) {
  return to_thrd(pthread_cond_timedwait((pthread_cond_t*)c, (pthread_mutex_t*)m, ts));
}
void cnd_destroy(cnd_t* c) { pthread_cond_destroy((pthread_cond_t*)c); }

void call_once(once_flag* flag, void (*func)(void)) { pthread_once((pthread_once_t*)flag, func); }
