"""The class report of a graded exercise: what the class got right, and which mistakes it made, on one page.

``nnbook-autograde ex03 --report`` writes it after grading; ``python -m
nnbook.autograder.report ex03`` writes it again from the saved results
(``.nnbook-autograde/<assignment>/results/``) without grading anything. In the
course folder, or in ``--report-dir``:

* ``report_<assignment>.html``, one offline page for the instructor (no
  script, no file loaded from anywhere: the figures are PNGs inside it): the
  distribution of the totals with their mean and median, the pass rate of every
  graded function (a figure and a table), the mistakes recognized in each
  function with how many students made each, the flagged submissions and those
  that failed or ran out of time, with their reasons;
* ``report_<assignment>_functions.csv``: one row per function;
* ``report_<assignment>_mistakes.csv``: one row per function and mistake.

A *function* is an answer cell (a code solution cell) of the source notebook;
its tests are the test cells that follow it up to the next answer cell. A
student passes a function when every one of its tests got full points.

The *mistakes* are read from the messages the students read in their feedback
(the results keep each failed test's message): the diagnostics of
:mod:`nnbook.grading` end with "Likely mistake: <hint>" (a shape mismatch gives
the hint right after the shapes), and :func:`mistake_classes` turns each hint
into a class, the same for every student whatever the numbers of their test:
a built-in diagnostic (a transpose, a wrong sign, ``m`` times too large, …)
becomes its name, a hint of the exercise's own (``mistakes=`` of a check) its
text with the numbers left out. A failure without a hint gets a generic class:
not implemented (the stub's ``NotImplementedError``), ran out of time, an
exception of its type, a wrong shape, a wrong value, ….

Every text that comes from a student (ids, messages, reasons, flags) is
escaped in the page, and every CSV cell is safe for a spreadsheet.
"""

import argparse
import base64
import csv
import html
import io
import re
import statistics
import sys
from pathlib import Path

import nbformat
from nbgrader import utils

from . import autograde

#: The built-in diagnostics of :mod:`nnbook.grading` (how a hint starts) and the name of the mistake each one means.
BUILT_IN_HINTS = (
    (r"It is the transpose of the expected array", "the transpose of the expected array"),
    (r"It has the wrong sign", "the wrong sign (its opposite would be right)"),
    (r"It is m = \d+ times too large", "m times too large: a sum where the cost is a mean"),
    (r"It is m = \d+ times too small", "m times too small: divided by m once too often"),
    (r"The value is right but it is an array", "the right value, as an array instead of a number"),
    (r"The values are right but arranged as", "the right values arranged in another shape (a row or a column)"),
    (r"It holds one term per example: sum", "one term per example, not summed over the batch"),
    (r"It holds one term per example: average", "one term per example, not averaged over the batch"),
    (r"It has one extra leading axis", "an extra leading axis, one entry per example"),
    (r"It is \(\d+, \d+\), m by m", "(m, m): an (m, 1) array combined with an (m,) one"),
    (r"An array of shape \(\d+, 1\) combined with one of shape", "an array broadcast against another (an extra axis)"),
)
_BUILT_IN = re.compile("|".join(f"(?:{pattern})" for pattern, _ in BUILT_IN_HINTS))

NOT_IMPLEMENTED = "not implemented (the stub's NotImplementedError)"
OUT_OF_TIME = "ran out of time"
KERNEL_DIED = "the kernel died"
NO_ANSWER = "no answer from the kernel (not plain data, or the kernel stopped)"
WRONG_SHAPE = "wrong shape"
WRONG_VALUE = "wrong value"
NAN = "NaN or inf (an overflow, a log of 0, a division by 0)"
IN_PLACE = "changed an argument in place"
REFERENCE = "called the package's reference implementation"
NOT_RETURNED = "returned nothing, a tuple, or the wrong number of values"
FAILED = "failed (no message)"

