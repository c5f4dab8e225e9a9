"""A question-answering assistant whose every sentence cites a verbatim source passage."""

__version__ = "0.1.0"
