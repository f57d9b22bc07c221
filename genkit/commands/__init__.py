"""The ``genkit`` commands, one plain function each (``genkit.commands.train.train``, ``genkit.commands.sample.sample``,
``evaluate``, ``explain``, ``report``, ``info``): :mod:`genkit.cli` parses the flags and calls them. ``genkit export``
is :func:`exporters.export`."""
