#!/usr/bin/env python3
"""The Tornado subject of the subject protocol (SPEC.md, Appendix C).

Runs one scenario file with Tornado (Debian's python3-tornado) on its
default asyncio loop, or with --uvloop on uvloop, and prints the event
trace. Every callback of the scenario is one function that records its
name and runs the operations of its `in NAME:` blocks.

    subject_tornado.py [--uvloop] --protocol
    subject_tornado.py [--uvloop] SCENARIO
"""

import asyncio
import atexit
import errno
import fcntl
import logging
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import warnings

PROTOCOL = 1
CAPABILITIES = "threads signals fork subprocess sockets"
SAFE = set(b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
           b"0123456789_.,:/+-")
SIGNALS = {n: getattr(signal, n) for n in
           ("SIGHUP", "SIGINT", "SIGKILL", "SIGUSR1", "SIGUSR2", "SIGTERM")}
OPS = set("""add_callback spawn_callback add_callbacks call_later call_at
add_timeout add_timeout_delta remove_timeout stop start run_sync close mark
sleep fail pipe socketpair write drain close_fd fd_state add_handler
add_handler_object update_handler remove_handler thread join signal_callback
raise future set_result cancel add_future return run_in_executor periodic
periodic_start periodic_stop periodic_is_running subprocess set_exit_callback
wait_for_exit returncode kill reap read_until_close stream_write stream_close
stream_closed fork_other waitpid_other fork_processes exit kill_self
kill_parent task_id cpu_count atexit on_signal bind_sockets inspect_sockets
connect add_accept_handler remove_accept_handler close_sockets""".split())

T0 = time.monotonic()


def record(text, timed=True):
    # One write per line: lines of threads and processes never mix.
    line = "%s @%.6f\n" % (text, time.monotonic() - T0) if timed else text + "\n"
    os.write(1, line.encode())


def show_bytes(data):
    if len(data) > 64:
        return "%dbytes" % len(data)
    return "".join(chr(b) if b in SAFE else "%%%02X" % b for b in data)


def status_code(status):
    if os.WIFSIGNALED(status):
        return -os.WTERMSIG(status)
    return os.WEXITSTATUS(status)


# ---- the scenario file (only what running it needs; the driver checks
# ---- the rest) ----

class Op:
    def __init__(self, block, occ, quiet, argv):
        self.block, self.occ, self.quiet, self.argv = block, occ, quiet, argv


def tokenize(text):
    toks, i, n = [], 0, len(text)
    while i < n:
        if text[i] in " \t":
            i += 1
            continue
        if text[i] == '"':
            out, i = [], i + 1
            while i < n and text[i] != '"':
                if text[i] == "\\":
                    i += 1
                    out.append({"n": "\n", "t": "\t"}.get(text[i], text[i]))
                else:
                    out.append(text[i])
                i += 1
            toks.append("".join(out))
            i += 1
        else:
            j = i
            while j < n and text[j] not in " \t":
                j += 1
            toks.append(text[i:j])
            i = j
    return toks


def read_scenario(path):
    ops = []
    with open(path, encoding="ascii") as f:
        for line in f:
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            if line.startswith("in ") or line.startswith("in\t"):
                head, _, rest = line[3:].strip().partition(":")
                name, _, occ = head.partition("#")
                block, occ = name, int(occ or 0)
            else:
                key, _, rest = line.partition(":")
                if key != "do":
                    continue
                block, occ = None, 0
            toks = tokenize(rest)
            quiet = toks[0] == "try"
            if quiet:
                toks = toks[1:]
            if toks[0] not in OPS:
                print("unsupported: %s" % toks[0])
                sys.exit(0)
            ops.append(Op(block, occ, quiet, toks))
    return ops


# ---- error names: Python's failures as the binding's errno names ----

RUNTIME_ERRORS = (
    ("already running", "EBUSY"),
    ("while another loop is running", "EPERM"),
    ("Too many child restarts", "ECHILD"),
    ("current IOLoop already exists", "EEXIST"),
    ("Event loop is closed", "ESHUTDOWN"),
    ("Cannot close a running event loop", "EBUSY"),
)