#: A number that is not part of a name (``A2``, ``dW1`` keep their digits), or a number the grader hid.
_NUMBER = re.compile(r"\(hidden\)|(?<![\w.])[-+]?(?:\d[\d_]*\.?\d*|\.\d+)(?:[eE][-+]?\d+)?(?![\w])")
_SHAPES = re.compile(r": expected (?:a single number \(shape \(\)\)|shape \([^)]*\)), "
                     r"got (?:a single number \(shape \(\)\)|shape \([^)]*\))\.?\s*")
_CUT = re.compile(r"\s*\[… [\d,]+ characters cut …\]\s*$")


def normalized(text):
    """``text`` with its numbers left out (``…``), so that the same hint on other inputs is the same class."""
    return " ".join(_NUMBER.sub("…", text).split())


def hints(message):
    """The hints of a failed check's message, as ``(class, text)`` pairs, in order; ``[]`` without a hint.

    :func:`nnbook.grading.check_array` ends a message with ``Likely mistake:``
    and its hints, or, for a shape mismatch, gives the hint right after the two
    shapes. Built-in hints (several may follow one another) become their name
    in :data:`BUILT_IN_HINTS`; the hints of an exercise's own ``mistakes``
    (several only when one wrong answer matches several) are one class, their
    text without numbers.
    """
    message = _CUT.sub("", message)
    if "Likely mistake:" in message:
        text = message.split("Likely mistake:", 1)[1]
    else:
        found = _SHAPES.search(message)
        text = message[found.end():] if found else ""
    text = " ".join(text.split())
    if not text:
        return []
    starts = [match.start() for match in _BUILT_IN.finditer(text)]
    if not starts or starts[0] != 0:
        return [(normalized(text), text)]
    found = []
    for start, end in zip(starts, [*starts[1:], len(text)]):
        piece = text[start:end].strip()
        label = next(name for pattern, name in BUILT_IN_HINTS if re.match(pattern, piece))
        found.append((label, piece))
    return found


def mistake_classes(kind, message, assignment=""):
    """The mistake classes of one failed test: ``[(class, diagnosed)]`` from the error's ``kind`` and its message.

    ``kind`` is the error's name in the executed notebook (``AssertionError``,
    ``NotImplementedError``, ``NotRun``, ``TimeoutError``, a student's
    exception), or ``""`` when unknown (then guessed from the message).
    ``diagnosed`` is true for a hint of the diagnostics, false for a generic class.
    """
    message = message or ""
    if not kind:
        kind = ("NotRun" if message.startswith("This test could not run:")
                else "TimeoutError" if " did not return within " in message
                else "NotImplementedError" if assignment and message.startswith(f"{assignment}: ")
                else "AssertionError" if message else "")
    if kind == "NotImplementedError":
        return [(NOT_IMPLEMENTED, False)]
    if kind == "NotRun":
        timed_out = "ran out of time" in message or "did not finish in time" in message
        return [(OUT_OF_TIME if timed_out else KERNEL_DIED, False)]
    if kind in ("TimeoutError", "CellTimeoutError") and ("did not return within" in message or "timed out" in message):
        return [(OUT_OF_TIME, False)]
    if kind == "NoAnswer":
        return [(NO_ANSWER, False)]
    if not kind:
        return [(FAILED, False)]
    if kind != "AssertionError":
        return [(f"an exception: {kind}", False)]
    found = [(label, True) for label, _ in hints(message)]
    if "NaN or inf" in message:
        found.insert(0, (NAN, True))
    if found:
        return list(dict.fromkeys(found))
    if "in place (as `" in message:
        return [(IN_PLACE, True)]
    if "the package's own implementation" in message:
        return [(REFERENCE, True)]
    if _SHAPES.search(message + " ") or ": expected a single number, got" in message:
        return [(WRONG_SHAPE, False)]
    if (" must return " in message and " values, `return " in message) or "the function returned nothing" in message \
            or "is a tuple of" in message:
        return [(NOT_RETURNED, True)]
    return [(WRONG_VALUE, False)]


