from kubesat.engine.plugins.framework import FilterReason, PodShape
from kubesat.engine.plugins.node_ready import NodeReady
from tests.unit.engine.plugins.cases import everyone, fleet


def test_a_node_that_is_not_ready_is_rejected_as_not_ready():
    now = fleet(ready=[True, False])
    assert NodeReady().passes(now, PodShape(1), everyone(now)).tolist() == [True, False]
    assert NodeReady.reason is FilterReason.NOT_READY
    assert str(NodeReady.reason) == "node not ready"
    assert NodeReady.node_level
