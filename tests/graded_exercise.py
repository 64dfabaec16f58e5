"""The checks that every graded exercise from ex04 on passes, written once.

An exercise's test module (``test_nbgrader_ex05.py``, …) describes its notebook
with :class:`Exercise`, writes its known mistakes and its made-up students, and
subclasses :class:`GradedExerciseChecks` with them. pytest then runs on that
exercise, besides the module's own tests:

* on the notebook: one point per test cell, a visible and a hidden test per
  graded quantity; stubs that name their task; test cells that call the graded
  function only through ``grading.call`` (a hidden test inside
  ``grading.hidden``); no line of a hidden test in the student version;
* in this process, without nbgrader: the right answers pass every test cell, and
  each known mistake loses exactly its function's cells (but those it does not
  reach) with a message that names it, a hidden test's with no number of the
  reference;
* after one ``nbgrader autograde`` run on a copy of the course: each student gets
  exactly the points of the functions they got right; the feedback names the
  mistakes and holds no line of a hidden test; the package's reference and an
  argument changed in place earn nothing and are named; ``export`` writes every
  total.
"""

import ast
import contextlib
import csv
import re
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import nbformat
import numpy as np
import pytest
from nbgrader_course import (
    ROOT,
    assert_ran_cleanly,
    assert_untouched_fails_only_with_its_stubs,
    autograded,
    cell_scores,
    cells_by_id,
    failures,
    grade_cells,
    make_course,
    nbgrader,
    page_text,
    secret_lines,
    submission,
    submit,
    written_answer,
)

#: what a hidden test's message may never hold: a number of the reference
REFERENCE_NUMBER = re.compile(r"(got|expected|relative error) -?\d")


@dataclass(frozen=True)
class Exercise:
    """A graded notebook: its assignment, its file, and for each graded function the quantities its tests check.

    Each quantity ``q`` has a visible test cell ``test_q`` and a hidden one ``test_q_hidden``, of one point each; the
    written answers are worth ``written_points`` more, graded by hand.
    """

    assignment: str
    notebook: str
    quantities: dict
    written_points: float = 2.0

    @property
    def functions(self):
        return tuple(self.quantities)

    @cached_property
    def cells_of(self):
        """``{function: its test cells}``, each visible test followed by its hidden test."""
        return {name: [f"test_{q}{suffix}" for q in quantities for suffix in ("", "_hidden")]
                for name, quantities in self.quantities.items()}

    @cached_property
    def grade_cells(self):
        return [cell for name in self.functions for cell in self.cells_of[name]]

    @property
    def automatic_points(self):
        return float(len(self.grade_cells))

    @property
    def title(self):
        return Path(self.notebook).stem

    def lost_cells(self, *functions, keep=()):
        """The test cells of ``functions`` but those of ``keep``: what a student loses with these functions wrong."""
        return {cell for function in functions for cell in self.cells_of[function]} - set(keep)

    def totals(self, students):
        """What the solution, the untouched notebook and each of ``students`` (``{student: (answers, lost)}``) get."""
        return {"solution": self.automatic_points, "untouched": 0.0,
                **{student: self.automatic_points - len(lost) for student, (_, lost) in students.items()}}

    def source(self):
        return nbformat.read(ROOT / "solutions" / self.assignment / self.notebook, as_version=4)

    def release(self):
        return nbformat.read(ROOT / "exercises" / self.assignment / self.notebook, as_version=4)

    def right_answers(self, source):
        """``{function: its cell}`` as an honest student writes it, from the solution notebook ``source``."""
        return {name: written_answer(cells_by_id(source)[name].source) for name in self.functions}

    def run_cells(self, source, answer, cells):
        """Run the setup cell, ``answer`` (a student's code) and the test ``cells`` here.

        Returns ``{cell: its error message, or None}``.
        """
        namespace = {"__name__": f"{self.assignment}_student"}
        exec(compile(cells_by_id(source)["setup"].source, "<setup>", "exec"), namespace)  # noqa: S102 (our notebook)
        exec(compile(answer, "<student>", "exec"), namespace)  # noqa: S102 (the test's own made-up answers)
        outcome = {}
        for grade_id in cells:
            try:  # the mistakes' 0 / 0 and sqrt(-1) print nothing
                with contextlib.redirect_stdout(None), np.errstate(all="ignore"):
                    exec(compile(cells_by_id(source)[grade_id].source, grade_id, "exec"), namespace)  # noqa: S102
                outcome[grade_id] = None
            except AssertionError as error:
                outcome[grade_id] = str(error)
        return outcome

    def grade(self, course, source, students):
        """In the empty folder ``course``: the course with this exercise generated; the solution, the untouched
        notebook and ``students`` submitted, autograded, their feedback generated and exported. Returns
        ``(course, {student: {test cell: score}})``."""
        make_course(course, [self.assignment])
        release = nbformat.read(course / "exercises" / self.assignment / self.notebook, as_version=4)
        answers = self.right_answers(source)
        submit(course, self.assignment, "solution", self.notebook, source)
        submit(course, self.assignment, "untouched", self.notebook, release)
        for student, (own, _) in students.items():
            submit(course, self.assignment, student, self.notebook, submission(release, {**answers, **own}))
        nbgrader(course, "autograde", self.assignment)
        nbgrader(course, "generate_feedback", self.assignment)
        nbgrader(course, "export", "--to=grades.csv")
        return course, cell_scores(course, self.assignment, list(self.totals(students)))

    def feedback_page(self, course, student):
        return (course / "feedback" / student / self.assignment / f"{self.title}.html").read_text()


