import pytest

from kubesat.core.policy import POLICIES
from kubesat.engine.plugins.framework import PodShape
from kubesat.engine.plugins.registry import (
    CAPS,
    FILTERS,
    POD_DRAINS,
    POLICY_PLUGINS,
    SCORES,
    policy_named,
)
from tests.unit.engine.plugins.cases import fleet


def test_every_policy_is_a_list_of_registered_plugins():
    assert tuple(POLICY_PLUGINS) == POLICIES
    for name, plugins in POLICY_PLUGINS.items():
        for plugin in (*plugins.filters, *plugins.caps, *plugins.scores, *plugins.pod_drains):
            assert plugin in {*FILTERS, *CAPS, *SCORES, *POD_DRAINS}, (name, plugin)
        assert policy_named(name).name == name


def test_the_policies_keep_their_meaning():
    none, reactive, predictive = (policy_named(p) for p in POLICIES)
    assert not none.drains and none.reserve is None
    assert reactive.drains and reactive.keep is not None and reactive.keep.name == "EclipseDrain"
    assert predictive.keep is not None and predictive.keep.name == "RunwayDrain"
    assert predictive.reads_runway and not reactive.reads_runway
    # in penumbra: only reactive refuses the satellite
    now = fleet(illumination=[0.5])
    assert [p.feasible(now, PodShape(1)).tolist() for p in (none, reactive, predictive)] == [
        [True],
        [False],
        [True],
    ]


def test_an_unknown_policy_names_the_field():
    with pytest.raises(ValueError, match="policy: must be one of none, reactive, predictive"):
        policy_named("eager")
