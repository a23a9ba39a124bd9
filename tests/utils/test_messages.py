from wsvol.utils.messages import differences


def test_differences_name_each_changed_leaf_by_its_dotted_key():
    old = {"a": 1, "b": {"c": [1, 2], "d": "x"}, "gone": 0}
    new = {"a": 1, "b": {"c": [1, 3], "d": "x"}, "new": {"e": None}}
    assert differences(old, new) == ["b.c: [1, 2] → [1, 3]", "gone: 0 → '<absent>'", "new: '<absent>' → {'e': None}"]
    assert differences(old, dict(old)) == []
    assert differences({"a": {"b": 1}}, {"a": 2}) == ["a: {'b': 1} → 2"]  # a dict replaced by a value
