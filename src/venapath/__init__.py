"""VenaPath: decision support and care pathways for venous thrombosis.

The public surface of the decision core is re-exported here; everything else is an
implementation detail that may move between releases.
"""

from venapath.domain.case import Case
from venapath.engine.assessment import Assessment
from venapath.engine.evaluate import evaluate
from venapath.kb.loader import load_knowledge_base
from venapath.kb.model import KnowledgeBase

__all__ = ["Assessment", "Case", "KnowledgeBase", "evaluate", "load_knowledge_base"]
__version__ = "0.1.0"
