"""The function table is NNabla's own: read from its pickled table, it equals what NNabla's public YAML gives."""
import yaml

from nnsurgeon.graph.functions import function_info


def test_function_table_equals_nnablas_yaml():
    from nnabla.utils.converter.utils import get_category_info_string

    categories = yaml.load(get_category_info_string(), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    reference = {name: info for category in categories.values() for name, info in category.items()}
    table = function_info()
    assert list(table) == list(reference)
    assert table == reference
    assert table["Affine"]["arguments"]["base_axis"]["default"] == "1"
