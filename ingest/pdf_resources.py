"""Where a page's resources are: /Resources inherited from an ancestor in the page tree
(ISO 32000-1 7.7.3.4), the appearance streams of its annotations, and which indirect objects
a walk has visited already, so shared and cyclic resources are walked once.
"""

from __future__ import annotations

import pikepdf


def inherited(node: pikepdf.Object, key: str) -> pikepdf.Object | None:
    for _ in range(32):  # ISO 32000-1 7.7.3.4: /Resources may sit on an ancestor
        if not isinstance(node, pikepdf.Dictionary):
            return None
        if key in node:
            return node.get(key)
        node = node.get("/Parent")
    return None


def appearance_streams(page: pikepdf.Object) -> list[pikepdf.Stream]:
    found: list[pikepdf.Stream] = []
    annots = page.get("/Annots")
    for annot in annots if isinstance(annots, pikepdf.Array) else []:
        appearance = annot.get("/AP") if isinstance(annot, pikepdf.Dictionary) else None
        for state in appearance.values() if isinstance(appearance, pikepdf.Dictionary) else []:
            found += ([state] if isinstance(state, pikepdf.Stream) else
                      [s for s in state.values() if isinstance(s, pikepdf.Stream)]
                      if isinstance(state, pikepdf.Dictionary) else [])
    return found


def visited(obj: pikepdf.Object, seen: set[tuple[int, int]]) -> bool:
    if not obj.is_indirect:
        return False
    if obj.objgen in seen:
        return True
    seen.add(obj.objgen)
    return False
