"""Reading TorchServe's Prometheus text (the metrics port's /metrics)."""
from __future__ import annotations

import re


def metric_values(text: str, name: str, model: str) -> list[float]:
    """Every sample of `name` for `model` in Prometheus text (handler metrics label ModelName, TorchServe's own
    model_name)."""
    pattern = rf'^{name}\{{[^}}]*(?:ModelName|model_name)="{re.escape(model)}"[^}}]*\}} (\S+)$'
    return [float(m.group(1)) for m in re.finditer(pattern, text, re.M)]
