"""A run folder's VisualDL records kept in ONE file, so that a resumed run's dashboard shows all its epochs.

VisualDL's dashboard reads only the newest `vdlrecords.*` file of a run folder (the last name in sort order;
VisualDL issue 1055), and a new LogWriter opens a new file. A resumed run therefore appends to the folder's
existing file (`LogWriter(file_name=...)` appends). Before it does, `one_records_file` makes sure there is exactly
one file and that it ends on a whole record:
- a file cut by a kill mid-write is truncated to its last whole record (appending after a cut record would shift
  every later record and VisualDL would read garbage);
- several files (written by older versions, which opened a new file per resume) are merged, in order and without
  repeating a record, into the newest name (written to a temporary file and renamed), then the others removed.
  A kill between the rename and the removals leaves files whose records the merged one already holds: the next
  merge drops the repeats.

Record format (visualdl/writer/record_writer.py `RecordWriter.write`): uint64 little-endian length + a serialised
`Record` protobuf.
"""
from __future__ import annotations

import glob
import os
import struct

from paddle_cnn.files import atomic_write_bytes

PATTERN = "vdlrecords.*"


def records_files(run_dir: str) -> list[str]:
    """The folder's records files in VisualDL's order (the last one is what its dashboard shows)."""
    return sorted(f for f in glob.glob(os.path.join(run_dir, PATTERN)) if os.path.isfile(f))


def whole_records(path: str) -> tuple[list[bytes], int]:
    """(the file's whole records, the byte length they span); a cut or unreadable tail is left out."""
    from visualdl.proto import record_pb2
    with open(path, "rb") as f:
        blob = f.read()
    out, pos = [], 0
    while pos + 8 <= len(blob):
        (n,) = struct.unpack("<Q", blob[pos:pos + 8])
        if pos + 8 + n > len(blob):
            break
        body = blob[pos + 8:pos + 8 + n]
        try:
            record_pb2.Record().ParseFromString(body)
        except Exception:  # garbage where a record should be: nothing after it can be trusted
            break
        out.append(body)
        pos += 8 + n
    return out, pos


def one_records_file(run_dir: str) -> str | None:
    """The name of the folder's single records file, ending on a whole record (None: the folder has none)."""
    files = records_files(run_dir)
    if not files:
        return None
    if len(files) == 1:
        records, end = whole_records(files[0])
        if end < os.path.getsize(files[0]):
            with open(files[0], "r+b") as f:
                f.truncate(end)
        return os.path.basename(files[0])
    merged, seen = [], set()
    for f in files:
        for r in whole_records(f)[0]:
            if r not in seen:  # a record holds its own wall time: a repeat is a copy of the same point
                seen.add(r)
                merged.append(r)
    target = files[-1]
    atomic_write_bytes(target, b"".join(struct.pack("<Q", len(r)) + r for r in merged))
    for f in files[:-1]:
        os.remove(f)
    return os.path.basename(target)



RETIRED = "retired-records."  # a records file hidden from VisualDL (it reads only names holding 'vdlrecords')


def retire(run_dir: str) -> int:
    """Hide a run folder's records from the dashboard, keeping them on disk (renamed): for the runs of an
    experiment that are not plans of its latest run (fewer seeds than before). Returns the files renamed."""
    files = records_files(run_dir)
    for f in files:
        os.replace(f, os.path.join(run_dir, RETIRED + os.path.basename(f)[len("vdlrecords."):]))
    return len(files)


def restore(run_dir: str) -> int:
    """Show a retired run's records again (its plan is back); returns the files renamed."""
    found = sorted(glob.glob(os.path.join(run_dir, RETIRED + "*")))
    for f in found:
        os.replace(f, os.path.join(run_dir, "vdlrecords." + os.path.basename(f)[len(RETIRED):]))
    return len(found)