def errname(exc):
    from tornado.iostream import StreamClosedError
    if isinstance(exc, subprocess.CalledProcessError):
        return "CalledProcessError:%d" % exc.returncode
    if isinstance(exc, StreamClosedError):
        return "EPIPE"
    if isinstance(exc, asyncio.CancelledError):
        return "ECANCELED"
    if isinstance(exc, asyncio.InvalidStateError):
        return "EALREADY"
    if isinstance(exc, (TimeoutError, asyncio.TimeoutError)):
        return "ETIMEDOUT"
    if isinstance(exc, socket.gaierror):
        return {socket.EAI_NONAME: "ENOENT", socket.EAI_AGAIN: "EAGAIN",
                socket.EAI_ADDRFAMILY: "ENOENT",
                socket.EAI_SERVICE: "EINVAL"}.get(exc.errno, "EAI%d" % exc.errno)
    if isinstance(exc, OSError) and exc.errno:
        return errno.errorcode.get(exc.errno, "E%d" % exc.errno)
    if isinstance(exc, RuntimeError):
        for text, name in RUNTIME_ERRORS:
            if text in str(exc):
                return name
    if isinstance(exc, ValueError):
        return "EEXIST" if "added twice" in str(exc) else "EINVAL"
    return type(exc).__name__


class LogToTrace(logging.Handler):
    """A failure logged by Tornado or asyncio is the error handler's call."""

    def emit(self, rec):
        if rec.exc_info and rec.exc_info[1] is not None:
            record("error=%s" % errname(rec.exc_info[1]))


class Fail(OSError):
    pass


class Ctx:
    def __init__(self):
        self.fail = False
        self.ret = None


