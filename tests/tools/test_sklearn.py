"""The scikit-learn estimators: scikit-learn's own checks, Network.SGD's weights, labels, pipelines."""

import os
import pickle

import numpy as np
import pytest

sklearn = pytest.importorskip("sklearn", reason="scikit-learn not installed (pip install 'nnaccel[sklearn]')")

from sklearn.datasets import load_breast_cancer  # noqa: E402
from sklearn.model_selection import GridSearchCV  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402
from sklearn.utils.estimator_checks import parametrize_with_checks  # noqa: E402

import nnaccel  # noqa: E402
from nnaccel.backend import cuda_available  # noqa: E402
from nnaccel.tools.sklearn import NNAccelClassifier, NNAccelRegressor, expected_failed_checks  # noqa: E402


@parametrize_with_checks([NNAccelClassifier(), NNAccelRegressor()],
                         expected_failed_checks=expected_failed_checks)
def test_scikit_learn_estimator_checks(estimator, check):
    check(estimator)


# scikit-learn's array_api_dispatch refuses to start unless SciPy's array API mode was on at import.
needs_array_api = pytest.mark.skipif(os.environ.get("SCIPY_ARRAY_API") != "1",
                                     reason="array_api_dispatch needs SCIPY_ARRAY_API=1 set before scipy is imported")


def _data(n=60, features=12, classes=4, seed=7):
    rng = np.random.default_rng(seed)
    return rng.random((n, features)), rng.integers(0, classes, n)


@pytest.mark.parametrize("cost, output", [("log-likelihood", "softmax"), ("cross-entropy", "sigmoid")])
def test_fit_gives_the_weights_of_network_SGD_on_the_same_data_seed_and_settings(cost, output):
    x, y = _data()
    clf = NNAccelClassifier(sizes=(7, 5), epochs=4, mini_batch_size=10, eta=0.4, lmbda=0.3,
                            cost=cost, momentum=0.5, device="cpu", dtype="float64",
                            random_state=11).fit(x, y)
    net = nnaccel.Network([12, 7, 5, 4], cost=cost, output_activation=output, device="cpu",
                          dtype="float64", seed=11)
    net.SGD((x, y), 4, 10, 0.4, lmbda=0.3, momentum=0.5)
    for got, want in zip(clf.network_.parameters_numpy(), net.parameters_numpy()):
        for g, w in zip(got, want):
            np.testing.assert_allclose(g, w, rtol=1e-12, atol=1e-12)


