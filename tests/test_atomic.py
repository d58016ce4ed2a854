"""Atomic writes, tested by breaking them: a write that fails part-way (the OS refuses to grow the file) and a
process that dies between writing and renaming must both leave the previous file or checkpoint intact and
complete. And, watched through Python's audit hooks during a real run, no result or checkpoint file is ever
opened for writing under its final name."""
import json
import os
import subprocess
import sys
import textwrap

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _python(*parts: str, timeout=120) -> subprocess.CompletedProcess:
    """Run the parts (each dedented) as one script in a fresh interpreter."""
    env = dict(os.environ, PYTHONPATH=ROOT)
    code = "\n".join(textwrap.dedent(p) for p in parts)
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=timeout)


FSIZE = """
    import resource, signal
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a refused write raises OSError instead of killing
    resource.setrlimit(resource.RLIMIT_FSIZE, ({limit}, resource.getrlimit(resource.RLIMIT_FSIZE)[1]))
"""
DIE_AT_RENAME = """
    import os
    os.replace = os.rename = lambda *a, **k: os._exit(9)  # the process dies just before the rename
"""


def test_a_failing_write_leaves_the_previous_file(tmp_path):
    path = tmp_path / "results.json"
    path.write_text('{"runs": ["before"]}')
    p = _python("from paddle_cnn.files import atomic_write_text", FSIZE.format(limit=1000), f"""
        try:
            atomic_write_text({str(path)!r}, '{{"runs": ["' + 'x' * 5000 + '"]}}')
        except OSError:
            raise SystemExit(3)
    """)
    assert p.returncode == 3, p.stderr
    assert json.loads(path.read_text()) == {"runs": ["before"]}
    assert os.listdir(tmp_path) == ["results.json"]  # no temporary file left


def test_death_between_write_and_rename_leaves_the_previous_file(tmp_path):
    path = tmp_path / "latest.json"
    path.write_text('{"epoch": 1}')
    p = _python("from paddle_cnn.files import atomic_write_text", DIE_AT_RENAME,
                f"atomic_write_text({str(path)!r}, '{{\"epoch\": 2}}')")
    assert p.returncode == 9, p.stderr
    assert json.loads(path.read_text()) == {"epoch": 1}


SAVE_EPOCH = """
    import json, os, paddle
    from paddle_cnn.training import checkpoint as ckpt
    from paddle_cnn.models import create_model
    model = create_model("lenet")
    opt = paddle.optimizer.Adam(parameters=model.parameters())
    ckpt.save({d!r}, model, opt, {{"epoch": {epoch}, "model": "lenet", "history": {{}}}})
"""
DIE_IN_STATE = """
    class _Dying:  # the process dies after the weights are written, while the state file is
        def __getattr__(self, name):
            return getattr(json, name)
        def dump(self, *a, **k):
            os._exit(9)
    ckpt.json = _Dying()
"""


def _every_epoch_folder_is_complete(d):
    from paddle_cnn.training import checkpoint as ckpt
    from paddle_cnn.models import create_model
    folders = sorted(f for f in os.listdir(d) if f.startswith("epoch-"))
    for f in folders:
        assert {"model.safetensors", "optimizer.safetensors", "state.json"} <= set(os.listdir(os.path.join(d, f))), f
        ckpt.load(os.path.join(d, f), create_model("lenet"))
    return folders


@pytest.mark.parametrize("fault,why,rc", [(DIE_IN_STATE, "dies mid-write", 9), (DIE_AT_RENAME, "dies at the rename", 9),
                                          (FSIZE.format(limit=100_000), "could not write the checkpoint", 1)])
def test_a_checkpoint_interrupted_while_written_leaves_the_previous_one(tmp_path, fault, why, rc):
    """Epoch 2's checkpoint is cut off (the process dies in the middle, or at the rename, or the write fails):
    epoch 1 stays the latest and loads; no incomplete epoch folder is visible."""
    from paddle_cnn.training import checkpoint as ckpt
    from paddle_cnn.models import create_model
    d = str(tmp_path / "ck")
    p = _python(SAVE_EPOCH.format(d=d, epoch=1), fault,
                f"ckpt.save({d!r}, model, opt, {{'epoch': 2, 'model': 'lenet', 'history': {{}}}})")
    assert p.returncode == rc and (rc == 9 or why in p.stderr), (why, p.stderr)
    assert _every_epoch_folder_is_complete(d) == ["epoch-0001"], why
    assert ckpt.load(d, create_model("lenet"))["epoch"] == 1


def test_the_checkpoint_check_can_fail(tmp_path):
    """A folder missing its state file is seen as incomplete (so the test above can tell)."""
    (tmp_path / "epoch-0002").mkdir()
    (tmp_path / "epoch-0002" / "model.safetensors").write_bytes(b"")
    with pytest.raises(AssertionError):
        _every_epoch_folder_is_complete(str(tmp_path))


# --------------------------------------------------------- every write of a real run, watched by audit hooks

_WATCH: dict = {"on": False, "writes": [], "renames": []}


def _audit(event, args):
    if not _WATCH["on"]:
        return
    if event == "open":
        path, mode, flags = args
        if not isinstance(path, (str, bytes, os.PathLike)):
            return
        writes = any(c in mode for c in "wax+") if isinstance(mode, str) else bool(
            (flags or 0) & (os.O_WRONLY | os.O_RDWR | os.O_CREAT))
        if writes:
            _WATCH["writes"].append(os.fsdecode(path))
    elif event == "os.rename":
        _WATCH["renames"].append(os.fsdecode(args[1]))


sys.addaudithook(_audit)


def _final(path: str) -> bool:
    """A results or checkpoint file under its final name (not a temporary one)."""
    parts = path.split(os.sep)
    if any(p.startswith(".tmp-") for p in parts):
        return False
    return parts[-1] in ("results.json", "results.md", "latest.json") or any(p.startswith("epoch-") for p in parts)


def test_results_and_checkpoints_are_never_written_in_place(tmp_path):
    from paddle_cnn.experiments.runner import run_experiment
    _WATCH.update(on=True, writes=[], renames=[])
    try:
        run_experiment("pool-vs-stride", "smoke", seeds=1, logdir=str(tmp_path), progress=False,
                       log=lambda *a: None)
    finally:
        _WATCH["on"] = False
    ours = [w for w in _WATCH["writes"] if w.startswith(str(tmp_path))]
    assert ours, "the audit hook saw no write"
    assert [w for w in ours if _final(w)] == []
    renamed = {os.path.relpath(r, tmp_path) for r in _WATCH["renames"]}
    assert {"pool-vs-stride/results.json", "pool-vs-stride/results.md",
            "pool-vs-stride/_checkpoints/lenet-s0/latest.json",
            "pool-vs-stride/_checkpoints/lenet-s0/epoch-0002"} <= renamed
    assert _final(str(tmp_path / "x" / "results.json")) and not _final(str(tmp_path / ".tmp-1results.json"))


def test_atomic_files_get_the_usual_permissions(tmp_path):
    """Written through a temporary file, results still get the mode a plain open() would give (not 0600)."""
    from paddle_cnn.files import atomic_write_text
    path = tmp_path / "results.json"
    atomic_write_text(str(path), "{}")
    mask = os.umask(0)
    os.umask(mask)
    assert path.stat().st_mode & 0o777 == 0o666 & ~mask
