"""What every exercise's adversarial corpus shares: the :class:`Case` of a made-up student, and the file-level attacks.

A :class:`Case` is a student: what they hand in (the solution cells by grade
id, the other cells as released; or a file that is not a notebook, a link, a
folder, a FIFO; extra files and links beside it; cells added at the end; a
``timestamp.txt``) and the asserted outcome (the test cells that earn nothing,
every other one earning its point; the status of the run; what the CSV gives as
the reason and the flags; what the feedback must say and must never say; what
the instructor's autograded copy must show). ``COURSE`` in an answer is the
absolute path of the course being graded: the attacker is assumed to know where
everything is.

:func:`file_attacks` gives the attacks that do not depend on the exercise:
links to the solution or to another student's submission, a hard link, a
folder or a FIFO in place of the notebook, links to the student's folders,
extra files beside the notebook (links to ``gradebook.db`` and the solutions
included), markup and JavaScript in outputs and markdown, hidden inputs
stashed and printed later, a ``BEGIN HIDDEN TESTS`` comment, a timestamp that
is not a date, glob and formula student ids, a renamed notebook.

``tests/test_autograde_corpus.py`` grades each exercise's corpus in one run.
"""

import ast
import dataclasses
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[2]


@dataclasses.dataclass
class Case:
    student: str
    what: str
    answers: dict = None  # grade id -> source (None for the released stub); None: every answer right
    lost: set = dataclasses.field(default_factory=set)
    status: str = "graded"
    feedback: tuple = ()  # in the feedback's text
    flags: tuple = ()  # in the CSV's flags (none at all when empty)
    files: dict = dataclasses.field(default_factory=dict)  # extra files beside the notebook: name -> text
    locked_edits: dict = dataclasses.field(default_factory=dict)  # grade id -> new source, or None to delete the cell
    strip_metadata: tuple = ()
    raw: str = None  # the whole file handed in, when it is not a notebook
    reason: str = ""  # in the CSV's reason
    layout: str = "file"  # file, symlink, hardlink, directory, fifo, folder_link, assignment_link
    target: str = None  # what a link points to: "solution", "honest", "gradebook"
    name: str = None  # the notebook's file name, when not the exercise's (renamed)
    links: dict = dataclasses.field(default_factory=dict)  # extra symbolic links beside the notebook: name -> target
    timestamp: str = None  # the text of timestamp.txt
    extra_cells: tuple = ()  # cells added at the end: (cell type, source, metadata)
    notebook_metadata: dict = dataclasses.field(default_factory=dict)
    metadata_edits: dict = dataclasses.field(default_factory=dict)  # grade id -> {nbgrader key: value}
    autograded: tuple = ()  # in the outputs of the autograded notebook (the instructor's copy)
    absent: tuple = ()  # never in the feedback's HTML
    csv_id: str = None  # the student id as the CSV writes it, when not ``student``


def read_exercise(assignment, notebook):
    """The source notebook, the functions (code solution cells' grade ids), the test cells and the right answers.

    The written answer (a markdown cell graded by hand) is neither: the corpus leaves it as released.
    """
    source = nbformat.read(ROOT / "solutions" / assignment / notebook, as_version=4)
    functions, grade_cells, correct = [], [], {}
    for cell in source.cells:
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("solution"):
            if cell.cell_type == "code":
                functions.append(meta["grade_id"])
                correct[meta["grade_id"]] = written_answer(cell.source)
        elif meta.get("grade"):
            grade_cells.append(meta["grade_id"])
    return source, tuple(functions), tuple(grade_cells), correct


def written_answer(source):
    """A solution cell as a student would write it: without nbgrader's markers and the unreachable stub."""
    skipped = ("### BEGIN SOLUTION", "### END SOLUTION", "raise NotImplementedError")
    return "\n".join(line for line in source.splitlines() if not any(mark in line for mark in skipped))


def tests_of(source, function):
    """The test cells that use the student's ``function``: its name as a name in their code (not an import alias)."""
    cells = set()
    for cell in source.cells:
        meta = cell.metadata.get("nbgrader", {})
        if not meta.get("grade") or meta.get("solution"):
            continue
        try:
            tree = ast.parse(cell.source)
        except SyntaxError:
            continue
        if any(isinstance(node, ast.Name) and node.id == function for node in ast.walk(tree)):
            cells.add(meta["grade_id"])
    return cells


def stashing(function):
    """Code that wraps the (right) ``function`` so that it keeps every input it is given, hidden ones included."""
    return f'''
_stash = []
_honest_{function} = {function}

def {function}(*args, **kwargs):
    _stash.append(repr(args)[:300])
    return _honest_{function}(*args, **kwargs)
'''


