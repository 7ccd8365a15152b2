"""COCO RLE of instance masks: pycocotools' own encoding, as JSON-ready text, read back exactly."""
import json

import numpy as np
from pycocotools import mask as mask_utils

from nnlab.data.boxes.rle import decode_rle, encode_rle, rle_area


def test_rle_is_pycocotools_encoding_as_text_and_round_trips():
    rng = np.random.default_rng(0)
    for shape in [(7, 5), (1, 1), (30, 41)]:
        mask = rng.random(shape) < 0.3
        rle = encode_rle(mask)
        reference = mask_utils.encode(np.asfortranarray(mask.astype(np.uint8)))
        assert rle == {"size": list(shape), "counts": reference["counts"].decode("ascii")}
        assert json.loads(json.dumps(rle)) == rle  # plain JSON
        assert np.array_equal(decode_rle(rle), mask)
        assert rle_area(rle) == mask.sum()


def test_empty_and_full_masks():
    for mask in (np.zeros((4, 6), bool), np.ones((4, 6), bool)):
        assert np.array_equal(decode_rle(encode_rle(mask)), mask)