# -- the exercise and the results ------------------------------------------------------------------------------------


def functions_of(notebook):
    """The graded functions of a source notebook, in order: ``[{"name", "tests", "points"}]``, and its written answers.

    A function is a code answer cell (its grade id is its name); its tests are
    the test cells after it, up to the next answer cell. The written answers are
    the markdown answer cells graded by hand: ``[{"name", "points"}]``.
    """
    functions, written, current = [], [], None
    for cell in notebook.cells:
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if meta.get("solution"):
            current = None
            if cell.cell_type == "code" and meta.get("grade_id"):
                current = {"name": meta["grade_id"], "tests": [], "points": 0.0}
                functions.append(current)
            if meta.get("grade") and cell.cell_type == "markdown":
                written.append({"name": meta["grade_id"], "points": float(meta.get("points", 0))})
        elif meta.get("grade") and cell.cell_type == "code" and current is not None:
            current["tests"].append(meta["grade_id"])
            current["points"] += float(meta.get("points", 0))
    return functions, written


def error_kinds(course, assignment, student):
    """``{grade id: error name}`` of the failed tests in a student's executed notebooks (``{}`` when there are none)."""
    kinds = {}
    folder = autograde.course_paths(course, assignment)["work"] / "executed" / student
    for path in sorted(folder.glob("*.ipynb")) if folder.is_dir() else []:
        try:
            notebook = nbformat.read(path, as_version=4)
        except Exception:  # noqa: BLE001 (a missing kind is guessed from the message)
            continue
        for cell in notebook.cells:
            grade_id = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
            if grade_id and utils.is_grade(cell):
                for output in cell.get("outputs", []):
                    if output.get("output_type") == "error":
                        kinds[grade_id] = str(output.get("ename", ""))
    return kinds


def summarize(course, assignment, results):
    """What the report shows, from ``{student: result}`` (as ``results/<student>.json`` holds them).

    Returns ``{"assignment", "functions", "written", "max_score", "totals", "ran", "flagged", "failed"}``:
    each function with its tests, points, the students who ran it, those who passed, and its mistakes
    (``[{"mistake", "diagnosed", "students"}]``, most frequent first); ``totals`` ``{student: points}`` of the
    automatically graded tests (a submission refused or unreadable has 0, a grader error none).
    """
    source_folder = autograde.course_paths(course, assignment)["source"]
    functions, written = [], []
    for path in sorted(source_folder.glob("*.ipynb")):
        found, answers = functions_of(nbformat.read(path, as_version=4))
        functions += found
        written += answers
    tests = {test for function in functions for test in function["tests"]}
    totals, ran, flagged, failed = {}, [], [], []
    for function in functions:
        function.update(students=[], passed=[], mistakes={})
    for answer in written:
        answer.update(pending=0, unanswered=0, graded=0)
    for student, result in sorted(results.items()):
        cells = result.get("cells") or {}
        if result.get("flags"):
            flagged.append({"student": student, "status": result["status"], "flags": list(result["flags"])})
        if result.get("grader_error") or result.get("status") != "graded":
            reason = (result.get("reason") or "").strip().splitlines()
            failed.append({"student": student, "status": result.get("status", ""), "reason": reason[0][:500] if reason
                           else "", "grader_error": bool(result.get("grader_error"))})
        if result.get("grader_error"):
            continue
        totals[student] = sum(float(cells[test][0] or 0) for test in tests if test in cells)
        if not any(test in cells for test in tests):
            continue
        ran.append(student)
        kinds = error_kinds(course, assignment, student)
        for function in functions:
            function["students"].append(student)
            verdicts = [cells.get(test, [0.0, 0.0, ""]) for test in function["tests"]]
            if all(score is not None and float(score) >= float(points) for score, points, *_ in verdicts):
                function["passed"].append(student)
                continue
            classes = {}
            for test, (score, points, *rest) in zip(function["tests"], verdicts):
                if score is not None and float(score) >= float(points):
                    continue
                message = rest[0] if rest else ""
                for label, diagnosed in mistake_classes(kinds.get(test, ""), message, assignment):
                    classes.setdefault(label, diagnosed)
            for label, diagnosed in (classes or {FAILED: False}).items():
                entry = function["mistakes"].setdefault(label, {"mistake": label, "diagnosed": diagnosed,
                                                                "students": []})
                entry["students"].append(student)
        for answer in written:
            score = cells.get(answer["name"], [None])[0]
            answer["pending" if score is None else "unanswered" if float(score) == 0 else "graded"] += 1
    for function in functions:
        function["mistakes"] = sorted(function["mistakes"].values(), key=lambda entry: (
            -len(entry["students"]), not entry["diagnosed"], entry["mistake"]))
    return {"assignment": assignment, "functions": functions, "written": written, "totals": totals, "ran": ran,
            "max_score": sum(function["points"] for function in functions), "flagged": flagged, "failed": failed}