def test_dropout_trains_as_network_SGD_with_dropout_and_predicts_with_the_scaled_weights():
    """dropout=p: the same masks from the same seed, so the same weights; predictions use 1 − p."""
    x, y = _data()
    clf = NNAccelClassifier(sizes=(8,), epochs=3, eta=0.4, dropout=0.5, device="cpu", dtype="float64",
                            random_state=3)
    net = nnaccel.Network([12, 8, 4], cost="log-likelihood", output_activation="softmax", device="cpu",
                          dtype="float64", seed=3)
    clf.fit(x, y)
    net.SGD((x, y), 3, 10, 0.4, dropout=0.5)
    for got, want in zip(clf.network_.parameters_numpy(), net.parameters_numpy()):
        for g, w in zip(got, want):
            np.testing.assert_allclose(g, w, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(clf.predict_proba(x), net.backend.to_numpy(net.feedforward(x)), rtol=1e-12)


def test_regressor_trains_linear_outputs_with_the_quadratic_cost_as_network_SGD():
    x, _ = _data()
    targets = np.stack([x[:, 0] - x[:, 1], 2 * x[:, 2]], axis=1)
    reg = NNAccelRegressor(sizes=(6,), epochs=3, eta=0.2, device="cpu", dtype="float64",
                           random_state=5).fit(x, targets)
    net = nnaccel.Network([12, 6, 2], cost="quadratic", output_activation="linear", device="cpu",
                          dtype="float64", seed=5)
    net.SGD((x, targets), 3, 10, 0.2)
    np.testing.assert_allclose(reg.predict(x), net.backend.to_numpy(net.feedforward(x)), rtol=1e-12, atol=1e-12)
    assert reg.predict(x).shape == (60, 2)


def test_three_partial_fits_are_three_epochs_of_fit():
    """Each partial_fit is one epoch continuing the same shuffling generator (momentum 0)."""
    x, y = _data()
    settings = dict(sizes=(5,), eta=0.5, device="cpu", dtype="float64", random_state=2)
    whole = NNAccelClassifier(epochs=3, **settings).fit(x, y)
    steps = NNAccelClassifier(**settings)
    for _ in range(3):
        steps.partial_fit(x, y, classes=np.arange(4))
    np.testing.assert_allclose(steps.predict_proba(x), whole.predict_proba(x), rtol=1e-12)
    assert steps.n_iter_ == 3 and len(steps.loss_curve_) == 3


def test_partial_fit_needs_the_classes_on_its_first_call():
    x, y = _data()
    with pytest.raises(ValueError, match="classes"):
        NNAccelClassifier().partial_fit(x, y)


def test_any_label_values_map_to_classes_and_back():
    x, y = _data(classes=3)
    names = np.array(["cat", "dog", "emu"])[y]
    clf = NNAccelClassifier(epochs=40, random_state=0).fit(x, names)
    assert clf.classes_.tolist() == ["cat", "dog", "emu"]
    assert set(clf.predict(x)) <= {"cat", "dog", "emu"}
    proba = clf.predict_proba(x)
    np.testing.assert_array_equal(clf.classes_[np.argmax(proba, axis=1)], clf.predict(x))


def test_sigmoid_outputs_are_normalised_one_vs_rest_into_probabilities():
    x, y = _data()
    clf = NNAccelClassifier(cost="cross-entropy", epochs=2, dtype="float64", random_state=0).fit(x, y)
    a = clf.network_.backend.to_numpy(clf.network_.feedforward(x))
    np.testing.assert_allclose(clf.predict_proba(x), a / a.sum(axis=1, keepdims=True), rtol=1e-12)


def test_tabular_features_far_outside_0_1_are_taken_as_they_come_but_nan_is_refused():
    x, y = _data()
    clf = NNAccelClassifier(epochs=1, dtype="float64", random_state=0).fit(1000.0 * x - 500.0, y)
    assert clf.predict(x).shape == (60,)
    x[3, 2] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        NNAccelClassifier(epochs=1).fit(x, y)


def test_a_pickled_estimator_predicts_the_same():
    x, y = _data()
    clf = NNAccelClassifier(epochs=3, random_state=1).fit(x, y)
    again = pickle.loads(pickle.dumps(clf))
    np.testing.assert_array_equal(again.predict_proba(x), clf.predict_proba(x))


def test_early_stopping_keeps_the_best_epoch_on_a_held_out_fraction():
    x, y = _data(n=200)
    clf = NNAccelClassifier(epochs=40, early_stopping=3, validation_fraction=0.2, random_state=0).fit(x, y)
    assert 4 <= clf.n_iter_ <= 40 and len(clf.validation_scores_) == clf.n_iter_


def test_grid_search_over_a_pipeline_with_a_standard_scaler():
    """Breast-cancer features run up to thousands; scaled, the book's first network reaches > 95 %."""
    X, y = load_breast_cancer(return_X_y=True)
    pipe = make_pipeline(StandardScaler(), NNAccelClassifier(epochs=10, random_state=0))
    search = GridSearchCV(pipe, {"nnaccelclassifier__eta": [0.05, 0.5], "nnaccelclassifier__sizes": [(10,), (30,)]},
                          cv=3)
    search.fit(X, y)
    assert search.best_score_ > 0.95
    assert set(search.best_estimator_.predict(X[:5])) <= {0, 1}


def test_regressor_in_a_pipeline_fits_two_outputs():
    rng = np.random.default_rng(0)
    X = rng.uniform(-3, 3, (400, 1))
    y = np.hstack([np.sin(X), np.cos(X)])
    pipe = make_pipeline(StandardScaler(), NNAccelRegressor(epochs=200, random_state=0))
    assert pipe.fit(X, y).score(X, y) > 0.9


@needs_array_api
def test_with_array_api_dispatch_torch_tensors_train_with_torch_on_their_device():
    torch = pytest.importorskip("torch", reason="PyTorch not installed")
    x, y = _data()
    settings = dict(sizes=(5,), epochs=3, device="cpu", dtype="float64", random_state=4)
    on_numpy = NNAccelClassifier(**settings).fit(x, y)
    with sklearn.config_context(array_api_dispatch=True):
        clf = NNAccelClassifier(**settings).fit(torch.asarray(x), torch.asarray(y))
        proba = clf.predict_proba(torch.asarray(x))
        labels = clf.predict(torch.asarray(x))
        with pytest.raises(ValueError, match="same namespace"):
            clf.predict(x)
    assert clf.network_.backend.name == "torch"
    assert isinstance(proba, torch.Tensor) and proba.device.type == "cpu"
    assert isinstance(labels, torch.Tensor)
    np.testing.assert_allclose(proba.numpy(), on_numpy.predict_proba(x), rtol=1e-9)


@needs_array_api
@pytest.mark.cuda
@pytest.mark.skipif(not cuda_available(), reason="no CUDA GPU (cupy.cuda.is_available() is false)")
def test_with_array_api_dispatch_cupy_arrays_train_on_their_gpu():
    import cupy

    x, y = _data()
    with sklearn.config_context(array_api_dispatch=True):
        clf = NNAccelRegressor(epochs=2, dtype="float64", random_state=0).fit(cupy.asarray(x), cupy.asarray(x[:, :2]))
        out = clf.predict(cupy.asarray(x))
    assert clf.network_.backend.name == "cupy" and isinstance(out, cupy.ndarray)


@needs_array_api
@pytest.mark.parametrize("namespace, device, dtype", [("numpy", None, None), ("torch", "cpu", "float64"),
                                                      ("torch", "cpu", "float32"),
                                                      ("array_api_strict", "CPU_DEVICE", "float64")])
@pytest.mark.parametrize("estimator", [NNAccelClassifier(), NNAccelRegressor()], ids=["classifier", "regressor"])
def test_array_api_input_check_passes_where_the_expected_failure_does_not_apply(estimator, namespace, device, dtype):
    """scikit-learn lists check_array_api_input once for all namespaces; these must pass outright."""
    from sklearn.utils.estimator_checks import check_array_api_input

    pytest.importorskip(namespace)
    check_array_api_input(type(estimator).__name__, estimator, namespace, device, dtype)
