"""A process that imports the heavy libraries once, then forks one CLI run per request.

The crash trials start a dozen `assistant ingest` runs; each spends ~6 s importing torch,
sentence-transformers and chromadb before it writes anything. Forked from here, every run is
still the real ``assistant.cli.main`` in its own process (its own model load, its own Chroma
client, killed with SIGKILL), without paying the imports again. Nothing here has created a
thread pool, a model or a client before forking.

Protocol (JSON lines on stdin/stdout):
``{"run": argv, "env": {...}, "cwd": dir, "stderr": file, "done": file}`` -> ``{"pid": n}``;
the child writes its exit code to ``done`` when it ends normally.
``{"wait": pid}`` -> ``{"status": code, or -signal}``.
"""

from __future__ import annotations

import json
import os
import sys


def _child(request: dict[str, object]) -> None:
    code = 70
    try:
        os.chdir(str(request["cwd"]))
        env = request["env"]
        assert isinstance(env, dict)
        os.environ.clear()
        os.environ.update({str(k): str(v) for k, v in env.items()})
        err = os.open(str(request["stderr"]), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        os.dup2(err, 2)
        out = os.open(os.devnull, os.O_WRONLY)
        os.dup2(out, 1)
        from assistant.cli import main

        argv = request["run"]
        assert isinstance(argv, list)
        code = main([str(a) for a in argv])
    except BaseException as exc:  # report, never fall back into the server's loop
        print(f"forkserver child: {exc!r}", file=sys.stderr)
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        with open(str(request["done"]), "w") as done:
            done.write(str(code))
        os._exit(code)


def main() -> None:
    import chromadb  # noqa: F401
    import sentence_transformers  # noqa: F401
    import torch  # noqa: F401

    import assistant.cli  # noqa: F401
    import assistant.service  # noqa: F401

    print(json.dumps({"ready": os.getpid()}), flush=True)
    for line in sys.stdin:
        request = json.loads(line)
        if "run" in request:
            pid = os.fork()
            if pid == 0:
                _child(request)
            print(json.dumps({"pid": pid}), flush=True)
        elif "wait" in request:
            _, status = os.waitpid(int(request["wait"]), 0)
            code = -os.WTERMSIG(status) if os.WIFSIGNALED(status) else os.WEXITSTATUS(status)
            print(json.dumps({"status": code}), flush=True)


if __name__ == "__main__":
    main()
