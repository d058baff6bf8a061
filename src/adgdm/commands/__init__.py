"""What the ``adgdm`` commands do, as plain functions over :class:`adgdm.Pipeline` (``adgdm.cli`` only
parses flags and prints): ``fit``, ``score``, ``detect``, ``generate``, ``report`` and ``info``. Each raises
``ValueError``/``FileNotFoundError`` with a one-line message on bad input and writes its output
atomically (a temporary file or folder beside the target, then a rename)."""
