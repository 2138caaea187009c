"""The bundled real model on real treebank data."""
import pytest

from lca.cache import ActivationCache
from lca.data import read_conllu
from lca.extract import load_model
from lca.pipeline import run_lca
from lca.result import RunConfig


@pytest.fixture(scope="module")
def ewt(shared_data):
    folder = shared_data / "ud_english_ewt"
    return read_conllu(folder / "en_ewt-ud-dev.conllu"), read_conllu(folder / "en_ewt-ud-test.conllu")


def test_bundled_model_on_an_ewt_slice(ewt, tmp_path):
    train, test = ewt[0].subset(range(150)), ewt[1].subset(range(60))
    config = RunConfig(task="upos", grid=(0.0, 1e-3), mode="paper", batch_size=64, step=0.05, device="cpu")
    result = run_lca(train, test, config, loaded=load_model(device="cpu"), cache=ActivationCache(tmp_path))
    assert result.n_layers == 7 and result.n_neurons == 7 * 384
    assert result.oracle_accuracy > result.majority_accuracy + 0.4
    assert result.ablation["top"] > result.ablation["bottom"]
    assert result.minimal["accuracy"] > result.majority_accuracy + 0.3


@pytest.mark.slow
def test_paper_figures_on_ewt_xpos(ewt, tmp_path):
    """Issue acceptance: EWT dev → test, xpos, the full paper grid (tens of minutes on 2 cores)."""
    result = run_lca(*ewt, RunConfig(task="xpos", mode="paper"), cache=ActivationCache(tmp_path))
    assert result.noreg_accuracy >= 0.92 and result.oracle_accuracy >= 0.90
    assert result.ablation["top"] > result.ablation["random"] > result.ablation["bottom"]
    assert result.oracle_accuracy - result.minimal["accuracy"] <= 0.01 and result.minimal["fraction"] <= 0.35
    assert result.selectivity["top"] > 0
