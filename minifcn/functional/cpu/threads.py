"""Channel-parallel copies on the CPU: im2col, col2im and max pooling on several cores.

(The same split serves work other than copies: shifted.py's bands of matrix products and the
optimizers' flat update, minifcn/optim.py. Whatever the work, each block writes its own part.)

The GEMMs of a convolution already run on every core (BLAS has its own threads), but the
copies around them — im2col's windows, col2im's sums, the pooling windows — are single NumPy
operations, and a NumPy operation runs on one core. They are memory-bound loops that release
the GIL, so plain Python threads run them in parallel. Channels never mix in these copies
(channel c of cols reads only channel c of x, and dx's channel c only receives from cols'
channel c), so a split along the channel axis gives each thread its own disjoint slice of the
output: no locks, no races, and the result is bitwise the same as with one thread.

On two cores, the im2col of FCN's conv1_2 at 375×500 takes half the time on two threads that it
takes on one (bench/RESULTS.md, "Figures that were in code comments").

That gain needs free cores. After a GEMM, OpenBLAS's threads spin for about 2^28 cycles waiting
for the next one, and a copy thread that lands on a spinning core gains nothing. So
minifcn/__init__.py sets ``OPENBLAS_THREAD_TIMEOUT=10`` (2^10 cycles) before NumPy loads OpenBLAS,
unless the user set it: then the copies split again, and the GEMMs are as fast (their threads
wake in microseconds, their work takes far longer).

``MINIFCN_NUM_THREADS`` sets the number of threads (default: the CPUs this process may use);
1 turns the splitting off. CuPy arrays are never split: a GPU kernel is already parallel.
"""
import os
from concurrent.futures import ThreadPoolExecutor

# Below this many elements per thread, starting the threads costs more than they save: the
# second thread lands on a core that OpenBLAS's threads and the caches were using, and the main
# job's loop was slower with 256k than with 1M (bench/RESULTS.md). The VGG16-width layers
# split either way: their copies are tens of millions of elements.
MIN_ELEMENTS_PER_THREAD = 1024 * 1024

_executor, _executor_pid = None, None


def num_threads():
    """MINIFCN_NUM_THREADS, or the number of CPUs this process may run on."""
    env = os.environ.get("MINIFCN_NUM_THREADS", "").strip()
    if env:
        n = int(env) if env.lstrip("-").isdigit() else 0
        if n < 1:
            raise ValueError(f"MINIFCN_NUM_THREADS must be a positive integer, got {env!r}")
        return n
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:         # not on Linux
        return os.cpu_count() or 1


def _pool(workers):
    """The shared worker threads, at least ``workers`` of them. A forked child process inherits
    the executor but not its threads (it would wait forever on them), so it gets a new one."""
    global _executor, _executor_pid
    if _executor is None or _executor_pid != os.getpid() or _executor._max_workers < workers:
        if _executor is not None and _executor_pid == os.getpid():
            _executor.shutdown(wait=True)
        _executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="minifcn")
        _executor_pid = os.getpid()
    return _executor


def over_channels(fn, n_channels, n_elements, xp):
    """Call ``fn(c0, c1)`` on blocks of the channel range [0, n_channels) that together cover it,
    in parallel threads when the work is large enough; return when all are done.

    ``fn`` must write only to channels [c0, c1) of its outputs. ``n_elements`` is the size of
    the work (e.g. of the output), which decides how many threads are worth it. The calling
    thread does the first block itself; an exception in any block is raised here. The range
    need not be channels: any index whose blocks write disjoint outputs will do (the
    optimizers split their flat parameter arrays this way, minifcn/optim.py).
    """
    n = 1
    if xp.__name__ == "numpy":
        n = min(num_threads(), n_channels, n_elements // MIN_ELEMENTS_PER_THREAD)
    if n <= 1:
        fn(0, n_channels)
        return
    bounds = [n_channels * i // n for i in range(n + 1)]
    blocks = list(zip(bounds[:-1], bounds[1:]))
    futures = [_pool(n - 1).submit(fn, c0, c1) for c0, c1 in blocks[1:]]
    try:
        fn(*blocks[0])
    finally:
        for f in futures:          # wait for every block, even when one failed
            f.exception()
    for f in futures:
        f.result()                 # re-raise the first failure, if any