SCRIPT = "<script>document.title = 'PWNED'; alert('pwned')</script>"
MARKUP_CELL = f'''
print("STASHED", _stash[-10:])  # hidden inputs the wrapped function kept, printed after the hidden tests


class Page:  # displayed as HTML, JavaScript and markdown, with no import
    def _repr_html_(self):
        return "{SCRIPT}<iframe src='javascript:alert(1)'></iframe><img src=x onerror=alert(1)>"

    def _repr_javascript_(self):
        return "alert('js')"

    def _repr_markdown_(self):
        return "[click](javascript:alert(1)) <svg onload=alert(1)>"


display(Page())
Page()
'''
MARKDOWN_ATTACK = f"""# My notes

{SCRIPT}

<img src=x onerror="alert('md')"> [click me](javascript:alert('link')) <iframe src="https://example.org"></iframe>

<a href="javascript:alert('a')" onmouseover="alert('hover')">hover</a> $x$ and `code`
"""
RAW_ATTACK = "<script>alert('raw')</script><img src=x onerror=alert('raw')>"
INJECTED_TAG = 'x" onmouseover="alert(\'tag\')'
#: What none of the markup cases' feedback may contain.
MARKUP_ABSENT = ("STASHED [",)  # what the last cell printed; the rest is text, never markup (the corpus parses it)


def file_attacks(assignment, notebook, functions, grade_cells, correct):
    """The attacks of every exercise that concern the file handed in, its folder, its id and its markup.

    ``correct`` are the right answers (``{grade id: source}``); the students who
    are graded hand them in, so that each attack earns full marks or nothing.
    """
    everything = set(grade_cells)
    first = functions[0]
    renamed = notebook.replace(".ipynb", " (1).ipynb")
    return [
        Case("symlink_solution", "the notebook is a symbolic link to the solution", layout="symlink",
             target="solution", status="failed", lost=everything, reason=f"{notebook} is a symbolic link",
             feedback=("is a symbolic link",)),
        Case("symlink_other", "the notebook is a symbolic link to another student's submission", layout="symlink",
             target="honest", status="failed", lost=everything, reason=f"{notebook} is a symbolic link"),
        Case("hardlink_solution", "the notebook is a hard link to the solution", layout="hardlink", target="solution",
             status="failed", lost=everything, reason="has 2 names (hard links)", feedback=("hard links",)),
        Case("folder_link", "the student's folder is a symbolic link to another student's", layout="folder_link",
             target="honest", status="failed", lost=everything, reason="submitted/folder_link is a symbolic link"),
        Case("assignment_link", f"submitted/<student>/{assignment} is a symbolic link to another student's",
             layout="assignment_link", target="honest", status="failed", lost=everything,
             reason=f"submitted/assignment_link/{assignment} is a symbolic link"),
        Case("directory", "the notebook is a folder (holding a copy of the solution)", layout="directory",
             status="failed", lost=everything, reason=f"{notebook} is a folder"),
        Case("fifo", "the notebook is a named pipe, which blocks whoever reads it", layout="fifo", status="failed",
             lost=everything, reason=f"{notebook} is a named pipe (FIFO)"),
        Case("extra_files", "files and links beside the notebook: to gradebook.db, to the solution, a folder",
             files={"notes.txt": "my notes", "data/more.txt": "more", "helper.py": "print('HELPER RAN')"},
             links={"gradebook.db": "gradebook", "solution.ipynb": "solution", "peek.txt": "/etc/hostname"}),
        Case("markup", "HTML, JavaScript and markdown in outputs, markdown and raw cells; hidden inputs stashed "
             "and printed after the hidden tests; a cell tag that breaks out of its attribute",
             answers={**correct, first: correct[first] + "\n" + stashing(first)},
             extra_cells=(("markdown", MARKDOWN_ATTACK, {}), ("raw", RAW_ATTACK, {"raw_mimetype": "text/html"}),
                          ("code", MARKUP_CELL, {"tags": [INJECTED_TAG]})),
             notebook_metadata={"widgets": {"application/vnd.jupyter.widget-state+json": {
                 "state": {}, "version_major": 2, "version_minor": 0}}, "title": SCRIPT},
             autograded=("STASHED [", SCRIPT, "alert('js')"), absent=MARKUP_ABSENT, feedback=("My notes",)),
        Case("hidden_marker", "a comment ### BEGIN HIDDEN TESTS, never closed, in a solution cell",
             answers={**correct, first: "# ### BEGIN HIDDEN TESTS (a note to myself)\n" + correct[first]}),
        Case("bad_timestamp", "a timestamp.txt that is not a date", timestamp="yesterday, around noon",
             flags=("timestamp.txt ignored",)),
        Case("*", "the student id * (nbgrader takes ids as glob patterns: every other student)", status="failed",
             lost=everything, reason="glob character"),
        Case("=1+1", "a student id that is a spreadsheet formula", csv_id="'=1+1"),
        Case("renamed", "the notebook handed in under another name", name=renamed, status="failed",
             lost=everything, reason=f"notebook not found: expected {notebook}, got {renamed}",
             feedback=("notebook not found",)),
    ]


def exercise_cases(assignment, notebook):
    """The corpus of an exercise without attacks of its own: an honest student, the untouched notebook (whose
    feedback shows the stub of its first function) and the file-level attacks. Returns ``(source, functions,
    grade_cells, correct, cases)``."""
    source, functions, grade_cells, correct = read_exercise(assignment, notebook)
    cases = [
        Case("honest", "every answer right: full marks, no flag"),
        Case("untouched", "the released notebook, stubs only", answers={}, lost=set(grade_cells),
             feedback=("NotImplementedError", f"{assignment}: {functions[0]}")),
        *file_attacks(assignment, notebook, functions, grade_cells, correct),
    ]
    return source, functions, grade_cells, correct, cases
