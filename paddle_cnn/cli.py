"""Command line: `paddle-cnn list | summary | run | report | data | bench` (and `python -m paddle_cnn`).

Every bad input ends in one line on stderr, `paddle-cnn: error: ...`, and exit code 2; never a stack trace.
"""
from __future__ import annotations

import contextlib
import argparse
import json
import os
import sys

from paddle_cnn import places
from paddle_cnn.text import error_line


class CliError(Exception):
    """A user error: printed as one line, exit code 2."""


class _Parser(argparse.ArgumentParser):
    def __init__(self, *args, **kwargs):
        kwargs.setdefault("allow_abbrev", False)  # `--seed 3` is not `--seeds 3`: an unknown flag, with a hint
        super().__init__(*args, **kwargs)

    def parse_known_args(self, args=None, namespace=None):
        self._words = list(sys.argv[1:] if args is None else args)  # for the hint: which command was typed
        return super().parse_known_args(args, namespace)

    def error(self, message):  # argparse's own errors: one line, exit 2 (usage goes to --help)
        if message.startswith("unrecognized arguments:"):
            message += self._flag_hint(message.split(":", 1)[1].split())
        raise CliError(f"{message} (see `paddle-cnn {self.prog.split(' ', 1)[-1]} --help`)"
                       if " " in self.prog else f"{message} (see `paddle-cnn --help`)")

    def _flag_hint(self, words: list[str]) -> str:
        """'; did you mean --seeds?' for the first unknown flag close to a flag of the command typed (of any command
        when none was)."""
        import difflib
        flags = {o for a in self._actions for o in a.option_strings}
        typed = set(getattr(self, "_words", []))
        for a in self._actions:
            commands = {k: p for k, p in (getattr(a, "choices", None) or {}).items()
                        if isinstance(p, argparse.ArgumentParser)}
            for name, parser in commands.items():
                if name in typed or not typed & set(commands):
                    flags |= {o for b in parser._actions for o in b.option_strings}
        for w in words:
            close = difflib.get_close_matches(w.split("=")[0], sorted(flags), n=1, cutoff=0.6) \
                if w.startswith("--") else []
            if close:
                return f"; did you mean {close[0]}?"
        return ""


