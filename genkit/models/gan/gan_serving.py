"""What a GAN serves: ``serving_default(z[, label]) -> images`` in [0, 1], its inputs and outputs declared."""

from __future__ import annotations

from genkit.signatures import Endpoint, StandardNormal, TensorDeclaration
from genkit.tasks.image_generation import image_declaration


def gan_endpoints(model) -> dict[str, Endpoint]:
    """``{"serving_default": Endpoint}`` of ``model``: z drawn from a standard normal (and the class to generate for
    a class-conditional model), images from ``model.generate``."""
    z = TensorDeclaration("z", "latent", "float32", (model.latent_dim,), distribution=StandardNormal(),
                          description="the latent code")
    images = image_declaration("images", model.image_shape, "generated images")
    if model.num_classes:
        def serve_conditional(z, label):
            return {"images": model.generate(z, label)}

        return {"serving_default": Endpoint("serving_default", serve_conditional, (z, model.label_declaration()), (images,))}

    def serve(z):
        return {"images": model.generate(z)}

    return {"serving_default": Endpoint("serving_default", serve, (z,), (images,))}
