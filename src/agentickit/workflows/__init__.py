"""Workflows: sequential, parallel, DAG and loop shapes of one scheduler; steps are anything agent-like.

```python
import agentickit as ak

wf = ak.DAGWorkflow("research")
wf.add_step("search", searcher).add_step("facts", checker, depends_on=["search"])
wf.add_step("style", stylist, depends_on=["search"]).add_step("write", writer, depends_on=["facts", "style"])
result = await wf.run("quantum batteries")     # facts and style run at the same time
```
"""

from ._context import WorkflowContext, current_context
from ._invoke import AgentLike, StepTarget
from ._result import StepResult, StepStatus, WorkflowResult
from ._shapes import DAGWorkflow, LoopWorkflow, ParallelWorkflow, SequentialWorkflow, Until
from ._step import Condition, Step, Transform
from ._stop import StopWorkflow, stop
from ._workflow import Workflow, WorkflowAgent

__all__ = (
    "AgentLike",
    "Condition",
    "DAGWorkflow",
    "LoopWorkflow",
    "ParallelWorkflow",
    "SequentialWorkflow",
    "Step",
    "StepResult",
    "StepStatus",
    "StepTarget",
    "StopWorkflow",
    "Transform",
    "Until",
    "Workflow",
    "WorkflowAgent",
    "WorkflowContext",
    "WorkflowResult",
    "current_context",
    "stop",
)
