"""Sentences from findings: the only place the reports' prose about results is written.

Stages store findings (``kind``, ``numbers``, ``sources``, ``refs``; see
``segment_report.pipeline.stages.findings``); :func:`drivers_sentences` and
:func:`geography_sentences` write one :class:`Sentence` per finding, printing only the
finding's numbers with ``segment_report.reports.formatting``. Reports pick sentences by
``kind`` (:func:`of_kind`), never by their wording.
"""

from segment_report.reports.narrative.drivers import drivers_sentences
from segment_report.reports.narrative.gates import gate_message, gates_reason
from segment_report.reports.narrative.geography import geography_sentences
from segment_report.reports.narrative.sentence import Sentence, numbers_in_text, of_kind

__all__ = ["Sentence", "drivers_sentences", "gate_message", "gates_reason", "geography_sentences",
           "numbers_in_text", "of_kind"]
