"""``synthgen qa``: annotators scored on gold tasks, and their agreement where tasks overlap.

The work is ``synthgen.annotate.qa_report.write_qa_report``; this command builds its settings from the config.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from omegaconf import DictConfig

from synthgen.annotate.qa_report import QaSettings, write_qa_report
from synthgen.registry import build_settings

__all__ = ["QaSettings", "qa"]


def qa(cfg: DictConfig | Mapping) -> Path:
    """Run ``synthgen qa`` as configured (conf/qa.yaml); returns what it wrote."""
    return write_qa_report(build_settings(QaSettings, cfg, "qa"))
