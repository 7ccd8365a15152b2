import pytest
import torch

from nnlab.experiments.studies import STUDIES, StudyContext
from nnlab.experiments.studies.autoencoder_pretraining import MODES, encoder_weights, run_pretraining
from nnlab.models import MODELS
from nnlab.models.generative import GENERATIVE


def test_the_encoder_maps_onto_the_classifier_features(tmp_path):
    assert "autoencoder-pretraining" in STUDIES.names()
    ae = GENERATIVE.build("autoencoder", in_chans=1, input_size=(8, 8), hidden=[256], latent=32)
    torch.save({"model": ae.state_dict()}, tmp_path / "ae.pt")
    state = torch.load(encoder_weights(tmp_path / "ae.pt", tmp_path / "enc.pt"), weights_only=True)["model"]
    clf = MODELS.build("mlp", num_classes=10, in_chans=1, input_size=(8, 8), hidden=[256])
    missing, unexpected = clf.load_state_dict(state, strict=False)
    assert missing == ["head.weight", "head.bias"] and not unexpected
    x = torch.randn(3, 1, 8, 8)
    torch.testing.assert_close(clf.features(x.flatten(1)), ae.encoder[:3](x))  # the AE's hidden features


@pytest.mark.slow
def test_every_mode_runs_on_digits(tmp_path):
    acc = run_pretraining(StudyContext(tmp_path, log=lambda s: None), {"dataset": "digits"}, (5,), ae_epochs=1,
                          steps=8, repeats=1)
    assert set(acc) == {(m, 5) for m in MODES} and all(0 <= a[0] <= 1 for a in acc.values())
