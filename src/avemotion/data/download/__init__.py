"""Fetch a corpus into the layout `prepare` reads: `avemotion download CORPUS DIR` (docs/data.md).

sources.py: the corpora, their licences, file lists and layouts; fetch.py: resumable, verified,
retried transfers (HTTP Range, file://, mirrors); extract.py: safe, atomic zip extraction;
runner.py: the plan, the licence record, the free-space check and the run.
"""

from avemotion.data.download.runner import DownloadInterrupted, Result, make_plan, run
from avemotion.data.download.sources import CORPORA, Plan, get_corpus

__all__ = ["CORPORA", "DownloadInterrupted", "Plan", "Result", "get_corpus", "make_plan", "run"]