class Subject:
    def __init__(self, ops, uvloop):
        self.ops = ops
        self.uvloop = uvloop
        self._loop = None
        self.lock = threading.Lock()
        self.counts = {}
        self.timeouts = {}
        self.fds = {}
        self.socks = {}
        self.threads = {}
        self.futures = {}
        self.periodics = {}
        self.procs = {}
        self.pids = {}
        self.removers = {}
        self.keep = []
        self.scratch = None
        self.loop_thread = threading.get_ident()

    # -- the loop, made on first use (never before fork_processes) --
    @property
    def loop(self):
        if self._loop is None:
            from tornado.ioloop import IOLoop
            self._loop = IOLoop(make_current=True)
        return self._loop

    # -- callbacks --
    def bump(self, name):
        with self.lock:
            self.counts[name] = self.counts.get(name, 0) + 1
            return self.counts[name]

    def run_block(self, name, k, ctx):
        for op in self.ops:
            if op.block == name and op.occ in (0, k):
                self.execute(op, ctx)

    def run_occurrence(self, name, suffix, k, ctx):
        record(name + suffix)
        self.run_block(name, k, ctx)
        if ctx.fail:
            raise Fail(errno.EIO, "the scenario's fail")
        return ctx.ret

    def run_named(self, name, suffix=""):
        return self.run_occurrence(name, suffix, self.bump(name), Ctx())

    def cb(self, name):
        return lambda *args: self.run_named(name)

    def future_done(self, name, fut):
        if fut.cancelled():
            self.run_named(name, "!ECANCELED")
        elif fut.exception() is not None:
            self.run_named(name, "!" + errname(fut.exception()))
        else:
            self.run_named(name, "=%s" % fut.result())

    def execute(self, op, ctx):
        fn = getattr(self, "op_" + op.argv[0])
        try:
            fn(ctx, *op.argv[1:])
        except Exception as exc:
            if not op.quiet:
                record("%s!%s" % (op.argv[0], errname(exc)))

    # -- loop, callbacks, timeouts --
    def op_add_callback(self, ctx, name):
        self.loop.add_callback(self.cb(name))

    def op_spawn_callback(self, ctx, name):
        self.loop.spawn_callback(self.cb(name))

    def op_add_callbacks(self, ctx, prefix, n):
        for i in range(1, int(n) + 1):
            self.loop.add_callback(self.cb("%s%d" % (prefix, i)))

    def op_call_later(self, ctx, delay, name):
        self.timeouts[name] = self.loop.call_later(float(delay), self.cb(name))

    def op_call_at(self, ctx, delta, name):
        when = self.loop.time() + float(delta)
        self.timeouts[name] = self.loop.call_at(when, self.cb(name))

    def op_add_timeout(self, ctx, delta, name):
        when = self.loop.time() + float(delta)
        self.timeouts[name] = self.loop.add_timeout(when, self.cb(name))

    def op_add_timeout_delta(self, ctx, delta, name):
        import datetime
        d = datetime.timedelta(seconds=float(delta))
        self.timeouts[name] = self.loop.add_timeout(d, self.cb(name))

    def op_remove_timeout(self, ctx, name):
        self.loop.remove_timeout(self.timeouts.get(name))

    def op_stop(self, ctx):
        self.loop.stop()

    def op_start(self, ctx):
        self.loop.start()

    def op_run_sync(self, ctx, timeout, name):
        def func():
            return self.run_named(name)
        t = None if timeout == "none" else float(timeout)
        res = self.loop.run_sync(func, timeout=t)
        record("run_sync=%s" % ("none" if res is None else res))

    def op_close(self, ctx, all_fds=None):
        self.loop.close(all_fds=all_fds is not None)

    def op_mark(self, ctx, name):
        record(name)

    def op_sleep(self, ctx, seconds):
        time.sleep(float(seconds))

    def op_fail(self, ctx):
        ctx.fail = True

    # -- descriptors and handlers --
    def op_pipe(self, ctx, name, inheritable=None):
        r, w = os.pipe()
        for fd in (r, w):
            os.set_blocking(fd, False)
            os.set_inheritable(fd, inheritable is not None)
        self.fds[name + ".r"], self.fds[name + ".w"] = r, w

    def op_socketpair(self, ctx, name):
        a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        for end, s in (("r", a), ("w", b)):
            fd = s.detach()
            os.set_blocking(fd, False)
            self.fds["%s.%s" % (name, end)] = fd

    def op_write(self, ctx, ref, data="x"):
        os.write(self.fds[ref], data.encode())

    def op_drain(self, ctx, ref):
        try:
            while os.read(self.fds[ref], 4096):
                pass
        except BlockingIOError:
            pass

    def op_close_fd(self, ctx, ref):
        os.close(self.fds[ref])

    def op_fd_state(self, ctx, ref):
        try:
            fcntl.fcntl(self.fds[ref], fcntl.F_GETFD)
            record("%s=open" % ref)
        except OSError:
            record("%s=closed" % ref)

    @staticmethod
    def events(text):
        from tornado.ioloop import IOLoop
        ev = 0
        ev |= IOLoop.READ if "r" in text else 0
        ev |= IOLoop.WRITE if "w" in text else 0
        ev |= IOLoop.ERROR if "e" in text and text != "none" else 0
        return ev

    def handler(self, name):
        from tornado.ioloop import IOLoop

        def run(fd, events):
            s = "=" + ("r" if events & IOLoop.READ else "") + \
                ("w" if events & IOLoop.WRITE else "") + \
                ("e" if events & IOLoop.ERROR else "")
            self.run_named(name, s)
        return run

    def op_add_handler(self, ctx, ref, name, events):
        self.loop.add_handler(self.fds[ref], self.handler(name),
                              self.events(events))

    def op_add_handler_object(self, ctx, ref, name, events, closed):
        fd = self.fds[ref]

        class FileLike:
            def fileno(self):
                return fd

            def close(self):
                record(closed)
                os.close(fd)
        obj = FileLike()
        self.keep.append(obj)
        self.loop.add_handler(obj, self.handler(name), self.events(events))

    def op_update_handler(self, ctx, ref, events):
        self.loop.update_handler(self.fds[ref], self.events(events))

    def op_remove_handler(self, ctx, ref):
        self.loop.remove_handler(self.fds[ref])

    # -- threads and signals --
    def op_thread(self, ctx, name):
        self.loop
        t = threading.Thread(target=self.run_named, args=(name,), daemon=True)
        self.threads[name] = t
        t.start()

    def op_join(self, ctx, name):
        self.threads[name].join()

    def op_signal_callback(self, ctx, sig, name):
        loop = self.loop
        signal.signal(SIGNALS[sig],
                      lambda s, f: loop.add_callback_from_signal(self.cb(name)))

    def op_raise(self, ctx, sig):
        os.kill(os.getpid(), SIGNALS[sig])

    def op_on_signal(self, ctx, sig, name):
        signal.signal(SIGNALS[sig], lambda s, f: record(name, timed=False))

    # -- futures and executors --
    def op_future(self, ctx, name):
        self.futures[name] = asyncio.Future(loop=self.loop.asyncio_loop)

    def op_set_result(self, ctx, name, value):
        self.futures[name].set_result(int(value))

    def op_cancel(self, ctx, name):
        if not self.futures[name].cancel():
            raise asyncio.InvalidStateError("done")

    def op_add_future(self, ctx, name, cb):
        self.loop.add_future(self.futures[name],
                             lambda f: self.future_done(cb, f))

    def op_return(self, ctx, name):
        ctx.ret = self.futures[name]

    def op_run_in_executor(self, ctx, name, work, value):
        loop_thread = threading.get_ident()

        def job():
            other = threading.get_ident() != loop_thread
            record("%s=%s" % (work, "thread" if other else "loop"))
            return int(value)
        self.futures[name] = self.loop.run_in_executor(None, job)

    # -- PeriodicCallback --
    def op_periodic(self, ctx, name, ms, jitter="0"):
        from tornado.ioloop import PeriodicCallback
        self.loop
        self.periodics[name] = PeriodicCallback(self.cb(name), float(ms),
                                                float(jitter))

    def op_periodic_start(self, ctx, name):
        self.periodics[name].start()

    def op_periodic_stop(self, ctx, name):
        self.periodics[name].stop()

    def op_periodic_is_running(self, ctx, name):
        running = self.periodics[name].is_running()
        record("%s.running=%s" % (name, "yes" if running else "no"))

    # -- Subprocess --
    def op_subprocess(self, ctx, name, *args):
        from tornado.process import Subprocess
        i = args.index("--")
        kw = {}
        for opt in args[:i]:
            key, _, val = opt.partition("=")
            kw[key] = {"stream": Subprocess.STREAM,
                       "devnull": subprocess.DEVNULL}.get(val)
        self.loop
        self.procs[name] = Subprocess(list(args[i + 1:]), **kw)

    def op_set_exit_callback(self, ctx, name, cb):
        self.procs[name].set_exit_callback(
            lambda rc: self.run_named(cb, "=%d" % rc))

    def op_wait_for_exit(self, ctx, name, cb, noraise=None):
        fut = self.procs[name].wait_for_exit(raise_error=noraise is None)
        self.loop.add_future(fut, lambda f: self.future_done(cb, f))

    def op_returncode(self, ctx, name):
        rc = self.procs[name].returncode
        record("%s.returncode=%s" % (name, "none" if rc is None else rc))

    def op_kill(self, ctx, name, sig):
        os.kill(self.procs[name].pid, SIGNALS[sig])

    def op_reap(self, ctx, name):
        try:
            _, st = os.waitpid(self.procs[name].pid, 0)
            record("%s.reap=%d" % (name, status_code(st)))
        except OSError as exc:
            record("%s.reap!%s" % (name, errname(exc)))

    def stream(self, ref):
        name, _, part = ref.partition(".")
        s = getattr(self.procs[name], part, None)
        if s is None:
            raise FileNotFoundError(errno.ENOENT, "no stream")
        return s

    def op_read_until_close(self, ctx, ref, cb):
        fut = self.stream(ref).read_until_close()

        def done(f):
            if f.exception() is not None:
                self.run_named(cb, "!" + errname(f.exception()))
            else:
                self.run_named(cb, "=" + show_bytes(f.result()))
        self.loop.add_future(fut, done)

    def op_stream_write(self, ctx, ref, data, cb):
        fut = self.stream(ref).write(data.encode())

        def done(f):
            exc = f.exception()
            self.run_named(cb, "" if exc is None else "!" + errname(exc))
        self.loop.add_future(fut, done)

    def op_stream_close(self, ctx, ref):
        self.stream(ref).close()

    def op_stream_closed(self, ctx, ref):
        record("%s=%s" % (ref, "closed" if self.stream(ref).closed() else "open"))

    # -- processes --
    def op_fork_other(self, ctx, name, seconds, code):
        pid = os.fork()
        if pid == 0:
            time.sleep(float(seconds))
            os._exit(int(code))
        self.pids[name] = pid

    def op_waitpid_other(self, ctx, name):
        try:
            _, st = os.waitpid(self.pids[name], 0)
            record("%s=%d" % (name, status_code(st)))
        except OSError as exc:
            record("%s!%s" % (name, errname(exc)))

    def run_number(self, task):
        for k in range(1, 100000):
            path = os.path.join(self.scratch, "task%d.%d" % (task, k))
            try:
                os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL))
                return k
            except FileExistsError:
                continue
        return 0

    def be_supervisor(self, n, max_restarts):
        from tornado.process import fork_processes
        self.run_named("supervisor")
        try:
            # The binding's negative max_restarts is Python's None.
            task = fork_processes(n, None if max_restarts < 0 else max_restarts)
        except Exception as exc:
            record("fork_processes!%s" % errname(exc))
            self.run_block("fork_processes_failed", 1, Ctx())
            os._exit(0)
        self.run_occurrence("task%d" % task, "", self.run_number(task), Ctx())
        os._exit(0)

    def op_fork_processes(self, ctx, n, max_restarts):
        if self.scratch is None:
            self.scratch = tempfile.mkdtemp(prefix="eddy-subject-")
        pid = os.fork()
        if pid == 0:
            # SystemExit from the supervisor's sys.exit(0) passes through:
            # the interpreter then exits as any program does.
            self.be_supervisor(int(n), int(max_restarts))
        while True:
            try:
                _, st = os.waitpid(pid, 0)
                break
            except InterruptedError:
                continue
        record("supervisor=%d" % status_code(st))

    def op_exit(self, ctx, code):
        os._exit(int(code))

    def op_kill_self(self, ctx, sig):
        os.kill(os.getpid(), SIGNALS[sig])

    def op_kill_parent(self, ctx, sig):
        os.kill(os.getppid(), SIGNALS[sig])

    def op_task_id(self, ctx):
        from tornado.process import task_id
        t = task_id()
        record("task_id=%s" % ("none" if t is None else t))

    def op_cpu_count(self, ctx):
        from tornado.process import cpu_count
        record("cpu_count=%d" % cpu_count())

    def op_atexit(self, ctx, name):
        atexit.register(record, name)

    # -- sockets --
    def op_bind_sockets(self, ctx, name, port, address, family, *opts):
        from tornado.netutil import bind_sockets
        fam = {"inet": socket.AF_INET, "inet6": socket.AF_INET6,
               "unspec": socket.AF_UNSPEC}[family]
        backlog, reuse = 128, False
        for o in opts:
            if o.startswith("backlog="):
                backlog = int(o[8:]) if int(o[8:]) > 0 else 128
            else:
                reuse = True
        if "." in port:
            port = self.socks[port].getsockname()[1]
        socks = bind_sockets(int(port), None if address == "-" else address,
                             fam, backlog, reuse_port=reuse)
        for i, s in enumerate(socks):
            self.socks["%s.%d" % (name, i)] = s
            self.fds["%s.%d" % (name, i)] = s.fileno()
        record("%s=%d" % (name, len(socks)))

    @staticmethod
    def describe(s):
        fd = s.fileno()
        v6 = s.family == socket.AF_INET6
        opt = lambda lvl, o: s.getsockopt(lvl, o) != 0
        parts = ["inet6" if v6 else "inet", s.getsockname()[0],
                 "nonblock" if fcntl.fcntl(fd, fcntl.F_GETFL) & os.O_NONBLOCK
                 else "block",
                 "cloexec" if fcntl.fcntl(fd, fcntl.F_GETFD) & fcntl.FD_CLOEXEC
                 else "inherit"]
        if opt(socket.SOL_SOCKET, socket.SO_REUSEADDR):
            parts.append("reuseaddr")
        if opt(socket.SOL_SOCKET, socket.SO_REUSEPORT):
            parts.append("reuseport")
        if v6 and opt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY):
            parts.append("v6only")
        if opt(socket.SOL_SOCKET, socket.SO_ACCEPTCONN):
            parts.append("listening")
        return "+".join(parts), s.getsockname()[1]

    def op_inspect_sockets(self, ctx, name):
        ports = []
        i = 0
        while "%s.%d" % (name, i) in self.socks:
            desc, port = self.describe(self.socks["%s.%d" % (name, i)])
            record("%s.%d=%s" % (name, i, desc))
            ports.append(port)
            i += 1
        record("%s.port=%s" % (name, "same" if len(set(ports)) <= 1 else "differ"))

    def op_connect(self, ctx, name, ref):
        s = self.socks[ref]
        addr = list(s.getsockname())
        if addr[0] in ("0.0.0.0", "::"):
            addr[0] = "127.0.0.1" if s.family == socket.AF_INET else "::1"
        c = socket.socket(s.family, socket.SOCK_STREAM)
        try:
            c.connect(tuple(addr))
        except OSError as exc:
            c.close()
            record("%s!%s" % (name, errname(exc)))
            return
        self.socks[name] = c
        self.fds[name] = c.fileno()
        record("%s=ok" % name)

    def op_add_accept_handler(self, ctx, ref, cb):
        from tornado.netutil import add_accept_handler

        def accepted(conn, addr):
            fd = conn.fileno()
            s = "=%s+%s" % (
                "nonblock" if fcntl.fcntl(fd, fcntl.F_GETFL) & os.O_NONBLOCK
                else "block",
                "cloexec" if fcntl.fcntl(fd, fcntl.F_GETFD) & fcntl.FD_CLOEXEC
                else "inherit")
            conn.close()
            self.run_named(cb, s)
        self.loop
        self.removers[ref] = add_accept_handler(self.socks[ref], accepted)

    def op_remove_accept_handler(self, ctx, ref):
        self.removers[ref]()

    def op_close_sockets(self, ctx, name):
        i = 0
        while "%s.%d" % (name, i) in self.socks:
            self.socks["%s.%d" % (name, i)].close()
            i += 1

    def main(self):
        ctx = Ctx()
        for op in self.ops:
            if op.block is None:
                self.execute(op, ctx)

    def cleanup(self):
        if self.scratch is not None:
            for f in os.listdir(self.scratch):
                os.unlink(os.path.join(self.scratch, f))
            os.rmdir(self.scratch)


def protocol(use_uvloop):
    import tornado
    print("protocol: %d" % PROTOCOL)
    if use_uvloop:
        import uvloop
        print("subject: tornado %s on uvloop %s" % (tornado.version,
                                                   uvloop.__version__))
    else:
        print("subject: tornado %s on asyncio" % tornado.version)
    print("capabilities: %s" % CAPABILITIES)


def main(argv):
    use_uvloop = "--uvloop" in argv
    args = [a for a in argv if a != "--uvloop"]
    warnings.simplefilter("ignore")
    if args == ["--protocol"]:
        protocol(use_uvloop)
        return 0
    if len(args) != 1:
        print(__doc__, file=sys.stderr)
        return 2
    if use_uvloop:
        import uvloop
        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    for name in ("tornado.application", "asyncio"):
        log = logging.getLogger(name)
        log.addHandler(LogToTrace())
        log.propagate = False
    subject = Subject(read_scenario(args[0]), use_uvloop)
    pid = os.getpid()
    try:
        subject.main()
    finally:
        if os.getpid() == pid:
            subject.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
