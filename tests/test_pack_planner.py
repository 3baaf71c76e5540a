"""The static arena planner: offsets for buffers with lifetimes, no overlaps, small peaks."""
from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dtmm.pack.planner import ArenaPlan, Buffer, PlanError, align_up, check_plan, lower_bound, plan_arena


def test_disjoint_lifetimes_share_memory():
    bufs = [Buffer("a", 100, 0, 1), Buffer("b", 100, 2, 3), Buffer("c", 100, 4, 4)]
    plan = plan_arena(bufs)
    assert plan.size == 112  # one aligned slot reused three times
    assert set(plan.offsets.values()) == {0}
    check_plan(bufs, plan)


def test_overlapping_lifetimes_do_not_share():
    bufs = [Buffer("a", 100, 0, 2), Buffer("b", 50, 1, 3), Buffer("c", 10, 2, 2)]
    plan = plan_arena(bufs)
    check_plan(bufs, plan)
    spans = sorted((plan.offsets[b.name], plan.offsets[b.name] + b.size) for b in bufs)
    for (a0, a1), (b0, b1) in zip(spans, spans[1:]):
        assert a1 <= b0
    assert plan.size == align_up(100, 16) + align_up(50, 16) + align_up(10, 16)


def test_offsets_are_16_byte_aligned_and_size_is_a_multiple():
    bufs = [Buffer(f"b{i}", 1 + 7 * i, i % 3, i % 3 + 1) for i in range(10)]
    plan = plan_arena(bufs)
    assert all(off % 16 == 0 for off in plan.offsets.values())
    assert plan.size % 16 == 0
    check_plan(bufs, plan)


def test_chain_reaches_lower_bound():
    # a typical sequential network: each tensor read by the next op only
    sizes = [3072, 16384, 16384, 8192, 8192, 4096, 640, 40]
    bufs = [Buffer(f"t{i}", s, i, i + 1) for i, s in enumerate(sizes)]
    plan = plan_arena(bufs)
    check_plan(bufs, plan)
    assert plan.size == plan.lower_bound == 32768


def test_residual_block_peak():
    # x -> conv1 -> conv2 -> add(x, .) : x stays live across the branch
    bufs = [
        Buffer("x", 1000, 0, 2),
        Buffer("y1", 1000, 0, 1),
        Buffer("y2", 1000, 1, 2),
        Buffer("sum", 1000, 2, 3),
        Buffer("scratch1", 64, 1, 1),
    ]
    plan = plan_arena(bufs)
    check_plan(bufs, plan)
    assert plan.size == plan.lower_bound == 3 * 1008 + 64  # x, y1, y2 and the scratch at step 1


def test_zero_size_buffers_and_empty_input():
    assert plan_arena([]).size == 0
    plan = plan_arena([Buffer("z", 0, 0, 5), Buffer("a", 32, 0, 5)])
    assert plan.size == 32
    assert plan.offsets["z"] == 0


def test_lower_bound_counts_simultaneously_live_bytes():
    bufs = [Buffer("a", 10, 0, 0), Buffer("b", 20, 0, 1), Buffer("c", 33, 1, 1)]
    assert lower_bound(bufs) == 16 + 32 + 48 - 16  # b + c at step 1 = 32 + 48
    assert lower_bound(bufs, alignment=1) == 53


@pytest.mark.parametrize(
    "bufs, message",
    [
        ([Buffer("a", 1, 0, 0), Buffer("a", 1, 1, 1)], "duplicate buffer name 'a'"),
        ([Buffer("a", -1, 0, 0)], "negative size"),
        ([Buffer("a", 1, 3, 2)], "ends .* before it starts"),
    ],
)
def test_bad_buffers_are_refused(bufs, message):
    with pytest.raises(PlanError, match=message):
        plan_arena(bufs)


def test_bad_alignment_is_refused():
    with pytest.raises(PlanError, match="power of two"):
        plan_arena([Buffer("a", 1, 0, 0)], alignment=12)


def test_check_plan_catches_overlaps_and_misalignment():
    bufs = [Buffer("a", 32, 0, 1), Buffer("b", 32, 1, 2)]
    with pytest.raises(PlanError, match="overlap"):
        check_plan(bufs, ArenaPlan({"a": 0, "b": 16}, 48, 64, "manual", 16))
    with pytest.raises(PlanError, match="not 16-byte aligned"):
        check_plan(bufs, ArenaPlan({"a": 0, "b": 40}, 80, 64, "manual", 16))
    with pytest.raises(PlanError, match="outside the arena"):
        check_plan(bufs, ArenaPlan({"a": 0, "b": 32}, 48, 64, "manual", 16))
    check_plan(bufs, ArenaPlan({"a": 0, "b": 32}, 64, 64, "manual", 16))


_buffer_sets = st.lists(
    st.tuples(st.integers(0, 5000), st.integers(0, 30), st.integers(0, 12)),
    min_size=0,
    max_size=40,
)


@settings(max_examples=300, deadline=None)
@given(_buffer_sets)
def test_property_no_overlap_and_peak_between_bounds(raw):
    bufs = [Buffer(f"b{i}", size, first, first + dur) for i, (size, first, dur) in enumerate(raw)]
    plan = plan_arena(bufs)
    check_plan(bufs, plan)  # no two simultaneously live buffers share a byte, all aligned, all inside
    total = sum(align_up(b.size, 16) for b in bufs)
    biggest = max((align_up(b.size, 16) for b in bufs), default=0)
    assert biggest <= plan.lower_bound <= plan.size <= total
    assert plan_arena(bufs) == plan  # deterministic


def test_random_restarts_fix_what_the_greedy_orders_miss():
    # sizes 16, 32, 16, 16, 32 in a chain: every fixed greedy order needs 64 bytes, 48 are enough
    bufs = [Buffer(f"t{i}", s, i, i + 1) for i, s in enumerate([1, 17, 1, 1, 17])]
    assert plan_arena(bufs, restarts=0).size == 64
    plan = plan_arena(bufs)
    check_plan(bufs, plan)
    assert plan.size == plan.lower_bound == 48
    assert plan.strategy.startswith("restart-")


@settings(max_examples=100, deadline=None)
@given(st.lists(st.integers(1, 4096), min_size=1, max_size=30))
def test_property_sequential_chains(sizes):
    bufs = [Buffer(f"t{i}", s, i, i + 1) for i, s in enumerate(sizes)]
    plan = plan_arena(bufs)
    check_plan(bufs, plan)
    assert plan.lower_bound <= plan.size <= sum(align_up(s, 16) for s in sizes)