def build_parser() -> argparse.ArgumentParser:
    from paddle_cnn.experiments.definitions import CPU_DEFAULT, GPU_DEFAULT, PROFILES
    p = _Parser(prog="paddle-cnn", description="Classic CNNs in PaddlePaddle: models, layer arithmetic, "
                                                "experiments.")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True
    sub.add_parser("list", help="models, experiments, profiles and data sets")
    s = sub.add_parser("summary", help="per-layer table: output shape, weights, bias, params, MACs")
    s.add_argument("model", help="a registered model name (see `paddle-cnn list`)")
    s.add_argument("--input", metavar="CxHxW", help="input shape, e.g. 3x224x224 (default: the model's native input)")
    s.add_argument("--num-classes", type=int, default=10, metavar="N", help="classifier outputs (default 10)")
    s.add_argument("--format", choices=("text", "markdown", "json"), default="text")
    r = sub.add_parser("run", help="run an experiment: VisualDL logs, results.json, results.md, plots")
    r.add_argument("experiment", help="an experiment name (see `paddle-cnn list`)")
    r.add_argument("--profile", default=None, help=f"{' | '.join(PROFILES)} (default: $PADDLE_CNN_PROFILE, else "
                                                   f"{GPU_DEFAULT} on a GPU and {CPU_DEFAULT} on a CPU)")
    r.add_argument("--seeds", type=int, default=3, metavar="K",
                   help="seeds per run (default 3: a verdict needs >= 3)")
    r.add_argument("--data-dir", default=None, metavar="DIR", help="data directory (default: $PADDLE_CNN_DATA, "
                   "else the checkout's data/; work/data on AI Studio, whose mounted data sets are searched too)")
    r.add_argument("--logdir", default=None, metavar="DIR", help="log directory (default: the checkout's logs/; "
                   "work/logs on AI Studio; the smoke profile's runs in smoke-logs/ beside it)")
    r.add_argument("--resume", action="store_true", help="strict: keep finished runs, resume the interrupted one, "
                                                          "and refuse (exit 2, nothing changed) anything in the folder "
                                                          "that other plans wrote")
    r.add_argument("--retrain", action="store_true", help="train every run afresh (default: reuse finished runs of "
                                                           "the same plans and continue interrupted ones, saying so "
                                                           "per run; runs of changed plans are trained again)")
    r.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", dest="overrides",
                   help="vary a training setting (any TrainConfig field, or train_subset / test_subset), e.g. "
                        "--set lr=0.01 --set epochs=5; repeatable. Overridden runs are plans of their own, in "
                        "logs/EXPERIMENT+lr=0.01, never compared with the article's numbers")
    r.add_argument("--dry-run", action="store_true", help="print the run plans and exit without training")
    rp = sub.add_parser("report", help="rebuild results.md and plots from results.json, without training")
    rp.add_argument("experiment")
    rp.add_argument("--logdir", default=None, metavar="DIR", help="log directory (default: as for run)")
    rp.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", dest="overrides",
                    help="the results of runs with these overrides (as given to run)")
    b = sub.add_parser("bench", help="performance: our fit vs paddle.Model.fit, GFLOP/s vs the matmul peak, "
                                     "per-model timings, peak memory, the BLAS convolutions before/after, all of it idle "
                                     "and beside a CPU-bound load")
    b.add_argument("--json", metavar="FILE", help="write the measurements as JSON")
    b.add_argument("--write", metavar="FILE", help="write the Markdown report (e.g. BENCHMARKS.md)")
    b.add_argument("--tiny", action="store_true", help="a seconds-long version (for tests)")
    b.add_argument("--no-profiles", action="store_true",
                   help="skip the before/after wall times of whole quick-profile experiments (~20 min on 2 cores "
                        "idle, as long again busy)")
    b.add_argument("--profiles", metavar="EXP[,EXP]", default=None,
                   help="the experiments whose whole quick-profile runs are timed (default: vgg16-cifar10,"
                        "alexnet-mnist)")
    b.add_argument("--no-busy", action="store_true",
                   help="skip section 6: the ratios again beside a CPU-bound load the bench starts and stops")
    d = sub.add_parser("data", help="prepare (download where possible) and verify a data set")
    d.add_argument("name", help="mnist-5k, mnist, cifar10 or caltech16")
    d.add_argument("--data-dir", default=None, metavar="DIR", help="data directory (default: as for run)")
    return p


def cmd_list(args) -> int:
    from paddle_cnn.models import list_models, model_spec
    print("models (native input C x H x W):")
    for name in list_models():
        spec = model_spec(name)
        print(f"  {name:15s} {'x'.join(map(str, spec.input_shape)):10s} {spec.summary}")
    from paddle_cnn.experiments.definitions import EXPERIMENTS, PROFILES
    print("experiments (paddle-cnn run NAME):")
    for name, e in EXPERIMENTS.items():
        print(f"  {name:18s} {e.title}")
    print("profiles (--profile NAME):")
    for name, p in PROFILES.items():
        print(f"  {name:15s} {p.what}")
    from paddle_cnn.data import DATASETS
    print("data sets (paddle-cnn data NAME):")
    for name, what in DATASETS.items():
        print(f"  {name:15s} {what}")
    return 0


def cmd_summary(args) -> int:
    from paddle_cnn.arithmetic.tables import model_table, parse_input
    from paddle_cnn.models import model_spec
    spec = model_spec(args.model)  # unknown name -> UnknownModelError before anything is built
    shape = parse_input(args.input) if args.input else spec.input_shape
    table = model_table(args.model, shape, num_classes=args.num_classes, in_channels=shape[0], input_size=shape[1:])
    if args.format == "json":
        print(json.dumps({"model": args.model, "input": list(shape), "rows": table.records(),
                          "totals": table.totals}, indent=1))
    elif args.format == "markdown":
        print(table.to_markdown())
    else:
        print(table.to_text())
    return 0


def cmd_data(args) -> int:
    from paddle_cnn.data import prepare
    for line in prepare(args.name, args.data_dir):
        print(line)
    return 0


