"""What plot.py and summarize.py share: one-line user errors and the kinds of aimc-dist output folders."""
import argparse
import csv
import os
import sys


class UserError(Exception):
    """A problem the user can fix; reported as one line. status: 1 for files, 2 for arguments."""

    def __init__(self, message, status=1):
        super().__init__(message)
        self.status = status


# The columns of a sweep's summary.csv that are results, not axes (every other column is an axis key).
SUMMARY_RESULTS = {"run", "final_test_accuracy", "best_test_accuracy", "final_train_loss", "epochs", "seconds", "weights_digest", "diverged"}


def parser(prog, **kwargs):
    """An argparse parser whose usage errors are UserErrors (status 2) pointing at `prog --help`."""
    class Parser(argparse.ArgumentParser):
        def error(self, message):
            raise UserError(f"{message} (see {prog} --help)", 2)
    return Parser(prog=prog, **kwargs)


def holds(d):
    """What folder `d` holds, in words ("it holds a training run"), judged by aimc-dist's output files in it."""
    try:
        names = set(os.listdir(d))
    except OSError as e:
        return f"it cannot be listed: {e.strerror}"
    runs = sorted(n for n in names if n.startswith("run-") and os.path.isdir(os.path.join(d, n)))
    if "summary.csv" in names:
        return "it holds a sweep: summary.csv" + (f" and run folders {runs[0]} ... {runs[-1]}" if runs else "")
    if "metrics.csv" in names or {"config.json", "summary.json"} <= names:
        return "it holds a training run"
    if "lsq.csv" in names:
        return "it holds the results of `aimc-dist lsq`"
    device = sorted(names & {"response.csv", "pulse_response.csv"})
    if len(device) == 2:
        return "it holds the results of `aimc-dist device`"
    if device:
        return f"it holds only {device[0]} of `aimc-dist device`"
    if "scaling.csv.partial" in names:
        return "it holds scaling.csv.partial: scripts/scaling.sh has not finished, or failed"
    if "scaling.csv" in names:
        return "it holds the results of scripts/scaling.sh"
    if not [n for n in names if not n.startswith(".")]:
        return "it is empty"
    return "it holds none of aimc-dist's output files"



def read_csv(path, needed, writer, what="is malformed", comments=False):
    """The rows of CSV file `path` (each with its line number under "__line__"; possibly none). UserError for an
    empty file, a header without the `needed` columns (`path` `what`: ...; `writer` says which command writes the
    file), rows of the wrong length, text that is not CSV, or a file that cannot be read. With `comments`, lines
    starting with # before the header (tiles.csv's column descriptions) are skipped."""
    rows = []
    try:
        with open(path, newline="", encoding="utf-8") as f:
            skipped = 0
            if comments:
                start = f.tell()
                line = f.readline()
                while line.startswith("#"):
                    skipped += 1
                    start = f.tell()
                    line = f.readline()
                f.seek(start)
            reader = csv.DictReader(f)
            try:
                header = reader.fieldnames
                if not header:
                    raise UserError(f"{path} is empty; {writer}")
                missing = [c for c in needed if c not in header]
                if missing:
                    raise UserError(f"{path} {what}: its header ({','.join(header)}) lacks {', '.join(missing)}; {writer}")
                for r in reader:
                    if None in r or None in r.values():
                        count = sum(r[k] is not None for k in header) + len(r.get(None, []))
                        raise UserError(f"{path}:{reader.line_num + skipped}: malformed: {count} fields where the header has {len(header)}")
                    r["__line__"] = reader.line_num + skipped
                    rows.append(r)
            except csv.Error as e:
                raise UserError(f"{path}:{reader.line_num + skipped}: malformed CSV: {e}")
    except UnicodeDecodeError:
        raise UserError(f"{path} is not a CSV text file")
    except OSError as e:
        raise UserError(f"cannot read {path}: {e.strerror}")
    return rows


def run(prog, main):
    """Runs `main`; a UserError becomes one line on stderr and its exit status."""
    try:
        main()
    except UserError as e:
        print(f"{prog}: error: {e}", file=sys.stderr)
        sys.exit(e.status)
