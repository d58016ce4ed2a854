"""Files written so that a crash never leaves half of one: atomic writes (a temporary file beside the target,
fsync, rename), modes as the user's umask would give them, and the clean-up of what a crash left of our own
temporary files and folders (never a link, never anything not ours)."""
from __future__ import annotations

import os
import shutil
import stat
import tempfile

TEMP_PREFIX = ".tmp-"  # atomic_write_bytes' temporary files; checkpoint.save's unfinished folders: TEMP_PREFIX + "epoch-"


def atomic_write_text(path: str, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_bytes(path: str, data: bytes) -> None:
    """Write to a temporary file beside `path`, fsync, rename over it: readers see the old file or the new."""
    d = os.path.dirname(os.path.abspath(path))
    os.makedirs(d, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=d, prefix=TEMP_PREFIX, suffix=os.path.basename(path))
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o666 & ~_umask())  # as open() would have made it (mkstemp makes 0600)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


def as_the_user_would_make_them(folder: str) -> None:
    """Modes as open() and mkdir() would give under the user's umask (mkdtemp makes 0700, safetensors 0600)."""
    mask = _umask()
    os.chmod(folder, 0o777 & ~mask)
    for name in os.listdir(folder):
        os.chmod(os.path.join(folder, name), 0o666 & ~mask)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def leftovers(folder: str) -> list[str]:
    """What a crash left of our own writes directly inside `folder`: temporary files of atomic_write_bytes
    (`.tmp-*`: results.json, latest.json, results.md, VisualDL merges) and unfinished checkpoint folders of
    save (`.tmp-epoch-*`). Nothing else, and never a symlink (neither listed nor followed)."""
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return []
    found = []
    for e in entries:
        if not e.name.startswith(TEMP_PREFIX) or e.is_symlink():
            continue
        if e.is_file(follow_symlinks=False) or (e.is_dir(follow_symlinks=False)
                                                and e.name.startswith(TEMP_PREFIX + "epoch-")):
            found.append(e.path)
    return sorted(found)


def disk_bytes(path: str) -> int:
    """Bytes of a file, or of the files under a folder (links not followed, not counted)."""
    try:
        st = os.lstat(path)
    except OSError:
        return 0
    if not stat.S_ISDIR(st.st_mode):
        return st.st_size if stat.S_ISREG(st.st_mode) else 0
    total = 0
    for base, _, files in os.walk(path, followlinks=False):
        for name in files:
            try:
                st = os.lstat(os.path.join(base, name))
            except OSError:
                continue
            total += st.st_size if stat.S_ISREG(st.st_mode) else 0
    return total


def remove_leftovers(folder: str) -> int:
    """Remove `leftovers(folder)` (a run's start, under its lock); returns the bytes freed."""
    freed = 0
    for path in leftovers(folder):
        size = disk_bytes(path)
        try:
            if os.path.isdir(path) and not os.path.islink(path):
                shutil.rmtree(path)  # removes links inside, never what they point to
            else:
                os.remove(path)
            freed += size
        except OSError:  # gone meanwhile or not ours to remove: it stays counted as nothing
            pass
    return freed


def refuse_links(folder: str) -> None:
    """Nothing inside an experiment's folder is written through a symbolic link: the first link found (at any
    depth, links not followed) is one ValueError line. The folder itself (and the log folder above it) may be a
    link: that is where the user chose to keep the runs."""
    for base, dirs, names in os.walk(folder, followlinks=False):
        for name in sorted(dirs + names):
            path = os.path.join(base, name)
            if os.path.islink(path):
                raise ValueError(f"{path} is a symbolic link (to {os.readlink(path)}); runs write only their own "
                                 f"files in {folder}, never through a link: remove the link, or choose another "
                                 "--logdir")


REPLACED = TEMP_PREFIX + "replaced-"  # replace_dir's aside folder while a finished run is swapped for its replacement


def replace_dir(new: str, target: str) -> None:
    """`new` takes `target`'s place (one file system): target renamed aside, new renamed in, the aside one removed;
    links are renamed, never followed. A crash in between leaves the aside folder: settle_replaced() then puts it
    back if `new` had not moved in yet, else removes it."""
    parent, name = os.path.split(os.path.abspath(target))
    aside = os.path.join(parent, REPLACED + name)
    _remove(aside)  # an earlier crash's, already settled or not ours to keep
    if os.path.lexists(target):
        os.rename(target, aside)
    os.rename(new, target)
    _remove(aside)


def settle_replaced(folder: str) -> None:
    """After a crash inside replace_dir: each aside folder in `folder` goes back to its place when that place is
    empty (the replacement had not moved in), else it is removed (the replacement is in place)."""
    try:
        entries = [e for e in os.scandir(folder) if e.name.startswith(REPLACED)]
    except OSError:
        return
    for e in entries:
        target = os.path.join(folder, e.name[len(REPLACED):])
        if os.path.lexists(target):
            _remove(e.path)
        else:
            os.rename(e.path, target)


def _remove(path: str) -> None:
    if os.path.islink(path) or os.path.isfile(path):
        os.remove(path)
    elif os.path.isdir(path):
        shutil.rmtree(path)  # removes links inside, never what they point to


class FolderLock:
    """An exclusive lock on an experiment's log folder: a second run pointed at it refuses with one line. The
    lock file is removed when the run ends (before its lock is released; a run that opened the file just before
    checks, once it holds the lock, that the file is still the one in the folder, else it takes the new one)."""

    def __init__(self, folder: str, refusal: str = "another run is using {folder} (locked); wait for it or use "
                                                  "another --logdir"):
        self.path = os.path.join(folder, ".lock")
        self.f, self.refusal = None, refusal

    def __enter__(self):
        import fcntl
        while True:
            self.f = open(self.path, "a+")
            try:
                fcntl.flock(self.f, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                self.f.close()
                raise ValueError(self.refusal.format(folder=os.path.dirname(self.path))) from None
            try:
                if os.stat(self.path).st_ino == os.fstat(self.f.fileno()).st_ino:
                    return self
            except FileNotFoundError:  # removed by the run that held it: lock the next file
                pass
            self.f.close()

    def __exit__(self, *exc):
        import fcntl
        try:
            os.remove(self.path)
        except OSError:  # already gone or the folder went read-only: the lock itself still ends below
            pass
        fcntl.flock(self.f, fcntl.LOCK_UN)
        self.f.close()