def mistake_descriptions(source):
    """The descriptions of known mistakes in the code ``source`` of a test cell: the keys of the dicts given to
    ``grading.check_array`` as ``mistakes=``, written in the call or assigned to the name passed."""
    tree = ast.parse(source)
    keywords = [keyword for node in ast.walk(tree) if isinstance(node, ast.Call)
                for keyword in node.keywords if keyword.arg == "mistakes"]
    names = {keyword.value.id for keyword in keywords if isinstance(keyword.value, ast.Name)}
    tables = [keyword.value for keyword in keywords if isinstance(keyword.value, ast.Dict)]
    tables += [node.value for node in ast.walk(tree)
               if isinstance(node, ast.Assign) and isinstance(node.value, ast.Dict)
               and any(isinstance(target, ast.Name) and target.id in names for target in node.targets)]
    return {key.value for table in tables for key in table.keys
            if isinstance(key, ast.Constant) and isinstance(key.value, str)}


def description(source, start):
    """The one description of a known mistake in the notebook ``source`` that begins with ``start``."""
    texts = set()
    for cell in source.cells:
        texts.update(re.findall(r'^\s*"(' + re.escape(start) + r'[^"]*)":$', cell.source, flags=re.M))
    (text,) = texts
    return text


class GradedExerciseChecks:
    """The tests of a graded exercise; a test module subclasses this (as ``Test…``) and sets the attributes below."""

    #: the notebook
    exercise: Exercise
    #: ``{name: (function, its source with the mistake, the start of the description the tests give, the cells whose
    #: message must name it, or None for all)}``: every cell of the function is lost but those of ``kept[name]``
    mistakes: dict
    kept: dict = {}
    #: ``{student: ({function: source} in place of the right answer, the cells lost)}``; every other answer is right
    students: dict
    #: ``(student, cell, the start of the message as a regular expression, the start of the mistake's description)``
    feedback: list
    #: a test cell the untouched notebook fails, and the function its stub names
    untouched_failure: tuple
    #: ``{function: the module of the package it borrows}`` for the student ``reference``
    borrowed: dict
    #: ``(function, argument)`` that the student ``in_place`` changes
    in_place: tuple
    #: fewer lines of hidden tests than this, and the leak tests would prove little
    min_hidden_lines: int = 30

    def pytest_generate_tests(self, metafunc):
        if metafunc.function.__name__ == "test_the_feedback_names_the_mistake":
            metafunc.parametrize("student, cell, message, hint", self.feedback)
        elif "student" in metafunc.fixturenames:
            metafunc.parametrize("student", sorted(self.students))
        if "mistake" in metafunc.fixturenames:
            metafunc.parametrize("mistake", sorted(self.mistakes))

    @pytest.fixture(scope="class")
    @classmethod
    def source(cls):
        return cls.exercise.source()

    @pytest.fixture(scope="class")
    @classmethod
    def descriptions(cls, source):
        """Every description of a known mistake in the test cells."""
        cells = cells_by_id(source)
        return set().union(*(mistake_descriptions(cells[grade_id].source) for grade_id in cls.exercise.grade_cells))

    @pytest.fixture(scope="class")
    @classmethod
    def graded(cls, tmp_path_factory, source):
        return cls.exercise.grade(tmp_path_factory.mktemp("course"), source, cls.students)

    # ---- the notebook itself ---------------------------------------------------------------------------------------

    def test_the_grade_cells_are_worth_a_point_each(self, source):
        assert grade_cells(source) == self.exercise.grade_cells
        cells = cells_by_id(source)
        assert [cells[grade_id].metadata.nbgrader["points"] for grade_id in self.exercise.grade_cells] == [1] * len(
            self.exercise.grade_cells)

    def test_every_stub_names_its_task(self):
        release = cells_by_id(self.exercise.release())
        for name in self.exercise.functions:
            (function,) = ast.parse(release[name].source).body
            docstring, stub = function.body
            assert function.name == name and isinstance(docstring.value, ast.Constant), name
            assert ast.unparse(stub) == f"raise NotImplementedError('{self.exercise.assignment}: {name}')", name

    def test_every_test_cell_calls_the_graded_function_through_grading_call(self, source):
        """Only `grading.call("<name>", <name>, ...)`, never a direct call; a hidden test inside `grading.hidden`."""
        for function, cells in self.exercise.cells_of.items():
            for grade_id in cells:
                tree = ast.parse(cells_by_id(source)[grade_id].source)
                calls = [node for node in ast.walk(tree) if isinstance(node, ast.Call)]
                through = {(call.args[0].value, ast.unparse(call.args[1])) for call in calls
                           if ast.unparse(call.func) == "grading.call"}
                assert through == {(function, function)}, grade_id
                direct = [call for call in calls if getattr(call.func, "id", None) in self.exercise.functions]
                assert not direct, f"{grade_id} calls a student's function directly"
                hidden = [node for node in ast.walk(tree) if isinstance(node, ast.With)
                          and any(ast.unparse(item.context_expr.func) == "grading.hidden" for item in node.items)]
                assert bool(hidden) == grade_id.endswith("_hidden"), grade_id

    def test_no_line_of_a_hidden_test_is_in_the_student_version(self, source):
        """The leak tests look for each line of the hidden tests in the pages: none may be part of what students see,
        in the notebook as released or in the code an honest student writes (the feedback shows it)."""
        hidden = secret_lines(source, regions=("HIDDEN TESTS",))
        assert len(hidden) >= self.min_hidden_lines
        shown = "\n".join(cell.source for cell in self.exercise.release().cells)
        answers = "\n".join(self.exercise.right_answers(source).values())
        assert sorted(line for line in hidden if line in shown or line in answers) == []

    # ---- every known mistake is named, in this process -------------------------------------------------------------

    def test_the_right_answers_pass_every_test_here(self, source):
        answers = "\n".join(self.exercise.right_answers(source).values())
        cells = self.exercise.grade_cells
        assert self.exercise.run_cells(source, answers, cells) == dict.fromkeys(cells)

    def test_a_known_mistake_loses_its_cells_and_is_named(self, source, descriptions, mistake):
        function, answer, start, named = self.mistakes[mistake]
        (text,) = [text for text in descriptions if text.startswith(start)]
        cells = self.exercise.cells_of[function]
        outcome = self.exercise.run_cells(source, answer, cells)
        assert {cell for cell, error in outcome.items() if error} == set(cells) - self.kept.get(mistake, set()), outcome
        for cell in named or cells:
            # "Likely mistake: " before the description, or right after a wrong shape
            assert re.search(r"(Likely mistake: |, got shape \([\d, ]+\)\. )" + re.escape(text) + "$", outcome[cell]), (
                cell, outcome[cell])
            if cell.endswith("_hidden"):  # only what is wrong and where: no number of the reference
                assert any(where in outcome[cell] for where in (
                    "wrong values, the largest difference at index", "expected shape", "NaN or inf")), outcome[cell]
                assert not REFERENCE_NUMBER.search(outcome[cell]), outcome[cell]

    def test_each_description_has_exactly_one_mistake(self, descriptions):
        starts = [start for _, _, start, _ in self.mistakes.values()]
        assert sorted(text for text in descriptions if not any(text.startswith(start) for start in starts)) == []
        for start in starts:
            assert len([text for text in descriptions if text.startswith(start)]) == 1, start

    # ---- autograde -------------------------------------------------------------------------------------------------

    def test_the_solution_gets_full_marks(self, graded):
        course, scores = graded
        assert scores["solution"] == dict.fromkeys(self.exercise.grade_cells, 1.0)
        assert_ran_cleanly(autograded(course, self.exercise.assignment, "solution", self.exercise.notebook))

    def test_the_untouched_student_version_gets_zero_and_fails_only_with_not_implemented(self, graded):
        course, scores = graded
        failed = assert_untouched_fails_only_with_its_stubs(course, self.exercise.assignment, self.exercise.notebook,
                                                            scores["untouched"], self.exercise.grade_cells)
        cell, function = self.untouched_failure
        assert failed[cell][1] == f"{self.exercise.assignment}: {function}"

    def test_each_student_gets_exactly_the_points_of_the_functions_right(self, graded, student):
        _, scores = graded
        lost = self.students[student][1]
        assert scores[student] == {cell: float(cell not in lost) for cell in self.exercise.grade_cells}

    def test_the_feedback_names_the_mistake(self, graded, source, student, cell, message, hint):
        course, _ = graded
        ename, evalue = self.failures(course, student)[cell]
        assert ename == "AssertionError"
        assert re.match(message, evalue), evalue
        assert evalue.endswith(description(source, hint)), evalue
        assert description(source, hint) in page_text(self.exercise.feedback_page(course, student)), (student, cell)

    def test_the_package_reference_in_place_of_an_answer_earns_nothing(self, graded):
        course, _ = graded
        failed = self.failures(course, "reference")
        for name, module in self.borrowed.items():
            for grade_id in self.exercise.cells_of[name]:
                ename, evalue = failed[grade_id]
                assert ename == "AssertionError", grade_id
                assert evalue.startswith(f"{name} calls {module}.") and "the package's own implementation" in evalue, (
                    evalue)

    def test_an_argument_changed_in_place_is_named(self, graded):
        course, _ = graded
        function, argument = self.in_place
        failed = self.failures(course, "in_place")
        for grade_id in self.exercise.cells_of[function]:
            message = failed[grade_id][1]
            assert message.startswith(f"{function} changed its argument {argument} in place"), message

    def test_no_hidden_message_gives_a_number_of_the_reference(self, graded):
        course, _ = graded
        for student in self.students:
            for grade_id, (ename, evalue) in self.failures(course, student).items():
                if grade_id.endswith("_hidden") and ename == "AssertionError":
                    assert not REFERENCE_NUMBER.search(evalue), (student, grade_id, evalue)

    def test_feedback_is_generated_for_every_student_without_hidden_code(self, graded, source):
        course, scores = graded
        hidden = secret_lines(source, regions=("HIDDEN TESTS",))
        out_of = self.exercise.automatic_points + self.exercise.written_points
        for student, cells in scores.items():
            text = self.exercise.feedback_page(course, student)
            assert f"{self.exercise.title} (Score: {sum(cells.values()):.1f} / {out_of:.1f})" in text, student
            leaked = sorted(line for line in hidden if line in text)
            assert not leaked, (student, leaked[:3])

    def test_export_writes_the_scores_of_every_student(self, graded):
        course, _ = graded
        with open(course / "grades.csv", newline="") as file:
            rows = {row["student_id"]: row for row in csv.DictReader(file)}
        assert {student: float(row["score"]) for student, row in rows.items()} == self.exercise.totals(self.students)
        assert {row["assignment"] for row in rows.values()} == {self.exercise.assignment}
        out_of = self.exercise.automatic_points + self.exercise.written_points  # the written answers are graded by hand
        assert {float(row["max_score"]) for row in rows.values()} == {out_of}

    def failures(self, course, student):
        """``{grade cell: (ename, evalue)}`` of the cells of ``student``'s autograded notebook that raised."""
        return failures(course, self.exercise.assignment, student, self.exercise.notebook)
