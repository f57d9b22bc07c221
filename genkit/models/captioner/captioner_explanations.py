"""What ``genkit explain`` shows of a captioner: where the decoder looks in the image for each word."""

from __future__ import annotations

import numpy as np

from genkit.tasks.explanations import ExplanationMethod, Figure, image_table_figure

MAX_EXPLAINED_WORDS = 8


def attention_explanation(model) -> ExplanationMethod:
    return ExplanationMethod(
        "attention", "each caption word's attention over the image grid, for test images",
        lambda data, num_samples, seed: attention_figures(model, data, num_samples, seed),
    )


def attention_figures(model, data, num_samples, seed):
    from genkit.models.captioner.attention_maps import MAP_SIZE, attention_image
    from genkit.models.captioner.captioner_samples import unit_range

    test = data.split(data.scored_split)
    images = np.asarray(test[model.image_input][: min(num_samples, 6)])
    pixels = np.round(unit_range(images) * 255).astype(np.uint8)
    results = model.caption_arrays(images, seed=seed)
    columns = 1 + MAX_EXPLAINED_WORDS
    table = np.zeros((len(images), columns, MAP_SIZE, MAP_SIZE, 3), np.float32)
    titles = [[""] * columns for _ in images]
    for row, (image, words, attention) in enumerate(zip(pixels, results["words"], results["attention"])):
        table[row, 0] = attention_image(image, np.ones(attention.shape[-1], np.float32)) / 255.0
        titles[row][0] = "image"
        for column, (word, weights) in enumerate(zip(words[:MAX_EXPLAINED_WORDS], attention), start=1):
            table[row, column] = attention_image(image, weights) / 255.0
            titles[row][column] = word
    references = [refs[0] for refs in test[model.text_input][: len(images)]]
    return [Figure(
        name="caption_attention", title="caption attention", method="attention",
        description=(f"Test images captioned by beam search (width {model.beam_width}); beside each image, every word of its "
                     "caption with the image darkened where the decoder's attention over the grid cells is low. "
                     f"Names of these images: {'; '.join(references)}."),
        png=image_table_figure("caption attention (lit: where each word looks)", table,
                               [f"{index + 1}" for index in range(len(images))], cell_titles=titles),
        arrays={"images": pixels, **{f"attention_{index}": np.asarray(a) for index, a in enumerate(results["attention"])}},
    )]