# -- the figures -----------------------------------------------------------------------------------------------------


def _png(figure):
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(figure)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100, metadata={"Software": None})
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def histogram_png(totals, max_score):
    """The distribution of the totals (base64 PNG), with the mean and the median as vertical lines."""
    from matplotlib.figure import Figure

    values = list(totals.values())
    figure = Figure(figsize=(7, 3.2))
    axes = figure.add_subplot()
    step = 1.0 if max_score <= 40 else max_score / 20
    edges = [-step / 2 + i * step for i in range(int(max_score / step) + 2)]
    axes.hist(values, bins=edges, color="#4c72b0", edgecolor="white")
    if values:
        axes.axvline(statistics.mean(values), color="#c44e52", linestyle="--",
                     label=f"mean {statistics.mean(values):.2f}")
        axes.axvline(statistics.median(values), color="#55a868", linestyle=":", linewidth=2,
                     label=f"median {statistics.median(values):g}")
        axes.legend(loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=2, frameon=False)
    axes.set_xlabel(f"points of the tests (of {max_score:g})")
    axes.set_ylabel("students")
    axes.yaxis.get_major_locator().set_params(integer=True)
    figure.tight_layout()
    return _png(figure)


def pass_rate_png(functions):
    """The pass rate of each function (base64 PNG), one horizontal bar each, labelled passed/students."""
    from matplotlib.figure import Figure

    figure = Figure(figsize=(7, 0.5 + 0.45 * max(len(functions), 1)))
    axes = figure.add_subplot()
    names = [function["name"] for function in functions][::-1]
    rates = [_rate(function) * 100 for function in functions][::-1]
    axes.barh(names, rates, color="#4c72b0")
    for y, function in enumerate(functions[::-1]):
        axes.text(1, y, f"{len(function['passed'])}/{len(function['students'])}", va="center", color="white"
                  if _rate(function) > 0.15 else "black")
    axes.set_xlim(0, 100)
    axes.set_xlabel("students who pass every test of the function (%)")
    figure.tight_layout()
    return _png(figure)


def _rate(function):
    return len(function["passed"]) / len(function["students"]) if function["students"] else 0.0


# -- the page and the CSVs -------------------------------------------------------------------------------------------


def _e(text):
    return html.escape(str(text), quote=True)


SHOWN_STUDENTS = 12  # a mistake made by more students lists them folded

STYLE = """
body { font-family: system-ui, sans-serif; max-width: 60rem; margin: 2rem auto; padding: 0 1rem; color: #222; }
table { border-collapse: collapse; margin: 0.5rem 0 1.5rem; }
th, td { border: 1px solid #ccc; padding: 0.25rem 0.6rem; text-align: left; vertical-align: top; }
td.count { text-align: right; font-variant-numeric: tabular-nums; }
.note { color: #555; }
img { max-width: 100%; }
details summary { cursor: pointer; }
"""


