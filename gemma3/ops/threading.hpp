// gemma3/ops/threading.hpp — how the kernels use threads (OpenMP).
//
// Every threaded kernel splits its OUTPUT into fixed tasks (blocks of output
// rows whose size does not depend on the thread count) and hands whole tasks
// to threads. Each output value is computed by one thread with one fixed
// summation order, so results are bit-identical for any thread count.
//
// No oversubscription: when a kernel is called from inside a parallel region
// the caller already runs (omp_in_parallel()), it runs on the calling thread.
// Without OpenMP (_OPENMP undefined) everything runs single-threaded.
#pragma once

#include <cstddef>
#include <cstdint>

#ifdef _OPENMP
#include <omp.h>
#endif

namespace gemma3::ops {

// Work (multiply-adds, roughly) below which another thread costs more than
// it saves: waking a thread and the barrier at the end take microseconds on
// an idle machine and a scheduler time slice on a busy one. Small models and
// small kernels (the tiny test model, per-head norms) run on one thread.
constexpr size_t kMinWorkPerThread = size_t(1) << 17;

// How many threads a kernel may use. Default: all cores OpenMP reports
// (omp_get_max_threads(), i.e. OMP_NUM_THREADS when set).
struct ThreadContext {
  int num_threads;
  size_t min_work_per_thread = kMinWorkPerThread;  // 0: always use num_threads (tests)

  ThreadContext() : num_threads(max_threads()) {}
  explicit ThreadContext(int n, size_t min_work = kMinWorkPerThread)
      : num_threads(n < 1 ? 1 : n), min_work_per_thread(min_work) {}

  static int max_threads() {
#ifdef _OPENMP
    return omp_get_max_threads();
#else
    return 1;
#endif
  }
};

// Threads a kernel will actually use for `tasks` tasks of `work` total
// multiply-adds (unknown: SIZE_MAX) under `ctx`.
inline int effective_threads(const ThreadContext& ctx, size_t tasks, size_t work = SIZE_MAX) {
#ifdef _OPENMP
  if (omp_in_parallel()) return 1;  // the caller already runs threads
#endif
  int n = ctx.num_threads < 1 ? 1 : ctx.num_threads;
  if (size_t(n) > tasks) n = int(tasks == 0 ? 1 : tasks);
  if (ctx.min_work_per_thread > 0) {
    const size_t by_work = work / ctx.min_work_per_thread;
    if (size_t(n) > by_work) n = by_work < 1 ? 1 : int(by_work);
  }
  return n;
}

// Calls f(task, thread) for task in [0, tasks), spread over the threads of
// ctx; thread is in [0, effective_threads(ctx, tasks, work)) (for per-thread
// scratch). work: total multiply-adds of all tasks, when known.
// f must not throw (an exception cannot leave an OpenMP region). Tasks are
// handed out dynamically: which thread runs a task may vary from run to run,
// which is harmless because a task's result does not depend on its thread.
template <class F>
void parallel_for(size_t tasks, const ThreadContext& ctx, const F& f, size_t work = SIZE_MAX) {
  const int nt = effective_threads(ctx, tasks, work);
  if (nt <= 1) {
    for (size_t t = 0; t < tasks; ++t) f(t, 0);
    return;
  }
#ifdef _OPENMP
  const long long n = static_cast<long long>(tasks);
#pragma omp parallel for num_threads(nt) schedule(dynamic, 1)
  for (long long t = 0; t < n; ++t) f(static_cast<size_t>(t), omp_get_thread_num());
#endif
}

}  // namespace gemma3::ops
