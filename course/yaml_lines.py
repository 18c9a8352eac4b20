"""Read a YAML course file once: its data, and the line of any field or list item in it.

A problem found in the data names a path such as ("mistakes", 2, "feedback"); `YamlFile.line`
turns that path into the line an author opens. Both come from one compose of the text, so the
data and the lines cannot disagree and no file is parsed twice.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import yaml

FieldPath = Sequence[str | int]


class YamlSyntaxError(ValueError):
    """The text is not valid YAML; line is where the parser noticed, 1-based."""

    def __init__(self, line: int, problem: str) -> None:
        super().__init__(f"line {line}: {problem}")
        self.line = line
        self.problem = problem


@dataclass(frozen=True)
class YamlFile:
    """One YAML document: the data it holds and the node tree it was built from."""

    data: Any
    root: yaml.Node | None
    line_offset: int = 0  # lines before the text in its file (a lesson's front matter)

    def line(self, path: FieldPath = ()) -> int:
        """Return the line of the field or item at path (1-based, in the whole file).

        A key names the line of the key; a list index the line where the item starts. Where the
        path leaves the file (a missing field), the line of the last place that exists; the empty
        path is the first line of the text.
        """
        line = 1
        node = self.root
        for part in path:
            if isinstance(node, yaml.MappingNode):
                found = [
                    (key, value)
                    for key, value in node.value
                    if isinstance(key, yaml.ScalarNode) and key.value == str(part)
                ]
                if not found:
                    break
                key, node = found[-1]  # YAML keeps the last of repeated keys
                line = key.start_mark.line + 1
            elif (
                isinstance(node, yaml.SequenceNode)
                and isinstance(part, int)
                and 0 <= part < len(node.value)
            ):
                node = node.value[part]
                line = node.start_mark.line + 1
            else:
                break
        return line + self.line_offset


# libyaml's parser (about 10× faster than the pure-Python one) where PyYAML was built with it; both
# give the same nodes with the same marks, and the safe constructor either way.
SafeLoader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def parse_yaml(text: str, *, line_offset: int = 0) -> YamlFile:
    """Parse text (safe tags only) into its data and lines; raise YamlSyntaxError if invalid."""
    loader = SafeLoader(text)
    try:
        root = loader.get_single_node()
        data = loader.construct_document(root) if root is not None else None
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        line = (mark.line + 1 if mark else 1) + line_offset
        raise YamlSyntaxError(line, getattr(error, "problem", None) or str(error)) from None
    finally:
        loader.dispose()
    return YamlFile(data, root, line_offset)
