"""Tiny configs of every registered model for the shared family harness (tests/models/test_families.py).

``set``: ``--set`` items that make the model tiny; ``dataset``: which tiny data set fixture it trains on
("npz": 256 labelled Fashion-MNIST images, the ``tiny_npz`` fixture; "text": the ``tiny_text`` fixture).
Every registered model must have an entry: the harness fails for one that has none.
"""

# The VAE and autoencoder families (vae, beta-vae, cvae, ae, dae) share these field names.
TINY_ENCODER_DECODER = ["latent_dim=4", "encoder_filters=[4,8]", "decoder_filters=[8,4]", "dense_units=16"]

FAMILY_CONFIGS = {
    "dcgan": {
        "set": ["latent_dim=8", "projection_filters=16", "generator_filters=[8]", "discriminator_filters=[8,16]"],
        "dataset": "npz",
    },
    "cgan": {
        "set": [
            "latent_dim=8", "projection_filters=16", "generator_filters=[8]", "discriminator_filters=[8,16]",
            "label_embedding_dim=4", "spectral_norm=true", "loss=hinge",
        ],
        "dataset": "npz",
    },
    "wgan-gp": {
        "set": [
            "latent_dim=8", "projection_filters=16", "generator_filters=[8]", "discriminator_filters=[8,16]",
            "n_critic=2",
        ],
        "dataset": "npz",
    },
    "char-lstm": {
        "set": ["units=16", "embedding_dim=8", "sequence_length=16", "dropout=0.1"],
        "dataset": "text",
    },
    "word-lstm": {
        "set": ["units=16", "embedding_dim=8", "sequence_length=8", "max_vocabulary=200", "layers=2", "cell=gru"],
        "dataset": "text",
    },
    "vae": {"set": [*TINY_ENCODER_DECODER], "dataset": "npz"},
    "beta-vae": {"set": [*TINY_ENCODER_DECODER, "kl_warmup_steps=10", "decoder=gaussian"], "dataset": "npz"},
    "cvae": {"set": [*TINY_ENCODER_DECODER, "label_embedding_dim=4"], "dataset": "npz"},
    "ae": {"set": [*TINY_ENCODER_DECODER], "dataset": "npz"},
    "dae": {"set": [*TINY_ENCODER_DECODER, "noise=salt_and_pepper"], "dataset": "npz"},
}
