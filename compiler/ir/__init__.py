"""IR stage: SpecSet -> PipelineGraph, serialised to canonical, versioned JSON.

The graph holds one content-hashed DAG per model, plus rollout, monitoring and ownership facts.

Input: a SpecSet without errors. Output: `PipelineGraph`. Renderers and the runtime see
only this, never specs. `build_graph` is imported lazily: it needs the spec models (and so
pydantic), which a run served from the IR cache never loads.
"""

from compiler.ir.graph import IR_VERSION, ModelPipeline, PipelineGraph, Step, canonical_json, content_hash

__all__ = ["IR_VERSION", "ModelPipeline", "PipelineGraph", "Step", "build_graph", "canonical_json", "content_hash"]


def __getattr__(name: str):
    if name == "build_graph":
        from compiler.ir.build import build_graph

        return build_graph
    raise AttributeError(name)