def parse_overrides(items: list[str]) -> dict:
    """`--set KEY=VALUE` items as a dict: VALUE read as a Python literal (0.01, 5, True, None, (30, 60)), else as
    text; a comma list for a tuple setting (augment=crop,flip). Validated by plans.check_overrides."""
    import ast
    import dataclasses

    from paddle_cnn.experiments.plans import check_overrides
    from paddle_cnn.training.config import TrainConfig
    tuples = {f.name for f in dataclasses.fields(TrainConfig) if isinstance(f.default, tuple)}
    out = {}
    for item in items:
        key, sep, text = item.partition("=")
        key = key.strip().replace("-", "_")
        if not sep or not key:
            raise ValueError(f"--set {item!r}: write KEY=VALUE, e.g. --set lr=0.01")
        text = text.strip()
        try:
            value = ast.literal_eval({"none": "None", "true": "True", "false": "False"}.get(text.lower(), text))
        except (ValueError, SyntaxError):
            value = text
        if key in tuples and not isinstance(value, (tuple, list)):
            value = tuple(v.strip() for v in text.split(",") if v.strip()) if isinstance(value, str) else (value,)
        out[key] = value
    return check_overrides(out)


def cmd_run(args) -> int:
    from paddle_cnn.experiments.definitions import get_experiment
    from paddle_cnn.experiments.runner import run_experiment
    from paddle_cnn.places import experiment_folder
    overrides = parse_overrides(args.overrides)
    args.experiment = get_experiment(args.experiment).name  # '03': notebook 03's experiment, pool-vs-stride
    if args.resume and args.retrain:
        raise CliError("--resume and --retrain contradict each other: --resume keeps runs, --retrain replaces them")
    folder = experiment_folder(args.logdir, get_experiment(args.experiment).name, None, overrides)
    if args.dry_run:
        from paddle_cnn.data import DataError
        from paddle_cnn.experiments.plans import plan_experiment, plans_fingerprint
        from paddle_cnn.experiments.runner import resolve_plans
        from paddle_cnn.training.config import settings_label
        try:  # the data's digest is part of each plan
            plans = resolve_plans(args.experiment, args.profile, args.seeds, args.data_dir,
                                  log=lambda m: print(m, file=sys.stderr), overrides=overrides)
        except DataError as e:
            plans = plan_experiment(args.experiment, args.profile, args.seeds, overrides)
            print(f"paddle-cnn: the data was not read ({e}): the fingerprints below leave out its digest",
                  file=sys.stderr)
        from paddle_cnn.text import wrap
        varied = f", overridden: {settings_label(overrides)}" if overrides else ""
        print(wrap(f"{args.experiment}, profile {plans[0].profile}{varied}: {len(plans)} plan(s) "
                   f"[{plans_fingerprint({p.key: p.identity() for p in plans})}], logs in {folder}/"))
        for plan in plans:
            print(wrap("  " + plan.describe(), indent=" " * 6))
        print(wrap(_time_estimate(plans, folder)))
        return 0
    try:
        results = run_experiment(args.experiment, args.profile, args.seeds, args.data_dir, args.logdir, args.resume,
                                 reuse=not (args.resume or args.retrain), overrides=overrides)
    except KeyboardInterrupt as e:  # training.Interrupted says where it stopped and that it saved that state
        import shlex
        where = f"{e}; " if str(e) else f"interrupted: finished runs and epochs are saved in {folder}; "
        again = os.environ.get("PADDLE_CNN_RERUN") or "paddle-cnn " + " ".join(map(shlex.quote, args.argv))
        if args.retrain:
            print(f"paddle-cnn: {where}the finished runs not yet replaced are kept as they were: rerun `{again}` to "
                  "retrain every run (this one continues where it stopped), or the same without --retrain to keep "
                  "every finished run as it is now", file=sys.stderr)
        else:
            print(f"paddle-cnn: {where}rerun `{again}` to continue (finished runs are reused)", file=sys.stderr)
        return 130
    from paddle_cnn.experiments.report import terminal_summary
    from paddle_cnn.places import experiment_folder
    print()
    print(terminal_summary(results, experiment_folder(args.logdir, results["experiment"], results["profile"],
                                                      overrides)))
    return 0


