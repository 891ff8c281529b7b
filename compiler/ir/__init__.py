"""IR stage: SpecSet -> PipelineGraph (one content-hashed DAG per model, plus rollout,
monitoring and ownership facts), serialised to canonical, versioned JSON.

Input: a SpecSet without errors. Output: `PipelineGraph`. Renderers and the runtime see
only this, never specs.
"""

from compiler.ir.build import build_graph
from compiler.ir.graph import IR_VERSION, ModelPipeline, PipelineGraph, Step, canonical_json, content_hash

__all__ = ["IR_VERSION", "ModelPipeline", "PipelineGraph", "Step", "build_graph", "canonical_json", "content_hash"]
