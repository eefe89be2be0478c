from kubesat.engine.plugins.framework import FilterReason, PodShape
from kubesat.engine.plugins.node_ready import NODE_READY
from tests.unit.engine.plugins.cases import everyone, fleet


def test_a_node_that_is_not_ready_is_rejected_as_not_ready():
    now = fleet(ready=[True, False])
    assert NODE_READY.passes(now, PodShape(1), everyone(now)).tolist() == [True, False]
    assert NODE_READY.reason is FilterReason.NOT_READY
    assert str(NODE_READY.reason) == "node not ready"
    assert NODE_READY.node_level
