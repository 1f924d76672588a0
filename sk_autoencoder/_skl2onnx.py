"""skl2onnx converters, so that whole pipelines containing our transformers
convert with ``skl2onnx.to_onnx``.

skl2onnx builds one graph from per-estimator converters. Ours exports the
encoder with ``torch.onnx`` (``_onnx.py``) and copies its initializers and
nodes into skl2onnx's container under fresh, scope-unique names, wiring the
encoder's input and output to the operator's variables. (skl2onnx has no
call that takes a sub-model as it is; copying nodes is what its own
converters do, node by node.)
"""

from ._data import import_optional
from ._onnx import OPSET, to_onnx
from ._transformer import AutoencoderTransformer
from ._variational import VariationalAutoencoderTransformer

CONVERTED = (AutoencoderTransformer, VariationalAutoencoderTransformer)


def register_onnx_converters():
    """Teach skl2onnx to convert AutoencoderTransformer and its VAE sibling.

    Call once before ``skl2onnx.to_onnx`` (or ``convert_sklearn``) on a
    :class:`~sklearn.pipeline.Pipeline` or
    :class:`~sklearn.compose.ColumnTransformer` that contains them. The
    transformer's step becomes the encoder's graph (float32; double input is
    cast to float32 and the codes back to double).

    Examples
    --------
    >>> import numpy as np
    >>> import onnxruntime as ort
    >>> import skl2onnx
    >>> from sklearn.datasets import load_digits
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sklearn.pipeline import make_pipeline
    >>> from sk_autoencoder import AutoencoderTransformer, register_onnx_converters
    >>> X, y = load_digits(return_X_y=True)
    >>> X = (X / 16).astype(np.float32)
    >>> pipe = make_pipeline(AutoencoderTransformer(8, max_iter=5, random_state=0),
    ...                      LogisticRegression(max_iter=500)).fit(X, y)
    >>> register_onnx_converters()
    >>> onx = skl2onnx.to_onnx(pipe, X[:1], target_opset=18)
    >>> session = ort.InferenceSession(onx.SerializeToString())
    >>> labels = session.run(None, {"X": X[:50]})[0]
    >>> bool((labels == pipe.predict(X[:50])).all())
    True
    """
    skl2onnx = import_optional("skl2onnx", "export")
    for cls in CONVERTED:
        skl2onnx.update_registered_converter(
            cls, f"SkAutoencoder{cls.__name__}", _shape_calculator, _converter
        )


def _shape_calculator(operator):
    from skl2onnx.common.data_types import DoubleTensorType, FloatTensorType

    estimator = operator.raw_operator
    input_type = operator.inputs[0].type
    if not isinstance(input_type, (FloatTensorType, DoubleTensorType)):
        raise TypeError(
            f"{type(estimator).__name__} converts float or double tensors, got "
            f"{type(input_type).__name__}."
        )
    n_rows = operator.inputs[0].get_first_dimension()
    operator.outputs[0].type = type(input_type)([n_rows, estimator.n_components_])


def _converter(scope, operator, container):
    from onnx import TensorProto, helper
    from skl2onnx.common.data_types import DoubleTensorType

    if container.target_opset < OPSET:
        raise RuntimeError(
            f"sk_autoencoder's ONNX graphs need target_opset >= {OPSET}, got "
            f"{container.target_opset}."
        )
    model = to_onnx(operator.raw_operator, "encoder")
    graph = model.graph
    double = isinstance(operator.inputs[0].type, DoubleTensorType)
    source, target = operator.inputs[0].full_name, operator.outputs[0].full_name
    if double:
        cast_in = scope.get_unique_variable_name("sk_autoencoder_float_input")
        container.add_node("Cast", [source], [cast_in], to=TensorProto.FLOAT)
        source = cast_in
        codes = scope.get_unique_variable_name("sk_autoencoder_float_codes")
    else:
        codes = target
    names = {graph.input[0].name: source, graph.output[0].name: codes, "": ""}
    prefix = scope.get_unique_operator_name(type(operator.raw_operator).__name__)

    def rename(name):
        if name not in names:
            names[name] = scope.get_unique_variable_name(f"{prefix}_{name}")
        return names[name]

    for tensor in graph.initializer:
        container.add_initializer(rename(tensor.name), tensor.data_type, list(tensor.dims), tensor)
    for node in graph.node:
        attributes = {a.name: helper.get_attribute_value(a) for a in node.attribute}
        container.add_node(
            node.op_type,
            [rename(name) for name in node.input],
            [rename(name) for name in node.output],
            op_domain=node.domain,
            op_version=OPSET,
            name=scope.get_unique_operator_name(f"{prefix}_{node.op_type}"),
            **attributes,
        )
    if double:
        container.add_node("Cast", [codes], [target], to=TensorProto.DOUBLE)
