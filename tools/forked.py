"""Python command lines run in a fork of this interpreter: a new process that skips the imports.

Starting Python and importing Composer costs about 15 s of CPU here (torchmetrics alone pulls in transformers and
scipy.signal); a test that starts five processes pays that five times. ``run`` and ``Popen`` take the command lines
``subprocess`` takes when the program is a Python interpreter of this environment: ``[python, '-c', CODE, ...]``,
``[python, '-m', MODULE, ...]`` or ``[python, SCRIPT, ...]``, and give back what ``subprocess`` gives: the exit
status (negative for a signal), the output, ``TimeoutExpired``. The child gets its own session, working folder,
environment, ``sys.argv``, ``sys.path[0]`` and standard streams, as a new interpreter would; the exit handlers its run
registers (``atexit``) run when it ends, those of this process do not.

What it keeps that a new interpreter would not: the modules already imported and their state (torch's thread count,
caches, loggers' levels, the signal handlers set on import: Composer's turns SIGTERM into ``sys.exit(143)``).
So it is for running scripts end to end, not for checking what importing them does. CPU only: CUDA does not survive
a fork once initialised, so the GPU check forks only in its dry run and starts a new interpreter per step on a GPU.
Nor does GNU OpenMP's thread team: once torch runs more than one CPU thread here, a child that starts a parallel
region hangs, so then ``Popen`` starts a new interpreter instead (``subprocess.Popen``, same arguments); `make
test`'s workers and the dry run run one thread each.
"""

from __future__ import annotations

import atexit
import logging
import os
import runpy
import selectors
import signal
import subprocess
import sys
import time
import traceback
from collections.abc import Sequence
from typing import IO, Any, Optional, Union

PIPE, STDOUT = subprocess.PIPE, subprocess.STDOUT
Target = Union[None, int, IO[Any]]


def _exit_code(code: Any) -> int:
    if code is None:
        return 0
    if isinstance(code, int):
        return code & 0xFF
    print(code, file=sys.stderr)  # sys.exit('message'), as the interpreter does
    return 1


def _main(args: Sequence[str]) -> None:
    """What ``python ARGS`` runs, in this process (``-u`` is dropped: the child's streams are line-buffered)."""
    if args[0] == '-u':
        args = args[1:]
    extra = [p for p in os.environ.get('PYTHONPATH', '').split(os.pathsep) if p and p not in sys.path]
    if args[0] == '-c':
        sys.argv, sys.path[0] = ['-c', *args[2:]], ''
        sys.path[1:1] = extra
        exec(compile(args[1], '<string>', 'exec'), {'__name__': '__main__', '__builtins__': __builtins__})
    elif args[0] == '-m':
        sys.argv, sys.path[0] = [args[1], *args[2:]], os.getcwd()
        sys.path[1:1] = extra
        runpy.run_module(args[1], run_name='__main__', alter_sys=True)
    else:
        script = os.path.abspath(args[0])
        sys.argv, sys.path[0] = [args[0], *args[1:]], os.path.dirname(script)
        sys.path[1:1] = extra
        runpy.run_path(script, run_name='__main__')


def _child(args: Sequence[str], cwd: Optional[str], env: Optional[dict], fds: tuple[int, int]) -> None:
    code = 1
    try:
        os.setsid()
        if cwd is not None:
            os.chdir(cwd)
        if env is not None:
            os.environ.clear()
            os.environ.update(env)
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)
        os.dup2(fds[0], 1)
        os.dup2(fds[1], 2)
        sys.stdin = sys.__stdin__ = open(0, closefd=False)
        sys.stdout = sys.__stdout__ = open(1, 'w', buffering=1, closefd=False)
        sys.stderr = sys.__stderr__ = open(2, 'w', buffering=1, closefd=False, errors='backslashreplace')
        atexit._clear()  # this process's exit handlers are not the child's; those its run registers run at its exit
        logging.root.handlers.clear()  # a test runner's capture handlers; a new interpreter starts with none
        _main(args)
        code = 0
    except SystemExit as e:
        code = _exit_code(e.code)
    except BaseException as e:
        tb = e.__traceback__
        while tb is not None and tb.tb_frame.f_code.co_filename == __file__:  # from the script's frames on
            tb = tb.tb_next
        traceback.print_exception(type(e), e, tb)
    finally:
        try:
            atexit._run_exitfuncs()  # e.g. Composer closes a trainer that SIGTERM stopped (its handler calls sys.exit)
            logging.shutdown()
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(code)


def forkable() -> bool:
    """Whether a fork of this process can run torch: not once it runs more than one CPU thread (see above)."""
    torch = sys.modules.get('torch')
    return torch is None or torch.get_num_threads() == 1


