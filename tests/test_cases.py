"""bench.cases: a case's name and its parse are inverses; cases are enumerated by one rule."""

from __future__ import annotations

import pytest

from bench.cases import Case, enumerate_cases, split_name
from bench.methods import METHODS
from bench.profiles import PROFILES, build_cases


@pytest.mark.parametrize("profile", sorted(PROFILES))
def test_every_case_of_every_profile_parses_back_from_its_name(profile):
    cases = build_cases(PROFILES[profile], METHODS, ["cpu", "cuda"])
    assert cases
    for case in cases:
        assert Case.parse(case.name) == case


def test_a_name_written_by_hand_parses_to_its_parts():
    case = Case.parse("explicit-torch-warm[cuda-bfloat16-N64-D4096-M1024]")
    assert case == Case("explicit-torch", "warm", "cuda", "bfloat16", 64, 4096, 1024)
    assert Case.parse("formula-numpy[cpu-float64-N2-D3-M5]").variant == ""


@pytest.mark.parametrize(
    ("name", "says"),
    [
        ("explicit-torch-warm", "not a case name"),
        ("explicit-torch[cpu-float32-N1-D2]", "not a case name"),
        ("explicit-torch[cpu-float32-N1-D2-M3]x", "not a case name"),
        ("magic-torch[cpu-float32-N1-D2-M3]", "no known method"),
        ("explicit-torch-hot[cpu-float32-N1-D2-M3]", "has no variant 'hot'"),
        ("formula-numpy[cpu-float16-N1-D2-M3]", "cannot run in float16"),
    ],
)
def test_a_name_that_is_no_case_is_refused_saying_why(name, says):
    with pytest.raises(ValueError, match=says):
        Case.parse(name)


def test_split_name_keeps_a_method_this_tree_does_not_have():
    assert split_name("old-torch-warm[cpu-float32-N1-D2-M3]") == ("old-torch-warm", "cpu", "float32", 1, 2, 3)


def test_enumeration_keeps_numpy_on_the_cpu_and_out_of_half_precision():
    cases = enumerate_cases(
        ["formula-numpy", "formula-torch"], ["cpu", "cuda"], ["float32", "bfloat16"], lambda f: [(2, 3, 5)]
    )
    numpy = {(c.variant, c.device, c.dtype) for c in cases if c.method == "formula-numpy"}
    torch = {(c.variant, c.device, c.dtype) for c in cases if c.method == "formula-torch"}
    assert numpy == {("", "cpu", "float32"), ("warm", "cpu", "float32")}
    assert len(torch) == 2 * 2 * 2  # variants × devices × dtypes
    assert {(c.n, c.d, c.m) for c in cases} == {(2, 3, 5)}


def test_enumeration_takes_each_familys_own_points():
    points = {"explicit": [(1, 2, 3), (4, 5, 6)]}
    cases = enumerate_cases(
        ["explicit-torch", "formula-torch"], ["cpu"], ["float32"], lambda f: points.get(f, [])
    )
    assert [c.name for c in cases] == [
        "explicit-torch-cold[cpu-float32-N1-D2-M3]",
        "explicit-torch-cold[cpu-float32-N4-D5-M6]",
        "explicit-torch-warm[cpu-float32-N1-D2-M3]",
        "explicit-torch-warm[cpu-float32-N4-D5-M6]",
    ]
