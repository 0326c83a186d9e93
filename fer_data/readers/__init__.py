"""Readers: every common FER2013 distribution becomes one
:class:`~fer_data.readers.result.ParsedFaces`.

One module per format: the Kaggle CSV (``fer_data.fer_csv``: ``fer2013.csv`` or
``icml_face_data.csv``, plain or gzip), tar / zip archives holding one of them
(:mod:`~fer_data.readers.archive`) and ``train/<emotion>/*`` + ``test/<emotion>/*`` image folders
(:mod:`~fer_data.readers.image_folder`). :mod:`~fer_data.readers.sniff` tells them apart by content,
:mod:`~fer_data.readers.read` dispatches, and :mod:`~fer_data.readers.checks` is the one validation
every reader's result goes through before ingest writes anything.

This package's ``__init__`` imports nothing, so ``fer_data.fer_csv`` can import
:mod:`~fer_data.readers.result` without a cycle.
"""
