"""What ``genkit report`` builds a page from, free of runs and models: figures, images and HTML.

``figures`` draws the training curves (matplotlib to inline SVG), ``images`` makes image files small
enough to inline as data: URIs, ``page`` writes the HTML (tables, the epoch slider, the stylesheet).
``genkit.commands.report`` reads the run folders and puts these together.
"""