def Popen(cmd: Sequence[Any], *, cwd: Any = None, env: Optional[dict] = None, stdout: Target = None,
          stderr: Target = None, text: bool = True, fork: bool = True) -> Any:
    """``subprocess.Popen`` of a Python command line: in a fork when ``fork`` and :func:`forkable`, else a new
    interpreter (in its own session, as the fork is)."""
    if fork and forkable():
        return Forked(cmd, cwd=cwd, env=env, stdout=stdout, stderr=stderr, text=text)
    return subprocess.Popen([str(c) for c in cmd], cwd=cwd, env=env, stdout=stdout, stderr=stderr, text=text,
                            start_new_session=True, **({'errors': 'replace'} if text else {}))


class Forked:
    """The part of ``subprocess.Popen`` the tools and tests use, for a Python command line run in a fork."""

    def __init__(self, cmd: Sequence[Any], *, cwd: Any = None, env: Optional[dict] = None, stdout: Target = None,
                 stderr: Target = None, text: bool = True) -> None:
        self.args = [str(c) for c in cmd]
        if len(self.args) < 2:
            raise ValueError(f'forked: {self.args} has no script, -c or -m to run')
        self.returncode: Optional[int] = None
        self.stdout: Optional[IO[Any]] = None
        self.stderr: Optional[IO[Any]] = None
        ours: list[int] = []  # the write ends this process closes once the child has them

        def target(spec: Target, default: int) -> tuple[int, Optional[int]]:
            if spec is None:
                return default, None
            if spec == PIPE:
                r, w = os.pipe()
                ours.append(w)
                return w, r
            fd = spec if isinstance(spec, int) else spec.fileno()
            return fd, None

        sys.stdout.flush()
        sys.stderr.flush()
        out_fd, out_r = target(stdout, 1)
        err_fd, err_r = (out_fd, None) if stderr == STDOUT else target(stderr, 2)
        pid = os.fork()
        if pid == 0:
            for r in (out_r, err_r):
                if r is not None:
                    os.close(r)
            _child(self.args[1:], None if cwd is None else str(cwd), env, (out_fd, err_fd))
        self.pid = pid
        for w in ours:
            os.close(w)
        mode = {'mode': 'r', 'errors': 'replace'} if text else {'mode': 'rb'}
        if out_r is not None:
            self.stdout = os.fdopen(out_r, **mode)
        if err_r is not None:
            self.stderr = os.fdopen(err_r, **mode)

    def poll(self) -> Optional[int]:
        if self.returncode is None:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                self.returncode = os.waitstatus_to_exitcode(status)
        return self.returncode

    def wait(self, timeout: Optional[float] = None) -> int:
        deadline = None if timeout is None else time.monotonic() + timeout
        while self.poll() is None:
            if deadline is not None and time.monotonic() > deadline:
                raise subprocess.TimeoutExpired(self.args, timeout)
            time.sleep(0.02)
        return self.returncode

    def send_signal(self, sig: int) -> None:
        if self.poll() is None:
            os.kill(self.pid, sig)

    def terminate(self) -> None:
        self.send_signal(signal.SIGTERM)

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)

    def communicate(self, timeout: Optional[float] = None) -> tuple[Any, Any]:
        """Reads the piped streams to their end and waits, as ``subprocess.Popen.communicate`` does."""
        deadline = None if timeout is None else time.monotonic() + timeout
        chunks: dict[Any, list[bytes]] = {}
        with selectors.DefaultSelector() as sel:
            for stream in (self.stdout, self.stderr):
                if stream is not None:
                    sel.register(stream.fileno(), selectors.EVENT_READ, stream)
                    chunks[stream] = []
            while sel.get_map():
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    raise subprocess.TimeoutExpired(self.args, timeout)
                for key, _ in sel.select(left):
                    data = os.read(key.fd, 1 << 16)
                    if data:
                        chunks[key.data].append(data)
                    else:
                        sel.unregister(key.fd)
        self.wait(None if deadline is None else max(0.0, deadline - time.monotonic()))
        out = []
        for stream in (self.stdout, self.stderr):
            if stream is None:
                out.append(None)
                continue
            data = b''.join(chunks[stream])
            out.append(data.decode(errors='replace') if 'b' not in stream.mode else data)
            stream.close()
        return out[0], out[1]


def run(cmd: Sequence[Any], *, cwd: Any = None, env: Optional[dict] = None, timeout: Optional[float] = None,
        capture_output: bool = False, text: bool = True, check: bool = False) -> subprocess.CompletedProcess:
    """``subprocess.run`` for a Python command line, in a fork; the child is killed when ``timeout`` passes."""
    pipe = PIPE if capture_output else None
    proc = Popen(cmd, cwd=cwd, env=env, stdout=pipe, stderr=pipe, text=text)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        raise
    done = subprocess.CompletedProcess(proc.args, proc.returncode, out, err)
    if check:
        done.check_returncode()
    return done
