import numpy as np
import pytest

from lca.neurons import flat_to_layer_unit, layer_unit_to_flat, neuron_label, parse_neuron


def test_round_trip_every_neuron():
    flat = np.arange(7 * 384)
    half, layer, unit = flat_to_layer_unit(flat, 384, 7)
    assert (half == 0).all()
    assert [layer_unit_to_flat(int(l), int(u), 384, 7) for l, u in zip(layer[::97], unit[::97])] == flat[::97].tolist()


def test_pair_ids_name_the_dependent_half():
    assert neuron_label(7 * 384 + 385, 384, 7, pair=True) == "dep 1:1"
    assert neuron_label(385, 384, 7, pair=True) == "head 1:1"
    assert parse_neuron("dep 1:1", 384, 7) == 7 * 384 + 385


@pytest.mark.parametrize("text, match", [("7:0", "layer must be in"), ("0:384", "unit must be in"), ("abc", "layer:unit")])
def test_parse_errors(text, match):
    with pytest.raises(ValueError, match=match):
        parse_neuron(text, 384, 7)
