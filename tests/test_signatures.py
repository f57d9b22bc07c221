"""Declared inputs and outputs (genkit.signatures): validation, descriptions, and recipes an app can follow."""

import numpy as np
import pytest

from genkit.signatures import ClassCycle, Endpoint, StandardNormal, TensorDeclaration


def test_a_declaration_names_what_is_wrong():
    with pytest.raises(ValueError, match="TensorDeclaration 'z': modality must be one of image, .*Received: modality='noise'"):
        TensorDeclaration("z", "noise", "float32", (4,))
    with pytest.raises(ValueError, match="Received: dtype='float64'"):
        TensorDeclaration("z", "latent", "float64", (4,))


def test_descriptions_carry_modality_range_and_the_drawing_recipe():
    z = TensorDeclaration("z", "latent", "float32", (3,), distribution=StandardNormal())
    label = TensorDeclaration("label", "label", "int32", (), value_range=(0, 9), distribution=ClassCycle(10))
    tokens = TensorDeclaration("tokens", "tokens", "int32", (None,))
    assert tokens.describe() == {"dtype": "int32", "shape": [None, None], "modality": "tokens"}
    assert label.describe()["range"] == [0.0, 9.0] and label.describe()["sampling"]["num_classes"] == 10
    assert tokens.tensor_spec().shape.as_list() == [None, None]
    # The recipe in genkit.json is the code that draws the values: an app that runs it gets genkit's samples.
    for declaration in (z, label):
        recipe = declaration.describe()["sampling"]["numpy"]
        drawn = eval(recipe, {"np": np, "n": 7, "seed": 5})  # noqa: S307 - our own recipe
        np.testing.assert_array_equal(drawn, declaration.draw(7, 5))
    with pytest.raises(ValueError, match="input 'tokens' declares no distribution"):
        tokens.draw(2, 0)


def test_an_endpoint_runs_on_numpy_and_describes_itself():
    x = TensorDeclaration("x", "latent", "float32", (2,))
    y = TensorDeclaration("y", "latent", "float32", (2,), value_range=(0.0, 1.0))
    endpoint = Endpoint("double", lambda x: {"y": x * 2.0}, (x,), (y,), edge=False)
    assert endpoint.call({"x": np.ones((3, 2), np.float32)})["y"].tolist() == [[2.0, 2.0]] * 3
    assert endpoint.describe()["outputs"]["y"]["range"] == [0.0, 1.0]
    assert endpoint.input_names == ["x"] and endpoint.outputs_of("latent") == [y] and endpoint.serving
    assert [spec.name for spec in endpoint.input_signature] == ["x"]


def test_the_served_function_refuses_inputs_outside_their_declarations_naming_them():
    import tensorflow as tf

    z = TensorDeclaration("z", "latent", "float32", (2,), distribution=StandardNormal())
    label = TensorDeclaration("label", "label", "int32", (), value_range=(0, 9))
    image = TensorDeclaration("image", "image", "float32", (2,), value_range=(0.0, 1.0))
    endpoint = Endpoint("serving_default", lambda z, label, image: {"sum": z + tf.cast(label[:, None], tf.float32) + image},
                        (z, label, image), (TensorDeclaration("sum", "latent", "float32", (2,)),))
    served = tf.function(endpoint.checked_function, input_signature=endpoint.input_signature)
    good = {"z": np.zeros((1, 2), np.float32), "label": np.array([3], np.int32), "image": np.ones((1, 2), np.float32)}
    np.testing.assert_array_equal(endpoint.call(good, served)["sum"], [[4.0, 4.0]])
    for change, message in [({"z": [[np.nan, 0.0]]}, "input z must be finite"), ({"z": [[np.inf, 0.0]]}, "input z must be finite"),
                            ({"label": [10]}, r"input label must be in \[0, 9\]"), ({"label": [-1]}, r"input label must be in \[0, 9\]"),
                            ({"image": [[0.5, 255.0]]}, r"input image must be in \[0, 1\]")]:
        request = {**good, **{key: np.asarray(value, good[key].dtype) for key, value in change.items()}}
        with pytest.raises(tf.errors.InvalidArgumentError, match=message):
            endpoint.call(request, served)


def test_an_endpoint_with_max_rows_refuses_a_larger_request_and_says_so_in_its_description():
    import tensorflow as tf

    z = TensorDeclaration("z", "latent", "float32", (2,), distribution=StandardNormal())
    endpoint = Endpoint("decode", lambda z: {"out": z * 2}, (z,), (TensorDeclaration("out", "latent", "float32", (2,)),),
                        max_rows=3, row_name="codes")
    served = tf.function(endpoint.checked_function, input_signature=endpoint.input_signature)
    assert endpoint.call({"z": np.ones((3, 2), np.float32)}, served)["out"].shape == (3, 2)
    with pytest.raises(tf.errors.InvalidArgumentError, match="at most 3 codes per request"):
        endpoint.call({"z": np.ones((4, 2), np.float32)}, served)
    assert endpoint.describe()["max_rows"] == 3
    assert endpoint.call({"z": np.ones((4, 2), np.float32)})["out"].shape == (4, 2)  # the unchecked function (edge)


def test_the_run_folders_savedmodel_refuses_nan_noise(trained_run):
    import tensorflow as tf

    serve = tf.saved_model.load(str(trained_run / "serving" / "1")).signatures["serving_default"]
    z = np.random.default_rng(0).standard_normal((2, serve.structured_input_signature[1]["z"].shape[1])).astype(np.float32)
    assert serve(z=tf.constant(z))["images"].shape[0] == 2
    z[1, 0] = np.nan
    with pytest.raises(tf.errors.InvalidArgumentError, match="input z must be finite"):
        serve(z=tf.constant(z))
