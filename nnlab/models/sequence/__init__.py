"""Recurrent networks: hand-written cells (``cells``), the switchable stack (``recurrent``), and the models
registered in ``SEQUENCE_MODELS`` (``models``)."""
from nnlab.models.sequence.cells import gru_cell, lstm_cell, rnn_cell, unroll
from nnlab.models.sequence.models import SEQUENCE_MODELS, SequenceModel
from nnlab.models.sequence import captioner, seq2seq  # noqa: F401  (register captioner, seq2seq)
from nnlab.models.sequence.recurrent import Recurrent

__all__ = ["SEQUENCE_MODELS", "SequenceModel", "Recurrent", "rnn_cell", "lstm_cell", "gru_cell", "unroll"]