def render_html(summary, histogram, pass_rates):
    """The page: every text of a student escaped, the figures inline, no script."""
    assignment = summary["assignment"]
    totals = list(summary["totals"].values())
    parts = [f"<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
             f"<title>Class report: {_e(assignment)}</title><style>{STYLE}</style></head><body>",
             f"<h1>Class report: {_e(assignment)}</h1>",
             f"<p>{len(summary['totals'])} student(s), {len(summary['ran'])} of them whose notebook ran; "
             f"{len(summary['flagged'])} flagged; {len(summary['failed'])} failed, timed out or stopped.</p>",
             "<h2 id=\"scores\">Scores</h2>"]
    if totals:
        parts.append(f"<p>Points of the automatically graded tests, of {summary['max_score']:g}: "
                     f"mean <strong class=\"mean\">{statistics.mean(totals):.2f}</strong>, "
                     f"median <strong class=\"median\">{statistics.median(totals):g}</strong>, "
                     f"from {min(totals):g} to {max(totals):g}. A submission refused or unreadable counts 0; "
                     "late penalties are not applied here (the gradebook has them).</p>")
    for answer in summary["written"]:
        parts.append(f"<p class=\"note\">The written answer <code>{_e(answer['name'])}</code> "
                     f"({answer['points']:g} points) is graded by hand and not in these totals: pending for "
                     f"{answer['pending']} student(s), left unanswered by {answer['unanswered']}.</p>")
    parts.append(f"<img id=\"histogram\" alt=\"The distribution of the totals\" "
                 f"src=\"data:image/png;base64,{histogram}\">")
    parts.append("<h2 id=\"functions\">Pass rate of each function</h2><p class=\"note\">A student passes a function "
                 "when every test of it got full points; the rate is over the students whose notebook ran.</p>")
    parts.append(f"<img id=\"pass-rates\" alt=\"The pass rate of each function\" "
                 f"src=\"data:image/png;base64,{pass_rates}\">")
    parts.append("<table id=\"function-table\"><thead><tr><th>function</th><th>tests</th><th>points</th>"
                 "<th>students</th><th>passed</th><th>failed</th><th>pass rate</th></tr></thead><tbody>")
    for function in summary["functions"]:
        students, passed = len(function["students"]), len(function["passed"])
        parts.append(f"<tr data-function=\"{_e(function['name'])}\"><td><code>{_e(function['name'])}</code></td>"
                     f"<td class=\"count\">{len(function['tests'])}</td><td class=\"count\">{function['points']:g}</td>"
                     f"<td class=\"count\">{students}</td><td class=\"count passed\">{passed}</td>"
                     f"<td class=\"count failed\">{students - passed}</td>"
                     f"<td class=\"count\">{_rate(function):.0%}</td></tr>")
    parts.append("</tbody></table>")
    parts.append("<h2 id=\"mistakes\">Mistakes</h2><p class=\"note\">Read from the messages the students read in "
                 "their feedback: a <em>diagnosed</em> mistake is one the checks recognized (their \"Likely "
                 "mistake\"); a generic one is a failure without a hint. A student who made several mistakes in a "
                 "function counts once for each.</p>")
    parts.append("<table id=\"mistake-table\"><thead><tr><th>function</th><th>mistake</th><th>kind</th>"
                 "<th>students</th><th>who</th></tr></thead><tbody>")
    for function in summary["functions"]:
        for entry in function["mistakes"]:
            who = ", ".join(_e(student) for student in entry["students"])
            if len(entry["students"]) > SHOWN_STUDENTS:  # a long list folded (HTML's own details: no script)
                who = f"<details><summary>{len(entry['students'])} students</summary>{who}</details>"
            parts.append(f"<tr><td><code>{_e(function['name'])}</code></td><td class=\"mistake\">{_e(entry['mistake'])}"
                         f"</td><td>{'diagnosed' if entry['diagnosed'] else 'generic'}</td>"
                         f"<td class=\"count\">{len(entry['students'])}</td>"
                         f"<td class=\"who\">{who}</td></tr>")
    parts.append("</tbody></table>")
    parts.append("<h2 id=\"flagged\">Flagged submissions</h2><p class=\"note\">Each needs your look: a link, an "
                 "edited test, the reference used, a timestamp ignored, …</p>")
    parts.append(_table("flagged-table", ("student", "status", "flags"),
                        [(row["student"], row["status"], "; ".join(row["flags"])) for row in summary["flagged"]]))
    parts.append("<h2 id=\"failed\">Failed, timed out or stopped</h2>")
    parts.append(_table("failed-table", ("student", "status", "reason"),
                        [(row["student"], row["status"] + (" (grader error)" if row["grader_error"] else ""),
                          row["reason"]) for row in summary["failed"]]))
    parts.append("</body></html>\n")
    return "\n".join(parts)


