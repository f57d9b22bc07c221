"""Decoding, in one home: choosing the next token, whole sequences in a TensorFlow graph (greedy, sampled, beam
search) over any one-step decoder, and the numpy loop over an exported step that export costs use.

Shared by every model that writes tokens (the language models, the captioner).
"""
