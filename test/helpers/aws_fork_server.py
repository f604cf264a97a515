"""A fork server for the real aws CLI in Berth's tests.

The aws CLI spends most of a call importing itself (about 0.7 s of CPU here, two thirds of a
short call). This process imports `awscli.clidriver` once and then, for each call, forks a child
that runs the CLI's own `main()` exactly as /usr/bin/aws does: the call's argv, environment and
working directory, and the caller's stdin, stdout and stderr (passed over the socket as file
descriptors). Nothing of the CLI is replaced or stubbed; only the import is shared. What the
interpreter's start-up would do with the call's environment is done again in the child: awscli's
data path (AWS_DATA_PATH) and PYTHONPATH with its sitecustomize (test/helpers/awsWaiters.ts).

    python3 aws_fork_server.py SOCKET_PATH PARENT_PID

A client (the `aws` shim this file also provides, run as `python3 -S aws_fork_server.py --call`)
connects to SOCKET_PATH, sends a 4-byte big-endian length and a JSON object {argv, env, cwd}
with its fds 0, 1 and 2, and reads back the exit status as 4 signed big-endian bytes. When the
client goes away first (killed), the child exits too. The server exits when PARENT_PID does.
"""

import importlib.util
import json
import os
import select
import signal
import socket
import struct
import sys
import threading
import time

MAX_REQUEST = 4 * 1024 * 1024


def recv_request(conn):
    """Reads one request: its JSON object and the three file descriptors sent with it."""
    data, fds, _, _ = socket.recv_fds(conn, 65536, 3)
    if len(data) < 4:
        raise ValueError("short request")
    (length,) = struct.unpack(">I", data[:4])
    if length > MAX_REQUEST:
        raise ValueError("request too large")
    body = data[4:]
    while len(body) < length:
        chunk = conn.recv(min(65536, length - len(body)))
        if not chunk:
            raise ValueError("truncated request")
        body += chunk
    return json.loads(body), fds


SERVER_PYTHONPATH = os.environ.get("PYTHONPATH", "")


def apply_pythonpath(pythonpath):
    """What the interpreter's start-up does with a call's PYTHONPATH: its folders go on sys.path
    (after the script's own), and the first `sitecustomize.py` among them runs."""
    if pythonpath == SERVER_PYTHONPATH:
        return
    extra = [p for p in pythonpath.split(os.pathsep) if p and p not in sys.path]
    sys.path[1:1] = extra
    for folder in extra:
        path = os.path.join(folder, "sitecustomize.py")
        if os.path.isfile(path):
            spec = importlib.util.spec_from_file_location("sitecustomize", path)
            module = importlib.util.module_from_spec(spec)
            sys.modules["sitecustomize"] = module
            spec.loader.exec_module(module)
            return


def run_call(conn, clidriver):
    """In the forked child: becomes the CLI process of one call, and never returns."""
    rc = 255
    try:
        req, fds = recv_request(conn)
        if len(fds) != 3:
            raise ValueError("expected stdin, stdout and stderr")
        for target, fd in enumerate(fds):
            os.dup2(fd, target)
            os.close(fd)
        os.environ.clear()
        os.environ.update(req["env"])
        os.environ.pop("BERTH_AWS_FORK_SOCKET", None)
        # What importing awscli does with the environment, done again for this call's: its data
        # folder joins the caller's AWS_DATA_PATH (awscli/__init__.py).
        paths = []
        if "AWS_DATA_PATH" in os.environ:
            paths = [os.path.expanduser(os.path.expandvars(p)) for p in os.environ["AWS_DATA_PATH"].split(os.pathsep)]
        paths.append(os.path.join(os.path.dirname(os.path.abspath(sys.modules["awscli"].__file__)), "data"))
        os.environ["AWS_DATA_PATH"] = os.pathsep.join(paths)
        if os.environ.get("LC_CTYPE", "") == "UTF-8":  # as /usr/bin/aws does
            os.environ["LC_CTYPE"] = "en_US.UTF-8"
        apply_pythonpath(os.environ.get("PYTHONPATH", ""))
        os.chdir(req["cwd"])
        sys.argv = ["aws"] + list(req["argv"])
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.default_int_handler)

        def watch_caller():
            # The caller holds the connection open until it has our status: EOF means it died.
            try:
                while conn.recv(1):
                    pass
            except OSError:
                pass
            os._exit(130)

        threading.Thread(target=watch_caller, daemon=True).start()
        try:
            rc = clidriver.main()
        except SystemExit as e:
            rc = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
        rc = 0 if rc is None else rc
    except BaseException as e:  # the call's own failure, reported as the CLI would: on stderr
        try:
            os.write(2, ("aws fork server: %s\n" % e).encode())
        except OSError:
            pass
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except BaseException:
        pass
    try:
        conn.sendall(struct.pack(">i", int(rc)))
    except OSError:
        pass
    os._exit(int(rc) & 0xFF)


def serve(path, parent):
    # The import every call shares. It reads one thing from the environment, AWS_DATA_PATH, which
    # each call redoes with its own (run_call).
    import awscli.clidriver as clidriver

    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # children are reaped by the kernel
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    tmp = "%s.%d.tmp" % (path, os.getpid())
    server.bind(tmp)
    os.chmod(tmp, 0o600)
    server.listen(128)
    os.rename(tmp, path)  # the path appears only once it accepts
    try:
        while True:
            ready, _, _ = select.select([server], [], [], 1.0)
            if os.getppid() != parent:
                return
            if not ready:
                continue
            conn, _ = server.accept()
            if os.fork() == 0:
                server.close()
                run_call(conn, clidriver)
            conn.close()
    finally:
        try:
            os.unlink(path)
        except OSError:
            pass


def call():
    """The `aws` shim: hands this process's argv, environment, cwd and stdio to the server."""
    path = os.environ.get("BERTH_AWS_FORK_SOCKET", "")
    deadline = time.monotonic() + 30
    while True:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            s.connect(path)
            break
        except OSError as e:
            s.close()
            if time.monotonic() > deadline:
                sys.stderr.write("aws (fork shim): no fork server at %r: %s\n" % (path, e))
                return 255
            time.sleep(0.02)
    body = json.dumps({"argv": sys.argv[1:], "env": dict(os.environ), "cwd": os.getcwd()}).encode()
    socket.send_fds(s, [struct.pack(">I", len(body)) + body], [0, 1, 2])
    status = b""
    while len(status) < 4:
        chunk = s.recv(4 - len(status))
        if not chunk:
            sys.stderr.write("aws (fork shim): the call ended without an exit status\n")
            return 255
        status += chunk
    return struct.unpack(">i", status)[0]


if __name__ == "__main__":
    if sys.argv[1:2] == ["--call"]:
        del sys.argv[1]
        sys.exit(call())
    serve(sys.argv[1], int(sys.argv[2]))