def _table(identifier, header, rows):
    if not rows:
        return f"<p id=\"{identifier}\" class=\"note\">None.</p>"
    head = "".join(f"<th>{_e(name)}</th>" for name in header)
    body = "".join("<tr>" + "".join(f"<td>{_e(value)}</td>" for value in row) + "</tr>" for row in rows)
    return f"<table id=\"{identifier}\"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _write_csv(path, header, rows):
    with open(path, "w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(header)
        writer.writerows([[autograde.spreadsheet_safe(value) for value in row] for row in rows])


def write_report(course, assignment, results, folder):
    """Write the page and its two CSVs into ``folder``; return ``{"html", "functions", "mistakes"}``, their paths."""
    summary = summarize(course, assignment, results)
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths = {"html": folder / f"report_{assignment}.html", "functions": folder / f"report_{assignment}_functions.csv",
             "mistakes": folder / f"report_{assignment}_mistakes.csv"}
    page = render_html(summary, histogram_png(summary["totals"], summary["max_score"]),
                       pass_rate_png(summary["functions"]))
    autograde._write_atomically(paths["html"], page)
    _write_csv(paths["functions"], ("function", "tests", "points", "students", "passed", "failed", "pass_rate"),
               [(f["name"], len(f["tests"]), f["points"], len(f["students"]), len(f["passed"]),
                 len(f["students"]) - len(f["passed"]), round(_rate(f), 4)) for f in summary["functions"]])
    _write_csv(paths["mistakes"], ("function", "mistake", "kind", "students", "student_ids"),
               [(f["name"], entry["mistake"], "diagnosed" if entry["diagnosed"] else "generic", len(entry["students"]),
                 "; ".join(entry["students"])) for f in summary["functions"] for entry in f["mistakes"]])
    return paths


def main(argv=None):
    """``python -m nnbook.autograder.report exNN``: the report again, from the saved results, without grading."""
    parser = argparse.ArgumentParser(prog="python -m nnbook.autograder.report", description=main.__doc__)
    parser.add_argument("assignment", help="the assignment graded, e.g. ex01")
    parser.add_argument("--course", default=".", help="the course folder (default: here)")
    parser.add_argument("--report-dir", default=None, help="where to write the report (default: the course folder)")
    args = parser.parse_args(argv)
    course = Path(args.course).resolve()
    paths = autograde.course_paths(course, args.assignment)
    if not (paths["work"] / "results").is_dir():
        print(f"no results for {args.assignment!r} in {paths['work']}: run nnbook-autograde {args.assignment} first",
              file=sys.stderr)
        return 2
    students = autograde.submitted_students(course, args.assignment)
    results = autograde.saved_results(course, args.assignment, students)
    written = write_report(course, args.assignment, results, Path(args.report_dir) if args.report_dir else course)
    print(f"Report: {written['html']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
