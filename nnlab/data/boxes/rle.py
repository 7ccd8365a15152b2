"""Instance masks as COCO run-length encoding (the ``segmentation`` of COCO's results format): compact, JSON-ready,
and read back by any COCO tool (``pycocotools.mask.decode``)."""
from __future__ import annotations

import warnings
from typing import Any

import numpy as np


def encode_rle(mask: np.ndarray) -> dict[str, Any]:
    """A (H, W) bool / 0-1 mask -> ``{"size": [H, W], "counts": str}``: pycocotools' compressed RLE (runs counted
    down the columns, starting with background), its counts as ASCII text."""
    from pycocotools import mask as mask_utils  # deferred: only instance masks need it

    rle = mask_utils.encode(np.asfortranarray(mask, dtype=np.uint8))
    return {"size": [int(v) for v in rle["size"]], "counts": rle["counts"].decode("ascii")}


def decode_rle(rle: dict[str, Any]) -> np.ndarray:
    """``encode_rle``'s output (or any COCO compressed RLE) -> (H, W) bool."""
    from pycocotools import mask as mask_utils

    with warnings.catch_warnings():  # pycocotools' own numpy-2 notice about np.array(copy=False)
        warnings.simplefilter("ignore", DeprecationWarning)
        return mask_utils.decode(_coco(rle)).astype(bool)


def rle_area(rle: dict[str, Any]) -> int:
    """How many pixels ``encode_rle``'s mask covers (from the runs, without decoding)."""
    from pycocotools import mask as mask_utils

    return int(mask_utils.area(_coco(rle)))


def _coco(rle: dict[str, Any]) -> dict[str, Any]:
    """``encode_rle``'s JSON form (or pycocotools' own) -> what pycocotools takes: counts as bytes."""
    counts = rle["counts"]
    return {"size": list(rle["size"]), "counts": counts.encode("ascii") if isinstance(counts, str) else counts}