def _time_estimate(plans: list, folder: str) -> str:
    """The dry run's last line: which plans a run would reuse (finished in the folder with the same fingerprint)
    and how long the others would train, from the seconds per epoch of the runs there (this machine, the same
    networks)."""
    import json

    from paddle_cnn.experiments.countdown import Countdown
    try:
        with open(os.path.join(folder, "results.json"), encoding="utf-8") as f:
            old = json.load(f)
        old = old if isinstance(old, dict) else {}
    except (OSError, ValueError):
        old = {}
    earlier = old.get("runs") if isinstance(old.get("runs"), list) else []
    done = old.get("plans_done") if isinstance(old.get("plans_done"), dict) else {}
    todo = [p for p in plans if done.get(p.key) != p.fingerprint]

    def training(these):
        time = Countdown(these, earlier).estimate(these) if these else "under 1 s"
        return f"{time} of training" if time else ""
    finished = f"{len(plans) - len(todo)} of {len(plans)} plans finished in {folder}/" if len(todo) < len(plans) else ""
    if not todo:
        retrain = training(plans)
        return f"time: {finished}: a run reuses them" + (f"; --retrain: {retrain}" if retrain else "")
    left = training(todo)
    if not left:
        return ("time: no run of these networks has finished in this folder yet; once one has, each run's first "
                "line estimates the time left")
    return f"time: {left} (seconds per epoch of the runs in {folder}/)" + (f"; {finished} are reused" if finished
                                                                           else "")


def cmd_report(args) -> int:
    from paddle_cnn.experiments.report import rebuild
    print(rebuild(args.experiment, args.logdir, parse_overrides(args.overrides)))
    return 0


def cmd_bench(args) -> int:
    from paddle_cnn.bench import bench_markdown, run_bench
    from paddle_cnn.files import atomic_write_text
    from paddle_cnn.device import setup
    setup()
    profiles = not args.no_profiles
    if args.profiles and profiles:
        from paddle_cnn.experiments import get_experiment
        profiles = tuple(get_experiment(e.strip()).name for e in args.profiles.split(",") if e.strip())
    r = run_bench(tiny=args.tiny, log=lambda m: print(m, file=sys.stderr), profiles=profiles,
                  busy=not args.no_busy)
    text = bench_markdown(r)
    if args.json:
        atomic_write_text(args.json, json.dumps(r, indent=1))
    if args.write:
        kept = ""
        if os.path.exists(args.write):  # keep the hand-written record of levers below the measured tables
            with open(args.write, encoding="utf-8") as f:
                old = f.read()
            if "\n## Levers" in old:
                kept = "\n" + old[old.index("\n## Levers") + 1:]
        atomic_write_text(args.write, text + kept)
    print(text)
    return 0


COMMANDS = {"bench": cmd_bench, "list": cmd_list, "summary": cmd_summary, "data": cmd_data, "run": cmd_run, "report": cmd_report}


def check_paddle() -> None:
    """paddle is an extra of this package (the CPU or the GPU build, installed by the user): say which to get."""
    import importlib.util
    if importlib.util.find_spec("paddle") is None:
        raise CliError("paddle is not installed: pip install 'paddle-cnn[cpu]' for the CPU build, or on a GPU "
                       "paddlepaddle-gpu (docs/gpu.md)")


SIGPIPE_EXIT = 141  # 128 + SIGPIPE, as a tool killed by a closed pipe exits


def _pipe_closed(args) -> int:
    """The reader of our output went away (`| head`): stdout is pointed at /dev/null so that nothing more fails
    on it, a run says on stderr that it stopped unfinished, and the exit is SIGPIPE's, never success."""
    _silence_stdout()
    if getattr(args, "command", None) == "run" and not getattr(args, "finished", False):
        try:
            print("paddle-cnn: stopped: the output pipe was closed (`| head`?) before the run finished; finished "
                  "epochs are kept: rerun the same command to continue", file=sys.stderr)
        except OSError:
            pass
    return SIGPIPE_EXIT


def _silence_stdout() -> None:
    """Point stdout at /dev/null: what is still buffered for a closed pipe or a full device is dropped, not
    written again (and failed again, in a traceback) when Python exits."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):  # no real stdout (captured): nothing to redirect
        pass


class OutputError(OSError):
    """Writing the standard output failed (a full device); not one of our files."""


class _Stdout:
    """sys.stdout for a command: a failed write or flush is an OutputError (a closed pipe stays BrokenPipeError),
    so that the error line blames the output, not the disk of the logs."""

    def __init__(self, stream):
        self._stream = stream

    def _do(self, fn, *a):
        try:
            return fn(*a)
        except BrokenPipeError:
            raise
        except OSError as e:
            raise OutputError(e.errno, e.strerror) from None

    def write(self, text):
        return self._do(self._stream.write, text)

    def flush(self):
        return self._do(self._stream.flush)

    def __getattr__(self, name):
        return getattr(self._stream, name)


@contextlib.contextmanager
def _guarded_stdout():
    before = sys.stdout
    sys.stdout = _Stdout(before)
    try:
        yield
    finally:
        sys.stdout = before


def main(argv=None) -> int:
    import warnings
    warnings.filterwarnings("ignore", message="No ccache found")  # paddle 3.x on import; about C++ extensions
    args = None
    try:
        args = build_parser().parse_args(argv)
        args.argv = list(sys.argv[1:] if argv is None else argv)  # as typed: the command a message tells to rerun
        check_paddle()
        if getattr(args, "logdir", "") is None:  # smoke runs apart from real results, as in the notebooks
            from paddle_cnn.experiments.definitions import resolve_profile
            if args.command == "run":  # the profile decided once, here
                profile = args.profile = resolve_profile(args.profile)
            else:  # report: $PADDLE_CNN_PROFILE=smoke looks where smoke runs went
                profile = os.environ.get("PADDLE_CNN_PROFILE") if args.command == "report" else None
            args.logdir = places.shown(places.default_logdir(profile))
        if args.command != "list":  # before paddle's OpenMP runtime reads (and complains about) them
            from paddle_cnn.device import rank_and_world, user_blas_threads, user_threads
            user_threads()
            user_blas_threads()
            rank_and_world()  # the launcher's rank variables, read by paddle as int() without their name
        with _guarded_stdout():
            code = COMMANDS[args.command](args)
            args.finished = True  # the work is done; only its output may still fail below
            sys.stdout.flush()  # a full device or closed pipe fails here, not silently at exit
        return code
    except CliError as e:
        print(f"paddle-cnn: error: {e}", file=sys.stderr)
        return 2
    except KeyError as e:  # the files read are validated first: one that still lacks an entry names it
        print(f"paddle-cnn: error: entry {error_line(e)!r} is missing from a file read (written by another version "
              "or edited?); rerun without --resume to start afresh", file=sys.stderr)
        return 2
    except (ValueError, FileNotFoundError) as e:  # ShapeError, UnknownModelError, DataError, bad values
        print(f"paddle-cnn: error: {error_line(e)}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # `paddle-cnn run ... | head` (an OSError: caught first): stopped, not done
        return _pipe_closed(args)
    except OSError as e:  # disk full, file too large, permissions, mid-run
        if isinstance(e, OutputError):  # `paddle-cnn list > /dev/full`: the output, not our files
            _silence_stdout()
            print(f"paddle-cnn: error: cannot write the output ({e.strerror or e}); nothing else was affected",
                  file=sys.stderr)
            return 2
        where = f" ({e.filename})" if e.filename else ""
        print(f"paddle-cnn: error: {e.strerror or e}{where}; finished epochs are kept: free space or choose "
              "another --logdir, then rerun the same command", file=sys.stderr)
        return 2
    except RuntimeError as e:  # NonFiniteLoss, paddle's out-of-memory and the like: one line, no trace
        print(f"paddle-cnn: error: {error_line(e)}", file=sys.stderr)
        return 2
    except MemoryError:
        print("paddle-cnn: error: out of memory; choose a smaller profile, batch or input (finished epochs are "
              "kept: rerun the same command)", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("paddle-cnn: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
